import type { Timings } from '../config/schema.js';
import type { CcpConfig } from '../config/ccp.js';
import type { CcpPort } from '../ccp/goal.js';
import { assignmentKey, type CcpAssignment, type CcpReport, type Claim, type ClusterConfigMessage, type MemberCard, type PayloadOf } from '../contract/index.js';
import type { ElectionSnapshot } from '../contract/status.js';
import type { Logger } from '../log/logger.js';
import type { StateFile } from '../state/atomic-file.js';
import { errorMessage } from '../util/errors.js';
import { noteFailedHosts, selectClaim } from './claims.js';
import { decide, localGoal, type ViewMember } from './core.js';
import { goneEndpoints, noneBetterOnTheWay } from './evidence.js';
import { agentElsewhere, reachVerdict, recordAgentProbe, recordProbe, recordProbeStart, type AgentProbeRecord, type ReachRecord, type ReachTimings } from './reach.js';
import { initialState, type ElectionState } from './store.js';

/** While a view fills after a failover, the shortest time between two claims (see asPrimary). */
const FILLING_CLAIM_GAP_MS = 100;

export type ElectionTimings = ReachTimings & Pick<Timings, 'settleMs' | 'claimHoldMs' | 'rejoinGraceMs' | 'ccpFailedRetryMs'>;

/** A member of this host's view, as the election needs it (from its presence). */
export interface ElectionPeer {
  card: MemberCard;
  ccp: CcpReport | null;
  term: number;
  unreachable: string[] | null;
}

export interface ElectionShellDeps {
  cluster: string;
  /** This host's card (its facts may change). */
  self: () => MemberCard;
  /** The CCP API port (every CCP host's endpoint uses it). */
  port: number;
  timings: ElectionTimings;
  /** The configured cluster configuration (a newer one replicated by the primary wins). */
  configured: CcpConfig;
  file: Pick<StateFile<unknown>, 'write'> & { read(): Parameters<typeof initialState>[0] };
  ccp: CcpPort;
  log: Logger;
  /** Signs and publishes (the publisher owns the keys). */
  publish: <K extends 'claim' | 'config'>(kind: K, msg: PayloadOf<K>) => void;
  /** Presence must be sent again (the term changed). */
  presenceChanged: () => void;
  /** The valid claim on this broker leaves this host out (it does not reach all of `members`);
   * `claim` names that claim (its primary, term and time), so that one seen before is known again. */
  onExcluded: (members: string[], claim: string) => void;
  /** How long `host` has sent no heartbeat to this host (null: never heard, or heartbeats are off). */
  silence: (host: string) => number | null;
  /** Is `host` gone by its heartbeats (liveness/core.ts `dead`)? */
  dead?: (host: string) => boolean;
  /** The host whose address a CCP endpoint names, among the members ever known (null: none). */
  hostOf?: (endpoint: string) => string | null;
  /** Every member this host knows, in its view or not (membership's list). */
  known?: () => MemberCard[];
}

/**
 * The imperative shell around the election's pure parts (core.ts, claims.ts, reach.ts): keeps
 * the highest term, CCP generation and configuration on disk (fencing survives restarts), runs
 * `decide` on every change, publishes claims and the configuration when primary, and hands this
 * host's CCP goal to the controller. Claims and configurations reach it verified (their
 * envelopes' signatures, daemon/inbox.ts).
 */
export class ElectionShell {
  private state: ElectionState;
  private claims = new Map<string, Claim>();
  /** Configurations heard, by signer: adopted only from the primary of the valid claim. */
  private offers = new Map<string, ClusterConfigMessage>();
  private refused = new Set<string>();
  private current: Claim | null = null;
  private role: 'primary' | 'follower' = 'follower';
  private reason = '';
  private failed = new Map<string, number>();
  private viewKey = '';
  private viewStableSince = 0;
  private reach: ReachRecord | null = null;
  private agentAlive: AgentProbeRecord | null = null;
  private lastGroupAt = 0;
  private brokerSince = 0;
  /** The claimed CCP a follower holds back from while its new broker settles (logged once). */
  private held: string | null = null;
  private lastClaimAt = -Infinity;
  private rejected = { signer: 0, staleTerm: 0, configNotFromPrimary: 0 };

