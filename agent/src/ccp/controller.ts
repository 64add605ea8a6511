import type { Logger } from '../log/logger.js';
import type { Timings } from '../config/schema.js';
import type { CcpConfig, CcpHost } from '../config/ccp.js';
import { endpointTarget, endpointUrl, type CcpAssignment, type CcpReport } from '../contract/index.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { retryDelay } from './backoff.js';
import type { CcpDriver, CcpNode } from './driver.js';
import { isReadyNode } from '../contract/status.js';
import { goalKey, type CcpPort, type LocalCcpGoal } from './goal.js';
import type { VipPort } from './vip.js';
import { VipHolder } from './vip-holder.js';

/** How long the CCP host reads its node list at the fast cadence for members that are not Ready nodes yet. */
export const NODES_WAIT_MS = 15_000;

/** A TCP reachability probe (transport/probe.ts in the daemon). */
export type TcpProbe = (address: string, port: number, timeoutMs: number) => Promise<boolean>;

export interface CcpControllerOptions {
  cluster: string;
  self: { name: string; addresses: string[] };
  local: CcpHost;
  token: string;
  /** The cluster configuration in force (the election's). */
  config: () => CcpConfig;
  timings: Pick<Timings, 'ccpRetryFirstMs' | 'ccpRetryMaxMs' | 'ccpStraySweepMs' | 'ccpProbeTimeoutMs' | 'vipAnnounceMs' | 'ccpNodesMs'>;
  clock: Clock;
  probeTcp: TcpProbe;
  /** The cluster's virtual address on this host (used when the CCP configuration has `vip`). */
  vip?: VipPort;
  log: Logger;
  /** What runs here changed (the presence must say so). */
  onChange: () => void;
  /** Something for the timeline (a server archived). */
  onEvent?: (name: string, fields: Record<string, unknown>) => void;
}

/**
 * Carries out this host's CCP goal through the driver, one operation at a time: run the
 * assigned server generation (archiving an older one first), or follow the assigned CCP
 * (archiving a server of ours that lost a merge). Watches the CCP's readiness and reports what
 * runs here for presence. A failed operation is tried again (ccpRetryFirstMs doubling to
 * ccpRetryMaxMs) until it succeeds or the goal changes.
 */
export class CcpController implements CcpPort {
  private goal: LocalCcpGoal = { role: 'keep' };
  private busy = false;
  private again = false;
  private report_: CcpReport = { role: 'none', generation: null, state: null, endpoint: null, reach: null, clusterSize: null };
  private following_: string | null = null;
  private ready = false;
  private lastError: string | null = null;
  private appliedKey = '';
  private failedKey = '';
  private stopped = false;
  private failures = 0;
  private retry: NodeJS.Timeout | null = null;
  private lastSweep = -Infinity;
  private followedHost_: string | null = null;
  /** Probes started (overlapping ones: the newest one's answer sets `ready`). */
  private probeSeq = 0;
  private nodes_: CcpNode[] | null = null;
  /** Since when the node list has lacked a member of the view as a Ready node (null: complete). */
  private incompleteSince: number | null = null;
  private nodesAt = -Infinity;
  private viewKey = '';
  /** The election has given this host a server goal (and no follow since). */
  private serverGoal = false;
  private readonly vip: VipHolder;

  constructor(private readonly driver: CcpDriver, private readonly o: CcpControllerOptions) {
    this.vip = new VipHolder({
      port: o.vip,
      // Only once the election has given this host a server goal: after a restart, an adopted
      // server's host does not announce the address before a claim names it.
      wanted: () => (this.serverGoal && this.report_.role === 'server' ? (o.config().vip?.address ?? null) : null),
      configured: () => o.config().vip?.address ?? null,
      ownAddresses: o.self.addresses, clock: o.clock, timings: o.timings, log: o.log, onEvent: o.onEvent,
    });
  }

  get report(): CcpReport {
    return this.report_;
  }

  get followedHost(): string | null {
    return this.report_.role === 'agent' ? this.followedHost_ : null;
  }

  get status() {
    return { ...this.report_, following: this.following_, ready: this.ready, lastError: this.lastError, vip: this.vip.address, nodes: this.nodes_ };
  }

