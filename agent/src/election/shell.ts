import { join } from 'node:path';
import { z } from 'zod';
import type { CcpConfig } from '../config/ccp.js';
import { CcpConfigSchema } from '../config/ccp.js';
import type { CcpController } from '../ccp/controller.js';
import type { CcpAssignment, Claim, ClusterConfigMessage, MemberCard, PayloadOf, Presence } from '../contract/index.js';
import type { Logger } from '../log/logger.js';
import { StateFile } from '../state/atomic-file.js';
import { errorMessage } from '../util/errors.js';
import { decide, localGoal, type ViewMember } from './core.js';
import { compareRank } from '../membership/rank.js';

const AssignmentSchema = z.object({ host: z.string(), generation: z.number().int(), endpoint: z.string() });
const ElectionStateSchema = z.object({ highestTerm: z.number().int(), highestGeneration: z.number().int(), config: z.unknown().nullable(), lastCcp: AssignmentSchema.nullable().default(null) });
/** The election's timings (agent config `timings`, docs/election.md): defaults measured in the lab. */
export interface ElectionTimings {
  /** How long a view must hold still before its primary publishes a claim. */
  claimHoldMs: number;
  /** A CCP is unreachable after this many consecutive failed probes spanning at least ccpLossMs. */
  ccpLossProbes: number;
  ccpLossMs: number;
  /** How long a host left alone by a lost session waits to rejoin before starting its own CCP. */
  rejoinGraceMs: number;
  /** How long a CCP host's agent must answer from outside the view before its CCP is not ours. */
  ccpElsewhereMs: number;
  /** How long a probe result stays valid: longer than the calm probe period (2 s) plus a probe. */
  reachFreshMs: number;
}

export const DEFAULT_ELECTION_TIMINGS: ElectionTimings = { claimHoldMs: 300, ccpLossProbes: 2, ccpLossMs: 1000, rejoinGraceMs: 10_000, ccpElsewhereMs: 5000, reachFreshMs: 5000 };

type CcpReportLike = import('./core.js').CcpReport;

type ElectionState = { highestTerm: number; highestGeneration: number; config: { revision: number; ccp: CcpConfig } | null; lastCcp: CcpAssignment | null };

export interface ElectionShellDeps {
  cluster: string;
  self: () => MemberCard;
  stateDir: string;
  port: number;
  settleMs: number;
  failedRetryMs: number;
  initialConfig: CcpConfig;
  controller: CcpController;
  log: Logger;
  /** Signs and publishes (the shell hands over messages, the publisher owns the keys). */
  publish: <K extends 'claim' | 'config'>(kind: K, msg: PayloadOf<K>) => void;
  /** Presence must be sent again (the term or the CCP report changed). */
  presenceChanged: () => void;
  /** When this agent started: a host alone right after its start is treated like one that just
   * lost its group (it has not found the others yet). */
  startedAt: number;
  /** Seeds other than this host are configured: it is meant to join a group. */
  hasSeeds?: boolean;
  timings?: ElectionTimings;
  /** The valid claim on this broker leaves this host out (it does not reach all of `members`). */
  onExcluded?: (members: string[]) => void;
  /** How long `host` has sent no heartbeat to this host (null: never heard, or heartbeats are off). */
  silence?: (host: string) => number | null;
  /** The heartbeat verdict: silence this long is a dead host. */
  deadAfterMs?: number;
}

/**
 * The imperative shell around election/core.ts: verifies claims, keeps the highest term and
 * CCP generation on disk (fencing survives restarts), runs `decide` on every change, publishes
 * signed claims when primary, replicates the cluster configuration, and hands this host's CCP
 * goal to the controller.
 */
export class ElectionShell {
  private readonly file: StateFile<z.infer<typeof ElectionStateSchema>>;
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
  private reach: { key: string; ok: boolean; at: number; failures: number; failingSince: number | null } | null = null;
  private agentAlive: { host: string; ok: boolean; at: number; elsewhereSince: number | null } | null = null;
  private lastGroupAt = 0;
  private brokerSince = 0;
  private rejected = { signer: 0, staleTerm: 0, configNotFromPrimary: 0 };

