import type { Claim, MemberCard } from '../contract/index.js';
import { compareRank } from '../membership/rank.js';

/**
 * The valid claim: the highest term among the verified claims of members of this view, none
 * older than the highest term this host has seen. Two claims of one term (a restarted primary
 * whose stored term lagged, meeting the one elected while it was away) are told apart by their
 * primaries' rank, the same way on every host. Pure.
 */
export function selectClaim(claims: Iterable<Claim>, view: readonly MemberCard[], highestTerm: number): Claim | null {
  const cards = new Map(view.map((c) => [c.host, c]));
  let best: Claim | null = null;
  for (const c of claims) {
    if (!cards.has(c.primary) || c.term < highestTerm) continue;
    if (!best || c.term > best.term || (c.term === best.term && compareRank(cards.get(c.primary)!, cards.get(best.primary)!) < 0)) best = c;
  }
  return best;
}

/**
 * Hosts whose CCP failed to start are skipped for placement until their retry time. Returns the
 * updated table and the hosts newly marked (for the log). Pure.
 */
export function noteFailedHosts(failed: ReadonlyMap<string, number>, reports: readonly { host: string; failed: boolean }[], now: number, retryMs: number): { failed: Map<string, number>; marked: string[] } {
  const out = new Map(failed);
  const marked: string[] = [];
  for (const r of reports) {
    if (r.failed && !((out.get(r.host) ?? 0) > now)) {
      out.set(r.host, now + retryMs);
      marked.push(r.host);
    }
  }
  return { failed: out, marked };
}
