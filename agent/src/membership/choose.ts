import type { MemberCard } from '../contract/index.js';

export type ReachState = 'ok' | 'failed' | 'unknown';

/**
 * The rendezvous rule (docs/membership.md), pure: walking the members in rank order, the first
 * one that is this host, the current rendezvous, or a broker whose last probe answered is the
 * target. A better-ranked member not probed lately is probed; while this host has no rendezvous
 * at all, such a member also holds the choice back (it waits for better candidates before
 * settling lower). Barred brokers (their cluster left this host out) are skipped.
 */
export function chooseRendezvous(
  ranked: readonly MemberCard[],
  o: { self: string; current: string | null; barred: ReadonlySet<string>; reach: (host: string) => ReachState },
): { target: MemberCard | null; probe: MemberCard[] } {
  let blocked = false;
  const probe: MemberCard[] = [];
  for (const c of ranked) {
    if (o.barred.has(c.host)) continue;
    if (c.host === o.self || c.host === o.current) return { target: blocked ? null : c, probe };
    const state = o.reach(c.host);
    if (state === 'ok') return { target: blocked ? null : c, probe };
    if (state === 'unknown') {
      probe.push(c);
      if (o.current === null) blocked = true;
    }
  }
  return { target: null, probe };
}

/** Refusals in a row of this host's own broker, and the time before which it is not tried again. */
export interface SelfRetry {
  failures: number;
  until: number;
}

/**
 * The wait after another refusal by this host's own broker (its certificate revoked, its broker
 * down): 100 ms, doubling up to the probe interval. An immediate retry made ~350 refused
 * handshakes a second, a core burnt on a Pi.
 */
export function selfRetry(prev: SelfRetry | null, now: number, probeIntervalMs: number): SelfRetry {
  const failures = (prev?.failures ?? 0) + 1;
  return { failures, until: now + Math.min(probeIntervalMs, 100 * 2 ** (failures - 1)) };
}