  /**
   * On the CCP host: whether its probes may slow down — the server is ready and lists every
   * member of the view as a Ready node (or has not for NODES_WAIT_MS: a member whose k3s agent
   * does not come is no reason to probe fast for good). Until then the node list is read at
   * the fast cadence, so status shows members joining within ccpFastProbeMs.
   */
  serverCalm(view: readonly string[]): boolean {
    if (!this.ready) return false;
    const nodes = this.nodes_;
    const complete = nodes !== null && view.every((h) => isReadyNode(nodes, h));
    const now = this.o.clock.now();
    const key = view.join();
    if (complete || key !== this.viewKey) this.incompleteSince = null; // a new view: a fresh wait
    this.viewKey = key;
    if (!complete) this.incompleteSince ??= now;
    return complete || now - this.incompleteSince! >= NODES_WAIT_MS;
  }

  /** After a restart: take over a CCP server or agent left running by the previous process. */
  async adopt(): Promise<void> {
    const running = await this.driver.adopt().catch(() => null);
    if (running?.active && running.cluster === this.o.cluster) {
      this.set({ role: 'server', generation: running.generation, state: 'starting', endpoint: endpointUrl(this.o.self.addresses[0]!, this.o.local.port), reach: null, clusterSize: null });
      this.appliedKey = `server:${running.generation}`;
      this.o.log.info({ generation: running.generation, pid: running.pid }, 'adopted the running CCP server');
    } else {
      const f = await this.driver.following().catch(() => null);
      if (f) this.following_ = f;
    }
  }

