/**
 * The cluster's story as this agent sees it, pure with time passed in: from one situation to the
 * next (every tick), which events happened — a new primary, a CCP placed, lost, ready, a
 * failover, a merge, the members changing, this host cut off — and how long a failover took. The
 * duration runs from the moment the lost CCP's host was last heard (its last heartbeat: the
 * cable pull, to within a heartbeat) to the new CCP answering ready.
 */
export interface Situation {
  now: number;
  self: string;
  role: 'primary' | 'follower';
  primary: string | null;
  term: number;
  members: string[];
  ccp: { host: string; generation: number; ready: boolean } | null;
  /** The valid claim names this host among its members. One that does not (met on the broker
   * it has just moved to, at a heal) places no CCP for it (election/core.ts localGoal): this host's
   * CCP stays the one before, or a merge would be told kept before the merge rule has decided. */
  bound: boolean;
  /** This host's verdict on reaching the CCP (election/reach.ts). */
  ccpReach: boolean | null;
  /** How long a host has been silent (heartbeats); null when unknown or this host. */
  silentMs: (host: string) => number | null;
  isolated: boolean;
  /** Members the valid claim leaves out. */
  excluded: string[];
  /** This host's link's carrier (null: not watched). */
  carrier: boolean | null;
}

export interface TimelineEvent {
  name: 'primary-changed' | 'ccp-placed' | 'ccp-lost' | 'ccp-ready' | 'failover' | 'merged' | 'members-changed' | 'cut-off' | 'reconnected';
  fields: Record<string, unknown>;
}

type Ccp = { host: string; generation: number };
const same = (a: Ccp | null, b: Ccp | null) => a !== null && b !== null && a.host === b.host && a.generation === b.generation;

export class Timeline {
  private prev: Situation | null = null;
  /** The ready CCP this host last used, and since when it is lost (null: not lost). */
  private inUse: Ccp | null = null;
  private lostAt: number | null = null;

  /** Feeds one situation; returns what changed since the previous one. */
  step(situation: Situation): TimelineEvent[] {
    const s = situation.bound ? situation : { ...situation, ccp: this.prev?.ccp ?? null };
    const p = this.prev;
    this.prev = s;
    const out: TimelineEvent[] = [];
    if (!p) {
      if (s.ccp?.ready) this.inUse = { host: s.ccp.host, generation: s.ccp.generation };
      return out;
    }
    if (s.isolated && !p.isolated) out.push({ name: 'cut-off', fields: {} });
    if (!s.isolated && p.isolated) out.push({ name: 'reconnected', fields: {} });
    if (s.primary !== p.primary && s.primary !== null) out.push({ name: 'primary-changed', fields: { primary: s.primary, previous: p.primary, term: s.term } });
    const joined = s.members.filter((m) => !p.members.includes(m));
    const left = p.members.filter((m) => !s.members.includes(m));
    if (joined.length || left.length) out.push({ name: 'members-changed', fields: { members: s.members, joined, left } });
    const u = this.inUse;
    // Lost: its host left this host's cluster, or this host's probes give it up.
    if (u && this.lostAt === null && (!s.members.includes(u.host) || (s.ccpReach === false && same(s.ccp, u)))) {
      const silent = s.silentMs(u.host);
      this.lostAt = s.now - (silent ?? 0);
      out.push({ name: 'ccp-lost', fields: { host: u.host, generation: u.generation, silentMs: silent } });
    }
    if (s.ccp && !same(s.ccp, p.ccp)) out.push({ name: 'ccp-placed', fields: { host: s.ccp.host, generation: s.ccp.generation } });
    if (s.ccp?.ready && !(p.ccp?.ready && same(s.ccp, p.ccp))) {
      out.push({ name: 'ccp-ready', fields: { host: s.ccp.host, generation: s.ccp.generation } });
      if (u && !same(s.ccp, u)) {
        if (this.lostAt !== null) out.push({ name: 'failover', fields: { from: u.host, to: s.ccp.host, generation: s.ccp.generation, durationMs: s.now - this.lostAt } });
        else out.push({ name: 'merged', fields: { kept: `${s.ccp.host}#${s.ccp.generation}`, left: `${u.host}#${u.generation}`, members: s.members } });
      }
      this.inUse = { host: s.ccp.host, generation: s.ccp.generation };
      this.lostAt = null;
    }
    return out;
  }
}
