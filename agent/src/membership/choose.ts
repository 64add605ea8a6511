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