  constructor(private readonly d: ElectionShellDeps) {
    this.state = initialState(null, d.configured);
  }

  /**
   * Reads the stored state. A restart, or a first boot with seeds to join, waits for the group
   * before placing a CCP alone (seeds slow to answer — a busy host — must not make it a cluster
   * of one).
   */
  load(now: number, hasSeeds: boolean): void {
    let stored = null;
    try {
      stored = this.d.file.read();
    } catch (err) {
      this.d.log.error({ err: errorMessage(err) }, 'election state unreadable; starting from term 0');
    }
    this.state = initialState(stored, this.d.configured);
    this.lastGroupAt = stored || hasSeeds ? now : 0;
  }

  /**
   * This host has just moved to another broker (a heal, a new rendezvous). The first claim it
   * meets there may have been made before the whole merged view was known; until the view has
   * had settleMs to fill, it keeps following the CCP it followed, so that the merge rule counts
   * it where it was (see docs/election.md).
   */
  brokerChanged(now: number): void {
    this.brokerSince = now;
    // Claims are per broker: the view starts over.
    this.claims.clear();
    this.current = null;
    this.viewKey = '';
  }

  get config(): CcpConfig {
    return this.state.config.ccp;
  }

  get highestTerm(): number {
    return this.state.highestTerm;
  }

  get claim(): Claim | null {
    return this.current;
  }

  /** The CCP to probe: the current claim's, else the last one known. */
  get assignment(): CcpAssignment | null {
    return this.current?.ccp ?? this.state.lastCcp;
  }

  private remember(a: CcpAssignment | null): void {
    if (!a || (this.state.lastCcp && assignmentKey(this.state.lastCcp) === assignmentKey(a) && this.state.lastCcp.host === a.host)) return;
    this.state.lastCcp = a;
    this.save();
  }

  private save(): void {
    try {
      this.d.file.write(this.state);
    } catch (err) {
      this.d.log.error({ err: errorMessage(err) }, 'could not persist the election state');
    }
  }

  private raise(term: number, generation: number): void {
    if (term > this.state.highestTerm || generation > this.state.highestGeneration) {
      this.state.highestTerm = Math.max(this.state.highestTerm, term);
      this.state.highestGeneration = Math.max(this.state.highestGeneration, generation);
      this.save();
      this.d.presenceChanged();
    }
  }

  /** A claim whose envelope verified as signed by `signer`: it counts only as its primary's own. */
  onClaim(c: Claim, signer: string): void {
    if (c.cluster !== this.d.cluster || signer !== c.primary) {
      this.rejected.signer++;
      return;
    }
    if (c.term < this.state.highestTerm) {
      this.rejected.staleTerm++;
      return;
    }
    this.claims.set(c.primary, c);
  }

  /** A configuration whose envelope verified as signed by `signer`; kept until a step knows
   * whether `signer` is the primary of the valid claim. */
  onConfig(m: ClusterConfigMessage, signer: string): void {
    if (m.cluster !== this.d.cluster) {
      this.rejected.signer++;
      return;
    }
    const prev = this.offers.get(signer);
    if (!prev || m.revision > prev.revision) this.offers.set(signer, m);
  }

  /** Adopts the configuration of the valid claim's primary when it is newer than ours. */
  private adoptConfig(primary: string | null): void {
    for (const [signer, m] of this.offers) {
      if (m.revision <= this.state.config.revision) this.offers.delete(signer);
      else if (signer === primary && primary !== this.d.self().host) {
        this.offers.delete(signer);
        this.state.config = { revision: m.revision, ccp: m.ccp };
        this.save();
        this.d.log.info({ revision: m.revision, from: signer }, 'adopted a newer cluster configuration');
      } else if (!this.refused.has(`${signer}:${m.revision}`)) {
        this.refused.add(`${signer}:${m.revision}`);
        this.rejected.configNotFromPrimary++;
        this.d.log.warn({ from: signer, revision: m.revision, primary }, 'a configuration from a host that is not the primary: not adopted');
      }
    }
  }

