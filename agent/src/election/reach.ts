import type { Timings } from '../config/schema.js';

/**
 * Whether the CCP this host runs or follows counts as reachable, and when to probe it: pure
 * functions of the probe results, the CCP host's heartbeat silence and the time
 * (docs/election.md, "When the CCP counts as lost"). Table-tested in test/unit/reach.test.ts.
 */
export type ReachTimings = Pick<Timings, 'reachFreshMs' | 'ccpLossProbes' | 'ccpLossMs' | 'deadAfterMs' | 'ccpElsewhereMs' | 'ccpDeadProbeTimeoutMs'>;

/** The last probes of one CCP (by assignment key). */
export interface ReachRecord {
  key: string;
  ok: boolean;
  at: number;
  failures: number;
  failingSince: number | null;
  /** Since when a probe started after the last result has had no answer (null: none pending). */
  pendingSince?: number | null;
}

export function recordProbe(prev: ReachRecord | null, key: string, ok: boolean, now: number): ReachRecord {
  const same = prev?.key === key ? prev : null;
  return { key, ok, at: now, failures: ok ? 0 : (same?.failures ?? 0) + 1, failingSince: ok ? null : (same?.failingSince ?? now), pendingSince: null };
}

/** A probe of `key` has started (its answer comes to recordProbe). */
export function recordProbeStart(prev: ReachRecord | null, key: string, now: number): ReachRecord | null {
  if (prev?.key !== key) return prev;
  return { ...prev, pendingSince: prev.pendingSince ?? now };
}

/**
 * Reachability of the CCP `key` as the election sees it: true on a fresh success; null while
 * unknown; false after ccpLossProbes consecutive failures spanning ccpLossMs (one lost probe is
 * not a failover) — or at once on a failure while the CCP host has sent no heartbeat for
 * deadAfterMs: ten lost heartbeats in a row and a failed connect are a host that is gone, not a
 * lossy link. A success from before the CCP host fell silent says nothing about now. (An agent
 * that merely died leaves its CCP answering: the probe succeeds.) `silentMs` is null when the
 * CCP runs here, or its host was never heard (heartbeats filtered or off).
 */
export function reachVerdict(rec: ReachRecord | null, key: string, silentMs: number | null, now: number, t: ReachTimings): boolean | null {
  if (!rec || rec.key !== key || now - rec.at > t.reachFreshMs) return null;
  const quiet = silentMs !== null && silentMs >= t.deadAfterMs;
  if (rec.ok) {
    if (quiet && now - rec.at >= silentMs) return null;
    // A success after the last heartbeat vouches for the CCP, but not once a later probe has gone
    // unanswered for ccpDeadProbeTimeoutMs while the heartbeats are still missing (a connect on a
    // LAN answers in milliseconds): a member whose last probe happened to follow its last
    // heartbeat from a host that was then cut reported it reachable until that probe's 1.5 s
    // deadline, and the primary kept the lost CCP that long (measured: ~1 s of half the
    // failovers of a CCP host that is not the primary).
    if (quiet && rec.pendingSince != null && now - rec.pendingSince >= t.ccpDeadProbeTimeoutMs) return null;
    return true;
  }
  if (rec.failures >= t.ccpLossProbes && rec.failingSince !== null && now - rec.failingSince >= t.ccpLossMs) return false;
  return quiet ? false : null;
}

/** The last probe of the CCP host's agent (its broker port). */
export interface AgentProbeRecord {
  host: string;
  ok: boolean;
  at: number;
  /** Since when it has answered while out of this view. */
  elsewhereSince: number | null;
}

export function recordAgentProbe(prev: AgentProbeRecord | null, host: string, ok: boolean, now: number): AgentProbeRecord {
  const same = prev?.host === host ? prev : null;
  return { host, ok, at: now, elsewhereSince: ok ? (same?.elsewhereSince ?? now) : null };
}

/**
 * Does the CCP host's agent live in another cluster? It answers but is not in this view — or it
 * just restarted and is about to be joined: only when that has lasted ccpElsewhereMs does it
 * count. Returns the verdict (true: alive, and in view or elsewhere for long enough; false:
 * does not answer; null: unknown or not long enough) and the record to keep.
 */
export function agentElsewhere(rec: AgentProbeRecord | null, host: string, inView: boolean, now: number, t: ReachTimings): { alive: boolean | null; rec: AgentProbeRecord | null } {
  if (!rec || rec.host !== host || now - rec.at > t.reachFreshMs) return { alive: null, rec };
  if (!rec.ok) return { alive: false, rec };
  if (inView) return { alive: true, rec: { ...rec, elsewhereSince: null } };
  const since = rec.elsewhereSince ?? now;
  return { alive: now - since >= t.ccpElsewhereMs ? true : null, rec: { ...rec, elsewhereSince: since } };
}

/**
 * The deadline of a probe of the CCP: ccpProbeTimeoutMs (a lossy link may need a SYN again),
 * or ccpDeadProbeTimeoutMs once its host is dead by its heartbeats (`dead`: ten of them missed,
 * liveness/core.ts `dead`) — then a single failure decides (reachVerdict), and waiting 1.5 s for a
 * connect to a host whose cable is out was most of the time between the verdict and the second
 * CCP. Such a probe does not wait for one already in flight (started with the long deadline).
 * While its heartbeats pause (`untilDeadMs`: how long until that verdict, if it stays silent),
 * a probe ends when the verdict would come (never sooner than ccpDeadProbeTimeoutMs): a cut
 * cable's failed probe is then there with the verdict, not 300 ms after it (measured: most of
 * the new primary's time after the verdict). A failure before the verdict decides nothing by
 * itself (reachVerdict: heartbeats or two failures over ccpLossMs).
 */
export function probeDeadline(dead: boolean, t: Pick<Timings, 'ccpProbeTimeoutMs' | 'ccpDeadProbeTimeoutMs'>, untilDeadMs: number | null = null): { timeoutMs: number; dead: boolean } {
  const short = Math.min(t.ccpDeadProbeTimeoutMs, t.ccpProbeTimeoutMs);
  if (dead) return { timeoutMs: short, dead };
  if (untilDeadMs !== null) return { timeoutMs: Math.min(Math.max(untilDeadMs, short), t.ccpProbeTimeoutMs), dead };
  return { timeoutMs: t.ccpProbeTimeoutMs, dead };
}

/**
 * When the CCP is probed: every ccpFastProbeMs while a decision may hang on it (`calm` false:
 * this host's own server is not ready yet, or the CCP host is out of the view or its heartbeats
 * pause); every ccpProbeMs otherwise. One probe at a time.
 */
export function probeDue(now: number, s: { inFlight: boolean; calm: boolean; lastCalmProbe: number }, t: Pick<Timings, 'ccpProbeMs'>): boolean {
  if (s.inFlight) return false;
  return !s.calm || now - s.lastCalmProbe >= t.ccpProbeMs;
}
