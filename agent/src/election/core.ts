import type { MemberCard } from '../contract/index.js';
import { compareRank, explainRank } from '../membership/rank.js';
import { endpointUrl, type CcpAssignment, type CcpReport, type Claim } from '../contract/index.js';
import type { LocalCcpGoal } from '../ccp/goal.js';

/**
 * Election and CCP placement: pure functions of what an agent sees. No I/O, time passed in.
 *
 * - The primary of a cluster (the members meeting on one rendezvous broker) is its
 *   best-ranked member. It publishes a claim with a term; any change of primary or of CCP
 *   assignment takes a new term (highest seen + 1). Claims of older terms are ignored.
 * - The CCP is kept while it is reachable: a CCP counts as lost only when its host has left
 *   the view AND the primary's own probes of its endpoint fail. So a group that lost its
 *   primary (or an agent that crashed) keeps its CCP; a group cut off from it starts one.
 * - Several CCPs in one view (a heal): the one with the most followers wins, a tie goes to
 *   the older generation, then to rank. The others are archived by their hosts.
 * - A host whose CCP failed to start is skipped for placement for a while (bounded retries).
 */
export interface ViewMember {
  card: MemberCard;
  ccp: CcpReport | null;
  /** Members of the view it does not reach (null: not known). */
  unreachable?: string[] | null;
}

export interface ElectionInput {
  now: number;
  self: string;
  cluster: string;
  view: ViewMember[];
  /** The valid claim of the highest term seen on this broker, if any. */
  claim: Claim | null;
  /** The last CCP assignment this host knew (from disk, after a restart or a change of broker). */
  remembered: CcpAssignment | null;
  highestTerm: number;
  highestGeneration: number;
  /** Is the assigned CCP's endpoint reachable from this host (fresh probe)? null: not probed yet. */
  ccpReachable: boolean | null;
  /** Does the CCP host's agent answer (its broker)? When it does and the host is not in this
   * view, the host belongs to another cluster: its CCP is not ours. null: unknown. */
  ccpHostAgentAlive: boolean | null;
  /** Hosts whose CCP failed to start, with when that may be retried. */
  failed: ReadonlyMap<string, number>;
  /** Since when the view's membership has been unchanged. */
  viewStableSince: number;
  /** This host is alone in its view although its own link is up, and was in a larger view
   * less than the rejoin grace ago: a lost session, most likely. It does not start a CCP yet. */
  justLeftGroup: boolean;
  settleMs: number;
  port: number;
  configRevision: number;
  /** CCP endpoints whose host is dead by this host's heartbeats (liveness/core.ts `dead`): the
   * members that follow one come from no other side, there is no merge to wait for. */
  goneEndpoints?: readonly string[];
}

export type ElectionOutcome =
  | { role: 'follower'; primary: string | null }
  | { role: 'primary'; publish: Omit<Claim, 'ts'> | null; reason: string };

export function primaryOf(view: ViewMember[]): MemberCard | null {
  let best: MemberCard | null = null;
  for (const m of view) if (!best || compareRank(m.card, best) < 0) best = m.card;
  return best;
}

/** The CCP a merged view keeps: most followers, then the older generation, then rank. */
export function mergeWinner(view: ViewMember[], candidates: CcpAssignment[]): CcpAssignment | null {
  if (candidates.length === 0) return null;
  // A CCP's followers: the members whose report names its endpoint (generations of CCPs
  // started apart may coincide; endpoints do not).
  // The size its server reports covers followers not (yet) in this view.
  const followers = (c: CcpAssignment) =>
    Math.max(
      view.filter((m) => m.ccp && (m.ccp.endpoint === c.endpoint || (m.card.host === c.host && m.ccp.role === 'server'))).length,
      view.find((m) => m.card.host === c.host && m.ccp?.role === 'server')?.ccp?.clusterSize ?? 0,
    );
  const card = (h: string) => view.find((m) => m.card.host === h)?.card;
  return [...candidates].sort((a, b) => {
    const f = followers(b) - followers(a);
    if (f !== 0) return f;
    if (a.generation !== b.generation) return a.generation - b.generation;
    const ca = card(a.host);
    const cb = card(b.host);
    return ca && cb ? compareRank(ca, cb) : 0;
  })[0]!;
}