  onReach(key: string, ok: boolean | null, now: number): void {
    if (ok !== null) this.reach = recordProbe(this.reach, key, ok, now);
  }

  /** A probe of the CCP `key` has started. */
  onProbeStart(key: string, now: number): void {
    this.reach = recordProbeStart(this.reach, key, now);
  }

  /** Whether the CCP host's agent (its broker) answered a probe. */
  onAgentProbe(host: string, ok: boolean, now: number): void {
    this.agentAlive = recordAgentProbe(this.agentAlive, host, ok, now);
  }

  private verdict(a: CcpAssignment | null, now: number): boolean | null {
    if (!a) return null;
    const silent = a.host !== this.d.self().host ? this.d.silence(a.host) : null;
    return reachVerdict(this.reach, assignmentKey(a), silent, now, this.d.timings);
  }

  /** This host's own judgement of the CCP it probes, for its presence. */
  reachReport(now: number): boolean | null {
    return this.verdict(this.assignment, now);
  }

  step(now: number, peers: ElectionPeer[], selfCcp: CcpReport, isolated = false, selfUnreachable: string[] | null = null): void {
    const self = this.d.self();
    const t = this.d.timings;
    const view: ViewMember[] = [{ card: self, ccp: selfCcp, unreachable: selfUnreachable }, ...peers.map((m) => ({ card: m.card, ccp: m.ccp, unreachable: m.unreachable }))];
    if (view.length > 1) this.lastGroupAt = now;
    const key = view.map((m) => m.card.host).sort().join();
    if (key !== this.viewKey) {
      this.viewKey = key;
      this.viewStableSince = now;
    }
    const reports = [...peers.map((m) => ({ host: m.card.host, failed: m.ccp?.role === 'server' && m.ccp.state === 'failed' })), { host: self.host, failed: selfCcp.state === 'failed' }];
    const noted = noteFailedHosts(this.failed, reports, now, t.ccpFailedRetryMs);
    this.failed = noted.failed;
    for (const h of noted.marked) if (h !== self.host) this.d.log.warn({ host: h }, 'CCP failed to start there; placing it elsewhere');
    this.raise(Math.max(0, ...peers.map((m) => m.term)), Math.max(0, ...view.map((m) => m.ccp?.generation ?? 0)));

    const best = selectClaim(this.claims.values(), view.map((m) => m.card), this.state.highestTerm);
    if (best) this.raise(best.term, best.ccp?.generation ?? 0);
    this.current = best;
    this.adoptConfig(best?.primary ?? null);
    if (best) this.remember(best.ccp);
    if (best?.excluded?.includes(self.host)) this.d.onExcluded(best.members, `${best.primary}/${best.term}/${best.ts}`);

    const probed = best?.ccp ?? this.state.lastCcp;
    const elsewhere = probed ? agentElsewhere(this.agentAlive, probed.host, view.some((m) => m.card.host === probed.host), now, t) : { alive: null, rec: this.agentAlive };
    this.agentAlive = elsewhere.rec;
    const out = decide({
      now,
      self: self.host,
      cluster: this.d.cluster,
      view,
      claim: best,
      remembered: this.state.lastCcp,
      highestTerm: this.state.highestTerm,
      highestGeneration: this.state.highestGeneration,
      ccpReachable: this.verdict(probed, now),
      ccpHostAgentAlive: elsewhere.alive,
      failed: this.failed,
      viewStableSince: this.viewStableSince,
      justLeftGroup: view.length === 1 && !isolated && this.lastGroupAt > 0 && now - this.lastGroupAt < t.rejoinGraceMs,
      settleMs: t.settleMs,
      port: this.d.port,
      configRevision: this.state.config.revision,
      goneEndpoints: this.d.dead && this.d.hostOf ? goneEndpoints(view, self.host, this.d.hostOf, this.d.dead) : [],
    });
    if (out.role === 'primary') this.asPrimary(now, out.publish, out.reason);
    else {
      if (this.role === 'primary') this.d.log.info({ primary: out.primary }, 'no longer the primary');
      this.role = 'follower';
    }
    this.handOver(now, self.host);
  }