  private readonly t: ElectionTimings;

  constructor(private readonly d: ElectionShellDeps) {
    this.t = d.timings ?? DEFAULT_ELECTION_TIMINGS;
    this.file = new StateFile(join(d.stateDir, 'election.json'), 'infravisor.election', 1, (b) => ElectionStateSchema.parse(b));
    let stored: z.infer<typeof ElectionStateSchema> | null = null;
    try {
      stored = this.file.read();
    } catch (err) {
      d.log.error({ err: errorMessage(err) }, 'election state unreadable; starting from term 0');
    }
    const storedCfg = stored?.config ? CcpConfigSchema.safeParse((stored.config as { ccp: unknown }).ccp) : null;
    const cfg = storedCfg?.success && storedCfg.data.revision >= d.initialConfig.revision ? storedCfg.data : d.initialConfig;
    // A restart, or a first boot with seeds to join: wait for the group before placing a CCP
    // alone (seeds slow to answer — a busy host — must not make it a cluster of one).
    this.lastGroupAt = stored || d.hasSeeds ? d.startedAt : 0;
    this.state = { highestTerm: stored?.highestTerm ?? 0, highestGeneration: stored?.highestGeneration ?? 0, config: { revision: cfg.revision, ccp: cfg }, lastCcp: stored?.lastCcp ?? null };
  }

  /**
   * This host has just moved to another broker (a heal, a new rendezvous). The first claim it
   * meets there may have been made before the whole merged view was known; until the view has
   * had settleMs to fill, it keeps following the CCP it followed, so that the merge rule counts
   * it where it was (see docs/election.md).
   */
  brokerChanged(now: number): void {
    this.brokerSince = now;
  }

  get config(): CcpConfig {
    return this.state.config!.ccp;
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
    if (!a || (this.state.lastCcp && this.state.lastCcp.host === a.host && this.state.lastCcp.generation === a.generation && this.state.lastCcp.endpoint === a.endpoint)) return;
    this.state.lastCcp = a;
    this.save();
  }