/**
 * The cluster a view makes: its members in rank order, each kept if it and every member kept
 * before it reach each other (from the members' `unreachable` reports). The best-ranked member
 * (the primary) is always kept. The others are excluded: in a non-transitive partition (A–B,
 * B–C, not A–C) the hosts that do not reach everyone leave and form a cluster of their own.
 */
export function cliqueOf(view: ViewMember[]): { clique: ViewMember[]; excluded: string[] } {
  const blocks = (a: ViewMember, b: ViewMember) => !!a.unreachable?.includes(b.card.host) || !!b.unreachable?.includes(a.card.host);
  const clique: ViewMember[] = [];
  const excluded: string[] = [];
  for (const m of [...view].sort((a, b) => compareRank(a.card, b.card))) {
    if (clique.every((c) => !blocks(c, m))) clique.push(m);
    else excluded.push(m.card.host);
  }
  return { clique, excluded: excluded.sort() };
}

export function decide(input: ElectionInput): ElectionOutcome {
  const primary = primaryOf(input.view);
  if (!primary || primary.host !== input.self) return { role: 'follower', primary: primary?.host ?? null };
  // Everything below is decided on the clique; the excluded members are named in the claim.
  const { clique, excluded } = cliqueOf(input.view);
  const i = { ...input, view: clique };

  const inView = (h: string) => i.view.some((m) => m.card.host === h);
  const members = i.view.map((m) => m.card.host).sort();
  // Running CCP servers reported in this view, and the one the current claim assigns.
  const servers: CcpAssignment[] = [];
  for (const m of i.view) {
    if (m.ccp?.role === 'server' && m.ccp.generation !== null && m.ccp.state !== 'failed' && !(i.failed.get(m.card.host)! > i.now)) {
      servers.push({ host: m.card.host, generation: m.ccp.generation, endpoint: m.ccp.endpoint ?? endpointUrl(m.card.address, i.port) });
    }
  }
  const current = i.claim?.ccp ?? i.remembered;
  const currentFailed = current ? (i.failed.get(current.host) ?? 0) > i.now || i.view.some((m) => m.card.host === current.host && m.ccp?.state === 'failed') : false;
  // Kept while its host is with us, or while it answers although its agent does not (the agent
  // crashed or restarts: the CCP outlives it). A host whose agent lives in another cluster
  // takes its CCP with it.
  // Reachable when this host's probes say so, or when any member of the view reports reaching it.
  const someoneReaches = current !== null && i.view.some((m) => m.card.host !== i.self && m.ccp?.endpoint === current.endpoint && m.ccp.reach === true);
  const reachable = someoneReaches ? true : i.ccpReachable;
  const currentAlive = current !== null && !currentFailed && (inView(current.host) || (reachable !== false && i.ccpHostAgentAlive !== true));
  if (!i.claim && current && !inView(current.host) && servers.length === 0 && i.ccpReachable === null) {
    // No claim on this broker yet, and the CCP known from before runs elsewhere: probe it first.
    return { role: 'primary', publish: null, reason: `probing the known CCP on ${current.host}` };
  }
  if (current && currentAlive && !servers.some((s) => s.host === current.host)) servers.push(current);

  let ccp: CcpAssignment | null;
  let placement: string;
  // Members that follow another CCP than ours, whatever its generation, come from another
  // cluster (a heal) whose server host may not be in this view yet: deciding now would re-point
  // them to ours before the merge rule could count them (an isolated host's newer CCP won over
  // the other side's, measured). A CCP whose host is gone (this host's heartbeats from it
  // stopped: a failover) brings no second side: its followers are this cluster's — unless a
  // member of the view reports reaching it: members arriving from the other side of a heal vouch
  // for their CCP, whatever this host's own stale heartbeats say.
  const vouched = (e: string) => i.view.some((m) => m.card.host !== i.self && m.ccp?.endpoint === e && m.ccp.reach === true);
  const gone = new Set((i.goneEndpoints ?? []).filter((e) => !vouched(e)));
  const otherFollowed = current !== null && i.view.some((m) => m.ccp?.role === 'agent' && m.ccp.endpoint !== null && m.ccp.endpoint !== current.endpoint && !gone.has(m.ccp.endpoint));
  if ((servers.length > 1 || otherFollowed) && i.now - i.viewStableSince < i.settleMs) {
    // Two CCPs meet (a heal): say nothing until the merged view has settled.
    return { role: 'primary', publish: null, reason: servers.length > 1 ? `${servers.length} CCPs met; waiting for the merged view to settle` : 'members follow another CCP; waiting for the merged view to settle' };
  } else if (servers.length > 0) {
    ccp = mergeWinner(i.view, servers)!;
    placement = servers.length > 1 ? `kept ${ccp.host} (generation ${ccp.generation}): ${servers.length} CCPs met; most followers, then the oldest generation wins` : ccp.host === current?.host && ccp.generation === current.generation ? (i.claim?.placement ?? `adopted the running CCP on ${ccp.host}`) : `adopted the running CCP on ${ccp.host} (generation ${ccp.generation})`;
  } else if (i.justLeftGroup) {
    return { role: 'primary', publish: null, reason: 'alone after losing the group; waiting to rejoin before starting a CCP' };
  } else if (!i.claim && !current && i.now - i.viewStableSince < i.settleMs) {
    // No CCP was ever known here: let the view settle, so that hosts booting one after another
    // do not each start a CCP of their own.
    return { role: 'primary', publish: null, reason: 'waiting for the view to settle before placing the first CCP' };
  } else {
    const eligible = i.view.map((m) => m.card).filter((c) => !((i.failed.get(c.host) ?? 0) > i.now)).sort(compareRank);
    const best = eligible[0];
    if (!best) {
      ccp = null;
      placement = 'no eligible host: every member failed to start the CCP recently';
    } else {
      ccp = { host: best.host, generation: i.highestGeneration + 1, endpoint: endpointUrl(best.address, i.port) };
      const runnerUp = eligible[1];
      placement = `new CCP on ${best.host}${current ? ` (generation ${current.generation} on ${current.host} lost)` : ''}: best host of ${eligible.length}${runnerUp ? ` (against ${runnerUp.host}: ${explainRank(best, runnerUp)})` : ''}`;
    }
  }
  // A member that saw a higher term (the other side of a healed partition) must be outbid.
  const outbid = i.claim !== null && i.claim.term < i.highestTerm;
  const same = i.claim !== null && !outbid && i.claim.primary === i.self && sameCcp(i.claim.ccp, ccp) && i.claim.members.join() === members.join() && (i.claim.excluded ?? []).join() === excluded.join() && i.claim.configRevision === i.configRevision;
  if (same) return { role: 'primary', publish: null, reason: 'claim up to date' };
  const changedLeadership = !i.claim || outbid || i.claim.primary !== i.self || !sameCcp(i.claim.ccp, ccp);
  const term = changedLeadership ? i.highestTerm + 1 : i.claim!.term;
  return {
    role: 'primary',
    publish: { v: 1, cluster: i.cluster, term, primary: i.self, members, ...(excluded.length > 0 ? { excluded } : {}), ccp, placement, configRevision: i.configRevision },
    reason: changedLeadership ? 'new term' : 'membership changed',
  };
}