  setGoal(goal: LocalCcpGoal): void {
    if (goalKey(goal) === goalKey(this.goal)) return;
    this.goal = goal;
    this.failures = 0;
    this.clearRetry();
    void this.pump();
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private scheduleRetry(key: string): void {
    this.clearRetry();
    if (this.stopped) return;
    const delayMs = retryDelay(this.failures, this.o.timings.ccpRetryFirstMs, this.o.timings.ccpRetryMaxMs);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.failedKey !== key || goalKey(this.goal) !== key) return;
      this.failedKey = '';
      void this.pump();
    }, delayMs);
    this.retry.unref();
    this.o.log.info({ goal: key, delayMs, failures: this.failures }, 'CCP operation will be tried again');
  }

  private async pump(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.applyOnce();
      } while (this.again && !this.stopped);
    } finally {
      this.busy = false;
    }
  }

  private async applyOnce(): Promise<void> {
    const goal = this.goal;
    const key = goalKey(goal);
    if (goal.role === 'keep' || key === this.appliedKey || key === this.failedKey) return;
    const a = goal.assignment;
    try {
      if (goal.role === 'server') await this.runServer(a);
      else await this.follow(a);
      this.appliedKey = key;
      this.lastError = null;
      this.failures = 0;
    } catch (err) {
      this.lastError = errorMessage(err);
      this.failedKey = key;
      this.failures++;
      this.scheduleRetry(key);
      this.o.log.error({ err: this.lastError, goal: key }, 'CCP operation failed');
      if (goal.role === 'server') this.set({ ...this.report_, role: 'server', generation: a.generation, state: 'failed', endpoint: a.endpoint });
    }
  }

  private async runServer(a: CcpAssignment): Promise<void> {
    const running = await this.driver.adopt();
    if (running?.active && running.generation !== a.generation) {
      const where = await this.driver.archiveServer(`replaced by generation ${a.generation}`);
      this.o.log.warn({ generation: running.generation, archive: where }, 'archived an older CCP generation');
      this.o.onEvent?.('ccp-archived', { generation: running.generation, archive: where, reason: 'replaced' });
    }
    this.set({ ...this.report_, role: 'server', generation: a.generation, state: 'starting', endpoint: a.endpoint });
    this.following_ = null;
    this.followedHost_ = null;
    this.serverGoal = true;
    this.ready = false; // a follower's last probe said nothing about this server
    this.nodes_ = null; // nor does an earlier generation's node list
    const r = await this.driver.startServer({ cluster: this.o.cluster, generation: a.generation, host: this.o.self, ccp: this.o.config(), local: this.o.local, token: this.o.token });
    this.o.log.info({ generation: a.generation, output: r.output }, 'CCP server applied');
    // The server runs whatever becomes of the address: the probes try again.
    await this.vip.take().catch((err) => this.o.log.error({ err: errorMessage(err) }, 'could not take the cluster address'));
  }

  private async follow(a: CcpAssignment): Promise<void> {
    // At a merge the loser gives the cluster address up first, before its server stops.
    this.serverGoal = false;
    await this.vip.giveUp();
    const running = await this.driver.adopt();
    if (running?.active) {
      const where = await this.driver.archiveServer(`lost to generation ${a.generation} on ${a.host}`);
      this.o.log.warn({ generation: running.generation, winner: a.host, archive: where }, 'this CCP lost the merge: stopped and archived');
      this.o.onEvent?.('ccp-archived', { generation: running.generation, archive: where, reason: `lost the merge to ${a.host}` });
    }
    this.set({ ...this.report_, role: 'agent', generation: a.generation, state: null, endpoint: a.endpoint });
    this.nodes_ = null;
    const t0 = this.o.clock.now();
    const ccp = this.o.config();
    const serverUrl = ccp.vip ? endpointUrl(ccp.vip.address, endpointTarget(a.endpoint).port) : a.endpoint;
    const changed = await this.driver.follow({ cluster: this.o.cluster, host: this.o.self, serverUrl, ccp, local: this.o.local, token: this.o.token });
    this.following_ = a.endpoint;
    if (ccp.vip && this.followedHost_ !== a.host) await this.vip.forgetNeighbour(ccp.vip.address);
    this.followedHost_ = a.host;
    const fields = { endpoint: a.endpoint, server: serverUrl, generation: a.generation, tookMs: Math.round(this.o.clock.now() - t0) };
    if (changed) this.o.log.info(fields, 'k3s agent now follows the CCP');
    else if (ccp.vip) this.o.log.info(fields, 'k3s agent follows the CCP in place, through the cluster address');
  }

  /**
   * Probes the CCP this host runs (readiness with the CA, then its node list) or follows
   * (reachability, within `timeoutMs`). `contested`: on the CCP host, members of its view follow
   * another CCP (a merge under way); it holds its announcements of the cluster address back.
   */
  async probe(assignment: CcpAssignment | null, contested = false, timeoutMs = this.o.timings.ccpProbeTimeoutMs): Promise<boolean | null> {
    if (!assignment) return null;
    const serving = () => this.report_.role === 'server' && this.report_.generation === assignment.generation;
    if (serving()) {
      const h = await this.driver.health(assignment.endpoint);
      // Probes of two assignments may overlap (daemon/ccp-probe.ts): an answer about a server
      // this host no longer runs changes nothing here.
      if (!serving()) return h.reachable;
      const state = h.ready ? 'ready' : this.report_.state === 'failed' ? 'failed' : 'starting';
      this.ready = h.ready;
      if (state !== this.report_.state) this.set({ ...this.report_, state });
      if (h.ready) {
        // The nodes as the CCP's own API lists them (status and the lab read them): at every
        // probe until every member is a Ready node, then every ccpNodesMs (a real Kubernetes
        // Node object carries its conditions and image list: kilobytes each to parse).
        const now = this.o.clock.now();
        if (this.nodes_ === null || this.incompleteSince !== null || now - this.nodesAt >= this.o.timings.ccpNodesMs) {
          this.nodesAt = now;
          this.nodes_ = await this.driver.nodes(assignment.endpoint).catch(() => this.nodes_);
        }
        if (!this.busy) this.vip.tick(contested);
      }
      return h.reachable;
    }
    void this.sweepStrayServer();
    // A follower only needs to know that the CCP's port answers: a TCP connect, not a TLS handshake.
    const t = endpointTarget(assignment.endpoint);
    const seq = ++this.probeSeq;
    const ok = await this.o.probeTcp(t.address, t.port, timeoutMs);
    if (seq === this.probeSeq && !serving()) this.ready = ok; // the answer of the newest probe only
    return ok;
  }

  private set(r: CcpReport): void {
    const changed = JSON.stringify(r) !== JSON.stringify(this.report_);
    this.report_ = r;
    if (changed) this.o.onChange();
  }

  /**
   * Level-triggered clean-up, every ccpStraySweepMs while this host follows another CCP: a
   * server still running here (a start that completed after the goal had changed, on a slow
   * host) is stopped and archived, so that a cluster never has two.
   */
  private async sweepStrayServer(): Promise<void> {
    const now = this.o.clock.now();
    if (this.busy || this.stopped || this.report_.role !== 'agent' || now - this.lastSweep < this.o.timings.ccpStraySweepMs) return;
    this.lastSweep = now;
    this.busy = true;
    try {
      const running = await this.driver.adopt();
      if (running?.active) {
        const where = await this.driver.archiveServer(`stray: this host follows generation ${this.report_.generation}`);
        this.o.log.warn({ generation: running.generation, following: this.report_.generation, archive: where }, 'a CCP server was still running here: stopped and archived');
      }
    } catch (err) {
      this.o.log.error({ err: errorMessage(err) }, 'could not check for a stray CCP server');
    } finally {
      this.busy = false;
      if (this.again) void this.pump();
    }
  }

  stop(): void {
    this.stopped = true;
    this.clearRetry();
  }
}