  private save(): void {
    try {
      this.file.write(this.state);
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

  /** A new rendezvous: claims are per broker. */
  onSessionChange(): void {
    this.claims.clear();
    this.current = null;
    this.viewKey = ''; // the view starts over on the new broker
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

  /** A configuration whose envelope verified as signed by `signer`. Kept until a step decides
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
      if (m.revision <= this.state.config!.revision) {
        this.offers.delete(signer);
        continue;
      }
      if (signer !== primary || primary === this.d.self().host) continue;
      this.offers.delete(signer);
      this.state.config = { revision: m.revision, ccp: m.ccp };
      this.save();
      this.d.log.info({ revision: m.revision, from: signer }, 'adopted a newer cluster configuration');
    }
    for (const [signer, m] of this.offers) {
      if (signer !== primary && m.revision > this.state.config!.revision && !this.refused.has(`${signer}:${m.revision}`)) {
        this.refused.add(`${signer}:${m.revision}`);
        this.rejected.configNotFromPrimary++;
        this.d.log.warn({ from: signer, revision: m.revision, primary }, 'a configuration from a host that is not the primary: not adopted');
      }
    }
  }

  /** A CCP endpoint probe result for the assignment `assignmentKey`. */
  onReach(assignmentKey: string, ok: boolean | null, now: number): void {
    if (ok === null) return;
    const prev = this.reach?.key === assignmentKey ? this.reach : null;
    const failures = ok ? 0 : (prev?.failures ?? 0) + 1;
    this.reach = { key: assignmentKey, ok, at: now, failures, failingSince: ok ? null : (prev?.failingSince ?? now) };
  }

  /** Whether the CCP host's agent (its broker) answered a probe. */
  onAgentProbe(host: string, ok: boolean, now: number): void {
    const prev = this.agentAlive?.host === host ? this.agentAlive : null;
    this.agentAlive = { host, ok, at: now, elsewhereSince: ok ? (prev?.elsewhereSince ?? now) : null };
  }

  /**
   * The CCP host's agent answers but is not in this view: another cluster — or just restarted
   * and about to be joined. Only when that has lasted ccpElsewhereMs does it count.
   */
  private agentElsewhere(host: string, inView: boolean, now: number): boolean | null {
    const a = this.agentAlive;
    if (!a || a.host !== host || now - a.at > this.t.reachFreshMs) return null;
    if (!a.ok) return false;
    if (inView) {
      a.elsewhereSince = null;
      return true;
    }
    a.elsewhereSince ??= now;
    return now - a.elsewhereSince >= this.t.ccpElsewhereMs ? true : null;
  }

  /**
   * Reachability of the CCP as `decide` sees it: true on a fresh success; null while unknown;
   * false after ccpLossProbes consecutive failures spanning ccpLossMs (one lost probe is not a
   * failover) — or at once on a failure while the CCP host has sent no heartbeat for
   * deadAfterMs: ten lost heartbeats in a row and a failed connect are a host that is gone, not
   * a lossy link. (An agent that merely died leaves its CCP answering: the probe succeeds.)
   */
  private reachable(key: string, now: number): boolean | null {
    const r = this.reach;
    if (!r || r.key !== key || now - r.at > this.t.reachFreshMs) return null;
    const host = this.assignment?.host;
    const silent = host && host !== this.d.self().host ? (this.d.silence?.(host) ?? null) : null;
    const quiet = silent !== null && this.d.deadAfterMs !== undefined && silent >= this.d.deadAfterMs;
    // A success from before the CCP host fell silent says nothing about now.
    if (r.ok) return quiet && now - r.at >= silent! ? null : true;
    if (r.failures >= this.t.ccpLossProbes && r.failingSince !== null && now - r.failingSince >= this.t.ccpLossMs) return false;
    return quiet ? false : null;
  }

  /** This host's own judgement of the CCP it probes, for its presence. */
  reachReport(now: number): boolean | null {
    const a = this.assignment;
    return a ? this.reachable(`${a.generation}@${a.endpoint}`, now) : null;
  }

  step(now: number, viewMembers: { card: MemberCard; ccp: Presence['ccp']; term: number; unreachable?: string[] | null }[], selfCcp: Presence['ccp'] | CcpReportLike, isolated = false, selfUnreachable: string[] | null = null): void {
    const self = this.d.self();
    const view: ViewMember[] = [{ card: self, ccp: selfCcp, unreachable: selfUnreachable }, ...viewMembers.map((m) => ({ card: m.card, ccp: m.ccp, unreachable: m.unreachable ?? null }))];
    if (view.length > 1) this.lastGroupAt = now;
    const key = view.map((m) => m.card.host).sort().join();
    if (key !== this.viewKey) {
      this.viewKey = key;
      this.viewStableSince = now;
    }
    for (const m of viewMembers) {
      if (m.ccp?.role === 'server' && m.ccp.state === 'failed' && !((this.failed.get(m.card.host) ?? 0) > now)) {
        this.failed.set(m.card.host, now + this.d.failedRetryMs);
        this.d.log.warn({ host: m.card.host, generation: m.ccp.generation }, 'CCP failed to start there; placing it elsewhere');
      }
    }
    if (selfCcp?.state === 'failed' && !((this.failed.get(self.host) ?? 0) > now)) this.failed.set(self.host, now + this.d.failedRetryMs);
    this.raise(Math.max(0, ...viewMembers.map((m) => m.term)), Math.max(0, ...view.map((m) => m.ccp?.generation ?? 0)));

    // The valid claim: the highest term among verified claims of members of this view. Two
    // claims of one term (a restarted primary whose stored term lagged, meeting the one elected
    // while it was away) are told apart by their primaries' rank, the same way on every host.
    const inView = new Set(view.map((m) => m.card.host));
    const cards = new Map(view.map((m) => [m.card.host, m.card]));
    const outranks = (a: string, b: string) => compareRank(cards.get(a)!, cards.get(b)!) < 0;
    let best: Claim | null = null;
    for (const c of this.claims.values()) {
      if (!inView.has(c.primary) || c.term < this.state.highestTerm) continue;
      if (!best || c.term > best.term || (c.term === best.term && outranks(c.primary, best.primary))) best = c;
    }
    if (best) this.raise(best.term, best.ccp?.generation ?? 0);
    this.current = best;
    this.adoptConfig(best?.primary ?? null);
    if (best) this.remember(best.ccp);
    if (best?.excluded?.includes(self.host)) this.d.onExcluded?.(best.members);

    const probed = best?.ccp ?? this.state.lastCcp;
    const assignKey = probed ? `${probed.generation}@${probed.endpoint}` : '';
    const fresh = this.reachable(assignKey, now);
    const out = decide({
      now,
      self: self.host,
      cluster: this.d.cluster,
      view,
      claim: best,
      remembered: this.state.lastCcp,
      highestTerm: this.state.highestTerm,
      highestGeneration: this.state.highestGeneration,
      ccpReachable: fresh,
      ccpHostAgentAlive: probed ? this.agentElsewhere(probed.host, inView.has(probed.host), now) : null,
      failed: this.failed,
      viewStableSince: this.viewStableSince,
      justLeftGroup: view.length === 1 && !isolated && this.lastGroupAt > 0 && now - this.lastGroupAt < this.t.rejoinGraceMs,
      settleMs: this.d.settleMs,
      port: this.d.port,
      configRevision: this.state.config!.revision,
    });
    if (out.role === 'primary') {
      if (this.role !== 'primary') this.d.log.info({ term: this.state.highestTerm }, 'this host is the primary');
      this.role = 'primary';
      this.reason = out.reason;
      // Claim only on a view that has held still for a moment: right after a change of broker
      // the retained presences of better-ranked members may still be on their way.
      if (out.publish && now - this.viewStableSince < this.t.claimHoldMs) {
        this.reason = 'view just changed';
      } else if (out.publish) {
        const claim: Claim = { ...out.publish, ts: now };
        this.raise(claim.term, claim.ccp?.generation ?? 0);
        this.claims.set(self.host, claim);
        this.current = claim;
        this.remember(claim.ccp);
        this.d.log.info({ term: claim.term, ccp: claim.ccp, placement: claim.placement }, 'claim published');
        this.d.publish('claim', claim);
        const cfg = this.state.config!;
        this.d.publish('config', { v: 1, cluster: this.d.cluster, revision: cfg.revision, ccp: cfg.ccp, ts: now });
      }
    } else {
      if (this.role === 'primary') this.d.log.info({ primary: out.primary }, 'no longer the primary');
      this.role = 'follower';
    }
    const goal = localGoal(self.host, this.current);
    const settling = now - this.brokerSince < this.d.settleMs && this.role !== 'primary';
    const following = this.d.controller.report.endpoint;
    if (settling && goal.role !== 'keep' && following && goal.assignment.endpoint !== following) {
      this.d.controller.setGoal({ role: 'keep' });
      return;
    }
    this.d.controller.setGoal(goal);
  }

  snapshot() {
    const c = this.current;
    return {
      role: this.role,
      /** What the primary is doing or waiting for. */
      reason: this.role === 'primary' ? this.reason : null,
      term: c?.term ?? 0,
      highestTerm: this.state.highestTerm,
      highestGeneration: this.state.highestGeneration,
      primary: c?.primary ?? null,
      members: c?.members ?? [],
      ccp: c?.ccp ?? null,
      placement: c?.placement ?? null,
      configRevision: this.state.config?.revision ?? 0,
      rejectedClaims: { ...this.rejected },
      /** The last probes of the CCP and of its host's agent, as the decision uses them. */
      probes: { ccp: this.reach ? { ...this.reach } : null, agent: this.agentAlive ? { ...this.agentAlive } : null },
    };
  }
}
