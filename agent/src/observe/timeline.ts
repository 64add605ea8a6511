/**
 * The cluster's story as this agent sees it, pure with time passed in: from one situation to the
 * next (every tick), which events happened — a new primary, a CCP placed, lost, ready, the
 * members changing, this host cut off — and how long a failover took. The duration is measured
 * from the moment the lost CCP's host was last heard (its last heartbeat: the cable pull, to
 * within a heartbeat) or this host's own link went down, to the new CCP answering ready.
 */
export interface Situation {
  now: number;
  role: 'primary' | 'follower';
  primary: string | null;
  term: number;
  members: string[];
  ccp: { host: string; generation: number; ready: boolean } | null;
  /** This host's verdict on reaching the CCP (election/reach.ts). */
  ccpReach: boolean | null;
  /** How long the CCP's host has been silent (heartbeats), null when unknown or this host. */
  ccpHostSilentMs: number | null;
  isolated: boolean;
}

export interface TimelineEvent {
  name: 'primary-changed' | 'ccp-placed' | 'ccp-lost' | 'ccp-ready' | 'failover' | 'members-changed' | 'cut-off' | 'reconnected';
  fields: Record<string, unknown>;
}

export class Timeline {
  private prev: Situation | null = null;
  /** When the CCP in use was lost (and which), until a new one is ready. */
  private lost: { at: number; host: string; generation: number } | null = null;

  /** Feeds one situation; returns what changed since the previous one. */
  step(s: Situation): TimelineEvent[] {
    const p = this.prev;
    this.prev = s;
    const out: TimelineEvent[] = [];
    if (!p) return out;
    if (s.isolated && !p.isolated) {
      out.push({ name: 'cut-off', fields: {} });
      if (s.ccp && !this.lost) this.lost = { at: s.now, host: s.ccp.host, generation: s.ccp.generation };
    }
    if (!s.isolated && p.isolated) out.push({ name: 'reconnected', fields: {} });
    if (s.primary !== p.primary && s.primary !== null) out.push({ name: 'primary-changed', fields: { primary: s.primary, previous: p.primary, term: s.term } });
    const joined = s.members.filter((m) => !p.members.includes(m));
    const left = p.members.filter((m) => !s.members.includes(m));
    if (joined.length || left.length) out.push({ name: 'members-changed', fields: { members: s.members, joined, left } });
    if (s.ccpReach === false && p.ccpReach !== false && s.ccp && !this.lost) {
      const at = s.now - (s.ccpHostSilentMs ?? 0);
      this.lost = { at, host: s.ccp.host, generation: s.ccp.generation };
      out.push({ name: 'ccp-lost', fields: { host: s.ccp.host, generation: s.ccp.generation, silentMs: s.ccpHostSilentMs } });
    }
    const placed = s.ccp && (!p.ccp || p.ccp.host !== s.ccp.host || p.ccp.generation !== s.ccp.generation);
    if (placed) out.push({ name: 'ccp-placed', fields: { host: s.ccp!.host, generation: s.ccp!.generation, previous: p.ccp ? `${p.ccp.host}#${p.ccp.generation}` : null } });
    const readyNow = s.ccp?.ready === true && (placed || p.ccp?.ready !== true);
    if (readyNow) {
      out.push({ name: 'ccp-ready', fields: { host: s.ccp!.host, generation: s.ccp!.generation } });
      const l = this.lost;
      if (l && (l.host !== s.ccp!.host || l.generation !== s.ccp!.generation)) {
        out.push({ name: 'failover', fields: { from: l.host, to: s.ccp!.host, generation: s.ccp!.generation, durationMs: s.now - l.at } });
      }
      this.lost = null;
    }
    return out;
  }
}
