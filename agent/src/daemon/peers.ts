import type { LivenessEvent, Reach, WatchedPeer } from '../liveness/core.js';
import type { Logger } from '../log/logger.js';
import type { Action, MembershipCore } from '../membership/core.js';
import type { Clock } from '../util/clock.js';

/** The heartbeats (liveness/shell.ts) as the peer watch uses them. */
export interface LivenessPort {
  watch(peers: WatchedPeer[]): void;
  reach(host: string): Reach;
}

/** This host's broker (broker/broker.ts) as the peer watch uses it. */
export interface BrokerPort {
  clientHosts(): string[];
  /** Closes `host`'s connections as a lapsed keepalive would (its will is published). */
  evict(host: string): number;
}

export interface PeerWatchDeps {
  self: string;
  log: Logger;
  clock: Clock;
  liveness: LivenessPort;
  broker: BrokerPort;
  core: MembershipCore;
  /** The host whose broker this agent is a client of. */
  rendezvous: () => string | null;
  /** The host of the CCP this agent runs or follows. */
  ccpHost: () => string | null;
  run: (actions: Action[]) => void;
  /** Ends the session to the rendezvous as lost. */
  dropSession: (reason: string) => void;
  presenceChanged: () => void;
  /** How long an excluded host stays away at most before it tries the broker again. */
  excludedRetryMs: number;
  /** Something for the timeline (a peer declared dead). */
  event?: (name: string, fields: Record<string, unknown>) => void;
}

/**
 * The agent's side of liveness/ (docs/liveness.md): which peers it watches, what a dead peer
 * ends, whom this host reaches (for its presence), and leaving — and returning to — a broker
 * whose cluster left this host out.
 */
export class PeerWatch {
  /** The members of the view this host last reported it does not reach (null: cannot judge). */
  unreachable: string[] | null = null;
  /** A broker whose cluster left this host out, that cluster's members, and the claim that did. */
  exclusion: { host: string; members: string[]; since: number; claim: string } | null = null;
  /** The broker this host went back to after an exclusion, and the claim that had left it out. */
  private returned: { host: string; claim: string } | null = null;

  constructor(private readonly d: PeerWatchDeps) {}

  private online(): string[] {
    return [...this.d.core.members.values()].filter((m) => m.status === 'online').map((m) => m.card.host);
  }

  /**
   * Fast heartbeats with the rendezvous host and with every host that has a client on this
   * host's broker (when it is the rendezvous: all members): a star. Slower ones with the rest
   * of the view, the CCP host (in view or not: its silence is evidence when its CCP stops
   * answering) and, while excluded, the members of the cluster that left this host out.
   */
  watched(): WatchedPeer[] {
    const fast = new Set(this.d.broker.clientHosts());
    const rendezvous = this.d.rendezvous();
    if (rendezvous) fast.add(rendezvous);
    const mesh = new Set(this.online());
    for (const h of this.exclusion?.members ?? []) mesh.add(h);
    const ccpHost = this.d.ccpHost();
    if (ccpHost) mesh.add(ccpHost);
    const members = this.d.core.members;
    const out: WatchedPeer[] = [];
    for (const [h, kind] of [...[...mesh].map((h) => [h, 'mesh'] as const), ...[...fast].map((h) => [h, 'watch'] as const)]) {
      const m = members.get(h);
      if (h === this.d.self || !m || (kind === 'mesh' && fast.has(h))) continue;
      out.push({ host: h, address: m.card.address, port: m.card.port, incarnation: m.incarnation || null, kind });
    }
    return out;
  }

  /**
   * Each tick: the members of the view not heard for unreachableAfterMs go into this host's
   * presence (the primary keeps clusters cliques with it). An excluded host returns to the
   * broker that left it out once it hears every member there, or after retryExcludedMs (a
   * member that left meanwhile would otherwise keep it out for good).
   */
  tick(now: number): void {
    this.d.liveness.watch(this.watched());
    const verdicts = this.online().map((h) => [h, this.d.liveness.reach(h)] as const);
    const unreachable = verdicts.every(([, r]) => r === 'unknown') ? null : verdicts.filter(([, r]) => r === 'no').map(([h]) => h).sort();
    if (JSON.stringify(unreachable) !== JSON.stringify(this.unreachable)) {
      if (unreachable?.length) this.d.log.warn({ unreachable }, 'members of the view this host does not reach');
      this.unreachable = unreachable;
      this.d.presenceChanged();
    }
    const ex = this.exclusion;
    if (ex && (ex.members.every((h) => h === this.d.self || this.d.liveness.reach(h) === 'yes') || now - ex.since > this.d.excludedRetryMs)) {
      this.exclusion = null;
      this.returned = { host: ex.host, claim: ex.claim };
      this.d.log.info({ rendezvous: ex.host }, 'going back to the broker that left this host out');
      this.d.run(this.d.core.readmit(now, ex.host));
    }
  }

  /**
   * The primary on this host's broker left it out of its cluster: move to the next-best broker.
   * Back on that broker, the claim that left it out is still there (retained) until the primary
   * decides again from the presence this host now publishes: that claim is not obeyed twice, or
   * the host would leave at once each time and the primary, its view never still, never decide.
   */
  onExcluded(members: string[], claim: string): void {
    const host = this.d.rendezvous();
    if (!host || this.exclusion?.host === host) return;
    if (this.returned?.host === host && this.returned.claim === claim) return;
    const now = this.d.clock.now();
    this.exclusion = { host, members, since: now, claim };
    this.d.log.warn({ rendezvous: host, members }, 'left out of the cluster on this broker: it does not reach every member; moving');
    this.d.run(this.d.core.exclude(now, host));
  }

  /** A watched peer went silent: its session with this host's broker, and this host's session with its broker, end now. */
  onLiveness(e: LivenessEvent): void {
    if (e.state === 'up') {
      this.d.log.debug({ peer: e.host }, 'heartbeats from peer');
      return;
    }
    const evicted = this.d.broker.evict(e.host);
    const lost = this.d.rendezvous() === e.host;
    if (evicted > 0 || lost) {
      this.d.log.warn({ peer: e.host, silentMs: e.silentMs, evicted, rendezvousLost: lost }, 'peer declared dead by heartbeats');
      this.d.event?.('peer-dead', { peer: e.host, silentMs: e.silentMs });
    }
    if (lost) this.d.dropSession(`no heartbeat from ${e.host} for ${e.silentMs} ms`);
  }

  snapshot(): { unreachable: string[] | null; exclusion: { host: string; members: string[]; since: number } | null } {
    const ex = this.exclusion;
    return { unreachable: this.unreachable, exclusion: ex && { host: ex.host, members: ex.members, since: ex.since } };
  }
}