function sameCcp(a: CcpAssignment | null, b: CcpAssignment | null): boolean {
  return a === b || (a !== null && b !== null && a.host === b.host && a.generation === b.generation && a.endpoint === b.endpoint);
}

/**
 * What this host should run, given the claim it follows. A claim binds its members only: a host
 * that is not among them (it has just joined the claimant's broker, after a heal) keeps what it
 * runs — its own CCP included — until a claim made with it in view says otherwise. Otherwise a
 * primary that decided before the other side's CCP host appeared in its view would make that
 * host archive its CCP without the merge rule ever comparing the two.
 */
export function localGoal(self: string, claim: Claim | null): LocalCcpGoal {
  if (!claim?.ccp || !claim.members.includes(self)) return { role: 'keep' };
  return claim.ccp.host === self ? { role: 'server', assignment: claim.ccp } : { role: 'agent', assignment: claim.ccp };
}

/**
 * The size of the cluster this host's CCP serves, for its presence (the merge rule compares
 * it, whatever the view). Kept across a change of broker (claims are per broker), since that is
 * when a merge compares sizes. A host whose own link is down serves itself only: cut off before
 * its side could claim the smaller cluster, it must not carry the old size into the merge when
 * the cable is back. Null when this host runs no server.
 */
export function servedClusterSize(prev: number | null, o: { self: string; claim: Claim | null; isolated: boolean; serving: boolean }): number | null {
  let size = prev;
  if (o.claim?.ccp?.host === o.self) size = o.claim.members.length;
  if (o.isolated && size !== null) size = 1;
  return o.serving ? size : null;
}