  private asPrimary(now: number, publish: Omit<Claim, 'ts'> | null, reason: string): void {
    if (this.role !== 'primary') this.d.log.info({ term: this.state.highestTerm }, 'this host is the primary');
    this.role = 'primary';
    this.reason = reason;
    if (!publish) return;
    // Claim only on a view that has held still for a moment: right after a change of broker the
    // retained presences of better-ranked members may still be on their way — unless none can
    // be, every better-ranked member known being dead by its heartbeats (a failover: the new
    // primary's claim does not wait for the last member to arrive). While the view still fills,
    // claims then go at most every FILLING_CLAIM_GAP_MS: each member that arrives is in the next
    // one (measured at N = 16: one claim per arrival was ~40 claims in 2.5 s, each verified by
    // every member, and slowed the new CCP's start).
    const holding = now - this.viewStableSince < this.d.timings.claimHoldMs;
    if (holding && !(this.d.known && this.d.dead && noneBetterOnTheWay(this.d.self(), this.d.known(), this.d.dead) && now - this.lastClaimAt >= FILLING_CLAIM_GAP_MS)) {
      this.reason = 'view just changed';
      return;
    }
    this.lastClaimAt = now;
    const claim: Claim = { ...publish, ts: now };
    this.raise(claim.term, claim.ccp?.generation ?? 0);
    this.claims.set(claim.primary, claim);
    this.current = claim;
    this.remember(claim.ccp);
    this.d.log.info({ term: claim.term, ccp: claim.ccp, placement: claim.placement }, 'claim published');
    this.d.publish('claim', claim);
    this.d.publish('config', { v: 1, cluster: this.d.cluster, revision: this.state.config.revision, ccp: this.state.config.ccp, ts: now });
  }

  /** The CCP goal for this host; while settling after a change of broker, a follower keeps the
   * CCP it follows — unless that CCP's host is dead by its heartbeats: a host that is gone is
   * on no side of a merge, so there is nothing to count this follower for, and the
   * hold would only keep it from the new CCP (it was most of a failover's time to all following). */
  private handOver(now: number, self: string): void {
    const goal = localGoal(self, this.current);
    const settling = now - this.brokerSince < this.d.timings.settleMs && this.role !== 'primary';
    const following = this.d.ccp.report.endpoint;
    const followed = this.d.ccp.followedHost;
    const gone = followed !== null && (this.d.dead?.(followed) ?? false);
    if (settling && !gone && goal.role !== 'keep' && following && goal.assignment.endpoint !== following) {
      if (this.held !== goal.assignment.endpoint) {
        this.held = goal.assignment.endpoint;
        this.d.log.info({ following, followedHost: followed, claimed: goal.assignment.endpoint, forMs: Math.round(this.d.timings.settleMs - (now - this.brokerSince)) }, 'keeping the CCP followed until the view on the new broker settles');
      }
      this.d.ccp.setGoal({ role: 'keep' });
    } else {
      this.held = null;
      this.d.ccp.setGoal(goal);
    }
  }

  snapshot(): ElectionSnapshot {
    const c = this.current;
    return {
      role: this.role,
      reason: this.role === 'primary' ? this.reason : null,
      term: c?.term ?? 0,
      highestTerm: this.state.highestTerm,
      highestGeneration: this.state.highestGeneration,
      primary: c?.primary ?? null,
      members: c?.members ?? [],
      excluded: c?.excluded ?? [],
      ccp: c?.ccp ?? null,
      placement: c?.placement ?? null,
      configRevision: this.state.config.revision,
      rejectedClaims: { ...this.rejected },
      probes: { ccp: this.reach ? { ...this.reach } : null, agent: this.agentAlive ? { ...this.agentAlive } : null },
    };
  }
}
