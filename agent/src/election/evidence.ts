import type { MemberCard } from '../contract/index.js';
import { compareRank } from '../membership/rank.js';
import type { ViewMember } from './core.js';

/**
 * What this host's heartbeats tell the election about hosts outside its view: pure, with the
 * verdicts passed in (liveness/core.ts `dead`). Table-tested in test/unit/evidence.test.ts.
 */

/** The CCPs that members of the view follow whose host is dead by this host's heartbeats. */
export function goneEndpoints(view: ViewMember[], self: string, hostOf: (endpoint: string) => string | null, dead: (host: string) => boolean): string[] {
  const followed = new Set(view.map((m) => (m.ccp?.role === 'agent' ? m.ccp.endpoint : null)).filter((e): e is string => e !== null));
  return [...followed].filter((e) => {
    const h = hostOf(e);
    return h !== null && h !== self && dead(h);
  });
}

/** Is every known member ranked better than this host dead by its heartbeats (none can still be on its way)? */
export function noneBetterOnTheWay(self: MemberCard, known: MemberCard[], dead: (host: string) => boolean): boolean {
  return known.every((c) => c.host === self.host || compareRank(self, c) < 0 || dead(c.host));
}
