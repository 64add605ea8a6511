import type { AgentConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/logger.js';
import { EmbeddedBroker } from '../broker/broker.js';
import { CONTRACT, decode, decodeSigned, emptyDropCounters, encode, encodeSigned, filterFor, parseTopic, topicFor, type DropReason, type Facts, type MemberCard, type Presence } from '../contract/index.js';
import { FactsSource, type FactsProvider } from '../facts/facts.js';
import { MembershipCore, type Action } from '../membership/core.js';
import { membershipFile } from '../membership/store.js';
import { StatusServer } from '../status/server.js';
import { readSeed } from '../transport/bootstrap.js';
import { probeTcp } from '../transport/probe.js';
import { Session } from '../transport/session.js';
import { systemClock, type Clock } from '../util/clock.js';
import { networkInterfaces } from 'node:os';
import { LinkMonitor } from '../link/monitor.js';
import type { LinkWatcher } from '../link/types.js';
import type { SdNotify } from '../notify/sd-notify.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { deriveK3sToken } from '../ccp/config.js';
import { CcpController } from '../ccp/controller.js';
import { K3sDriver } from '../ccp/k3s/driver.js';
import { loadCcpConfig } from '../ccp/load.js';
import { SupervisedServices, SystemdServices } from '../ccp/service.js';
import { ElectionShell } from '../election/shell.js';
import { Liveness } from '../liveness/shell.js';
import { PeerWatch } from './peers.js';
import { CorruptStateError, errorMessage } from '../util/errors.js';
import { ClusterKeySigner } from '../trust/signer.js';

const EVENT_LOG_SIZE = 100;

export interface AgentDeps {
  log: Logger;
  clock?: Clock;
  facts?: FactsProvider;
  /** Injected in tests; by default chosen from config (native, else ffi). */
  linkWatcher?: LinkWatcher | null;
  /** Environment for sd_notify (NOTIFY_SOCKET, WATCHDOG_USEC). */
  env?: NodeJS.ProcessEnv;
}

/** The interface that holds `address`: the cluster-facing one. */
export function interfaceOf(address: string): string | null {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.address === address)) return name;
  }
  return null;
}

/**
 * The composition root of the daemon: builds the broker, the membership core, the client
 * session and the status socket, and carries out the core's decisions. Construction has no
 * side effects; `start()` and `stop()` do the work.
 */
export class Agent {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly facts: FactsProvider;
  private readonly broker: EmbeddedBroker;
  private readonly status: StatusServer;
  private readonly store;
  private core!: MembershipCore;
  private session: Session | null = null;
  private sessionHost: string | null = null;
  private currentFacts!: Facts;
  private readonly incarnation: number;
  private seq = 0;
  private timers: NodeJS.Timeout[] = [];
  private debounce = new Map<string, NodeJS.Timeout>();
  private readonly drops = emptyDropCounters();
  private readonly dropLog = new RateLimitedLog(10_000);
  private readonly events: { ts: number; name: string; fields: Record<string, unknown> }[] = [];
  private stopping = false;
  private startedAt = 0;
  private connectGen = 0;
  private link: { watcher: LinkWatcher; monitor: LinkMonitor } | null = null;
  private notify: SdNotify | null = null;
  private statusText = '';
  private controller!: CcpController;
  private servedSize: number | null = null;
  private election!: ElectionShell;
  private liveness!: Liveness;
  private peers!: PeerWatch;
  private lastReachReport: boolean | null = null;

  private readonly deps: AgentDeps;
  private readonly signer: ClusterKeySigner;

  constructor(private readonly cfg: AgentConfig, deps: AgentDeps) {
    this.log = deps.log;
    this.clock = deps.clock ?? systemClock;
    this.facts = deps.facts ?? new FactsSource(cfg.stateDir);
    this.incarnation = this.clock.now();
    this.deps = deps;
    this.broker = new EmbeddedBroker({ cluster: cfg.cluster, address: cfg.host.address, port: cfg.host.port, secret: cfg.secret, log: this.log.child({ ns: 'broker' }) });
    this.status = new StatusServer(cfg.statusSocket, () => this.snapshot());
    this.store = membershipFile(cfg.stateDir);
    this.signer = new ClusterKeySigner(cfg.host.name, cfg.secret);
  }

  /** Republishes this host's presence shortly (changes within 50 ms go out as one). */
  private presenceSoon(): void {
    this.later('presence', 50, () => void this.publishPresence('online'));
  }

  /** The configured seeds other than this host itself. */
  private otherSeeds() {
    return this.cfg.seeds.filter((s) => !(s.address === this.cfg.host.address && s.port === this.cfg.host.port));
  }

  private card(): MemberCard {
    const { name, address, port, priority } = this.cfg.host;
    return { host: name, address, port, priority, cores: this.currentFacts.cores, memMB: this.currentFacts.memMB };
  }

  async start(): Promise<void> {
    this.startedAt = this.clock.now();
    this.currentFacts = this.facts.initial();
    let known: ReturnType<MembershipCore['directory']> = [];
    try {
      const stored = this.store.read();
      if (stored && stored.cluster === this.cfg.cluster) known = stored.members;
    } catch (err) {
      if (!(err instanceof CorruptStateError)) throw err;
      this.log.error({ code: err.code, file: err.file }, err.message);
    }
    const seeds = this.otherSeeds();
    this.core = new MembershipCore(this.card(), { cluster: this.cfg.cluster, timings: this.cfg.timings, hasSeeds: seeds.length > 0 }, known);
    // Built before the CCP's probe loop, which asks it about silences (no socket until start()).
    this.liveness = new Liveness({
      cluster: this.cfg.cluster,
      self: this.cfg.host.name,
      incarnation: this.incarnation,
      address: this.cfg.host.address,
      port: this.cfg.host.port,
      secret: this.cfg.secret,
      timings: this.cfg.timings,
      clock: this.clock,
      log: this.log.child({ ns: 'liveness' }),
      onEvent: (e) => {
        if (!this.stopping) this.peers.onLiveness(e);
      },
    });
    this.peers = new PeerWatch({
      self: this.cfg.host.name,
      log: this.log.child({ ns: 'liveness' }),
      clock: this.clock,
      liveness: this.liveness,
      broker: this.broker,
      core: () => this.core,
      rendezvous: () => (this.session ? this.sessionHost : null),
      ccpHost: () => this.election.assignment?.host ?? null,
      run: (actions) => this.run(actions),
      dropSession: (reason) => this.session?.fail(reason),
      presenceChanged: () => this.presenceSoon(),
    });
    this.startCcp();
    await this.controller.adopt();
    await this.broker.start();
    await this.liveness.start();
    await this.publishDirectory();
    await this.status.start();
    await this.startLinkWatch();
    this.run(this.core.start(this.clock.now()));
    this.timers.push(
      setInterval(() => {
        const now = this.clock.now();
        if (this.link) this.onLinkDecisions(this.link.monitor.tick(now));
        this.run(this.core.tick(now));
        this.peers.tick(now);
        this.reachChanged();
        this.electionStep();
        this.updateNotifyStatus();
      }, this.cfg.timings.tickMs),
    );
    this.timers.push(setInterval(() => void this.refreshFacts(() => this.facts.refresh()), this.cfg.timings.factsIntervalMs));
    // Model and temperature come later, spread out so that hosts booting together do not all probe at once.
    const enrich = setTimeout(() => void this.refreshFacts(() => this.facts.enrich()), Math.floor(Math.random() * 3000));
    this.timers.push(enrich);
    for (const t of this.timers) t.unref();
    this.log.info({ cluster: this.cfg.cluster, incarnation: this.incarnation, known: known.length, seeds: seeds.length }, 'agent started');
    await this.startNotify();
  }

  /** Members report whether they reach the CCP (probes, and the CCP host's heartbeats): the
   * presence is republished when that judgement changes. */
  private reachChanged(): void {
    const now = this.election.reachReport(this.clock.now());
    if (now === this.lastReachReport) return;
    this.lastReachReport = now;
    this.presenceSoon();
  }

  /** The CCP driver and controller, and the election around them. */
  private startCcp(): void {
    const ccpConfig = loadCcpConfig(this.cfg.clusterConfig);
    const ccpState = join(this.cfg.stateDir, 'ccp');
    mkdirSync(ccpState, { recursive: true, mode: 0o700 });
    const services = this.cfg.ccp.service === 'systemd' ? new SystemdServices() : new SupervisedServices(ccpState);
    const log = this.log.child({ ns: 'ccp' });
    this.controller = new CcpController(new K3sDriver(this.cfg.ccp, services), {
      cluster: this.cfg.cluster,
      self: { name: this.cfg.host.name, addresses: [this.cfg.host.address] },
      local: this.cfg.ccp,
      token: deriveK3sToken(this.cfg.secret, this.cfg.cluster),
      config: () => this.election.config,
      log,
      onChange: () => this.presenceSoon(),
      probeTimeoutMs: this.cfg.timings.probeTimeoutMs,
    });
    this.election = new ElectionShell({
      cluster: this.cfg.cluster,
      self: () => this.card(),
      stateDir: this.cfg.stateDir,
      port: this.cfg.ccp.port,
      settleMs: this.cfg.timings.settleMs,
      failedRetryMs: 30_000,
      initialConfig: ccpConfig,
      controller: this.controller,
      log: this.log.child({ ns: 'election' }),
      publish: (kind, msg) => {
        const spec = CONTRACT[kind];
        void this.session?.publish(topicFor(kind, this.cfg.cluster, this.cfg.host.name), encodeSigned(kind, msg, this.signer), spec.qos, spec.retain);
      },
      presenceChanged: () => this.presenceSoon(),
      startedAt: this.clock.now(),
      hasSeeds: this.otherSeeds().length > 0,
      timings: this.cfg.timings,
      onExcluded: (members) => this.peers.onExcluded(members),
      silence: (host) => this.liveness.silence(host),
      deadAfterMs: this.cfg.timings.deadAfterMs,
    });
    // The CCP this host runs or follows is probed every 2 s, or 4 times a second while a
    // decision may hang on it.
    let inFlight = false;
    let lastCalm = 0;
    const probe = setInterval(() => {
      const a = this.election.assignment;
      if (!a || inFlight) return;
      const self = a.host === this.cfg.host.name;
      const member = self ? null : this.core.members.get(a.host);
      // Fast while this host's own server is not ready yet (its readiness is what the members
      // wait for), and while the CCP host is out of this view or its heartbeats pause; calm
      // otherwise (a follower's reach report).
      const calm = self ? this.controller.status.ready : member?.status === 'online' && !this.liveness.quiet(a.host);
      if (calm && this.clock.now() - lastCalm < 2000) return;
      if (calm) lastCalm = this.clock.now();
      inFlight = true;
      // The CCP host's agent matters only while the host is out of this view.
      const card = member && member.status !== 'online' ? member.card : undefined;
      void Promise.all([
        this.controller.probe(a).then((ok) => {
          this.election.onReach(`${a.generation}@${a.endpoint}`, ok, this.clock.now());
          this.reachChanged();
        }),
        card ? probeTcp(card.address, card.port, 1500).then((ok) => this.election.onAgentProbe(a.host, ok, this.clock.now())) : undefined,
      ]).finally(() => (inFlight = false));
    }, 250);
    probe.unref();
    this.timers.push(probe);
  }

  /** The size of the cluster this host's CCP serves, when it is the CCP host. Kept across a
   * change of broker (claims are per broker), since that is when a merge compares sizes. A host
   * whose own link is down serves itself only: cut off before its side could claim the smaller
   * cluster, it must not carry the old size into the merge when the cable is back. */
  private servedClusterSize(): number | null {
    const c = this.election.claim;
    if (c?.ccp?.host === this.cfg.host.name) this.servedSize = c.members.length;
    if (this.core.isIsolated && this.servedSize !== null) this.servedSize = 1;
    if (this.controller.report.role !== 'server') this.servedSize = null;
    return this.servedSize;
  }

  private electionStep(): void {
    if (this.stopping) return;
    // Only members confirmed on the current broker: pending ones (carried over from the previous
    // broker) may never arrive, and must not make a lone host think it still has a group.
    const view = [...this.core.members.values()].filter((m) => m.status === 'online').map((m) => ({ card: m.card, ccp: m.ccp, term: m.term, unreachable: m.unreachable }));
    this.election.step(this.clock.now(), view, this.controller.reportWith(this.election.reachReport(this.clock.now()), this.servedClusterSize()), this.core.isIsolated, this.peers.unreachable);
  }

  private async startLinkWatch(): Promise<void> {
    if (this.cfg.link.backend === 'off' || this.deps.linkWatcher === null) return;
    const ifname = this.cfg.link.interface ?? interfaceOf(this.cfg.host.address);
    if (!ifname) {
      this.log.warn({ address: this.cfg.host.address }, 'no interface holds host.address; link watching is off (set link.interface)');
      return;
    }
    let watcher = this.deps.linkWatcher;
    if (!watcher) {
      const { createLinkWatcher } = await import('../link/factory.js');
      watcher = await createLinkWatcher(this.cfg.link.backend, this.log.child({ ns: 'link' }));
    }
    const monitor = new LinkMonitor(ifname, this.cfg.link.graceMs);
    this.link = { watcher, monitor };
    let graceTimer: NodeJS.Timeout | null = null;
    watcher.start(
      (events) => {
        this.onLinkDecisions(monitor.onEvents(this.clock.now(), events));
        // A loss counts the moment its grace ends, not at the next tick.
        const at = monitor.lossMaturesAt;
        if (at !== null && !graceTimer) {
          graceTimer = setTimeout(() => {
            graceTimer = null;
            this.onLinkDecisions(monitor.tick(this.clock.now()));
          }, Math.max(0, at - this.clock.now()) + 1);
        }
      },
      (err) => this.log.warn({ err: err.message }, 'link watcher error'),
    );
  }

  private onLinkDecisions(decisions: ReturnType<LinkMonitor['tick']>): void {
    for (const d of decisions) {
      const now = this.clock.now();
      if (d.type === 'link-lost') {
        this.log.warn({ reason: d.reason }, 'own link lost: this host is isolated');
        this.run(this.core.onLink(now, false, d.reason));
      } else {
        this.log.info('own link back: reconnecting');
        this.run(this.core.onLink(now, true));
      }
    }
  }

  private async startNotify(): Promise<void> {
    const env = this.deps.env ?? process.env;
    if (!env.NOTIFY_SOCKET) return;
    const { SdNotify } = await import('../notify/sd-notify.js');
    this.notify = SdNotify.fromEnv(env);
    this.sendNotify('READY=1');
    this.updateNotifyStatus();
    const every = SdNotify.watchdogIntervalMs(env);
    if (every) {
      const t = setInterval(() => this.sendNotify('WATCHDOG=1'), every);
      t.unref();
      this.timers.push(t);
    }
  }

  private sendNotify(state: string): void {
    try {
      this.notify?.send(state);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'sd_notify failed');
    }
  }

  private updateNotifyStatus(): void {
    if (!this.notify) return;
    const r = this.core.rendezvous;
    const text = this.core.isIsolated
      ? 'isolated: own link down'
      : `member of ${this.cfg.cluster}, rendezvous ${r.host ?? '-'}${r.up ? '' : ' (reconnecting)'}, ${this.core.view().length} seen`;
    if (text !== this.statusText) {
      this.statusText = text;
      this.sendNotify(`STATUS=${text}`);
    }
  }

  /** Carries out the core's decisions. Each async result is fed back into the core. */
  private run(actions: Action[]): void {
    if (this.stopping) return;
    for (const a of actions) {
      switch (a.type) {
        case 'bootstrap':
          void this.bootstrap();
          break;
        case 'probe':
          for (const t of a.targets) {
            void probeTcp(t.address, t.port, this.cfg.timings.probeTimeoutMs).then((ok) => this.run(this.core.onProbe(this.clock.now(), t.host, ok)));
          }
          break;
        case 'connect':
          void this.connect(a.target);
          break;
        case 'publish-presence':
          void this.publishPresence('online');
          break;
        case 'publish-directory':
          this.later('directory', 200, () => void this.publishDirectory());
          break;
        case 'persist':
          this.later('persist', 1000, () => this.persist());
          break;
        case 'event':
          if (a.name === 'rendezvous-changed') this.election?.brokerChanged(this.clock.now());
          this.event(a.name, a.fields);
          break;
        case 'drop-session': {
          this.connectGen++;
          const s = this.session;
          this.session = null;
          void s?.close(true);
          break;
        }
      }
    }
  }

  private later(key: string, ms: number, fn: () => void): void {
    if (this.debounce.has(key)) return;
    const t = setTimeout(() => {
      this.debounce.delete(key);
      fn();
    }, ms);
    t.unref();
    this.debounce.set(key, t);
  }

  private event(name: string, fields: Record<string, unknown>): void {
    this.events.push({ ts: this.clock.now(), name, fields });
    if (this.events.length > EVENT_LOG_SIZE) this.events.shift();
    const level = name === 'duplicate-host-name' ? 'error' : 'info';
    this.log[level]({ event: name, ...fields }, name);
  }

  private async bootstrap(): Promise<void> {
    const seeds = this.otherSeeds();
    const results = await Promise.allSettled(
      seeds.map((seed) =>
        readSeed({ seed, cluster: this.cfg.cluster, self: this.cfg.host.name, secret: this.cfg.secret, waitMs: this.cfg.timings.bootstrapWaitMs, timeoutMs: this.cfg.timings.probeTimeoutMs * 2, onDrop: (r, d) => this.dropped(r, d, 'seed') }),
      ),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const now = this.clock.now();
    if (ok.length === 0) {
      this.log.debug({ seeds: seeds.length }, 'no seed answered');
      this.run(this.core.onBootstrapFailed(now));
      return;
    }
    this.run(this.core.onBootstrap(now, ok.flatMap((r) => r.cards), ok.find((r) => r.hint)?.hint ?? null));
  }

  private presence(state: 'online' | 'offline', movedTo: string | null = null): Presence {
    return {
      v: 1,
      cluster: this.cfg.cluster,
      ...this.card(),
      state,
      incarnation: this.incarnation,
      seq: ++this.seq,
      rendezvous: this.sessionHost,
      movedTo,
      facts: this.currentFacts,
      ccp: this.controller ? this.controller.reportWith(this.election.reachReport(this.clock.now()), this.servedClusterSize()) : null,
      term: this.election?.highestTerm ?? 0,
      unreachable: this.peers?.unreachable ?? null,
      ts: this.clock.now(),
    };
  }

  private async connect(target: MemberCard): Promise<void> {
    const gen = this.connectGen;
    const spec = CONTRACT.presence;
    const session = new Session({
      cluster: this.cfg.cluster,
      self: this.cfg.host.name,
      address: target.address,
      port: target.port,
      secret: this.cfg.secret,
      keepaliveSec: this.cfg.timings.keepaliveSec,
      connectTimeoutMs: this.cfg.timings.probeTimeoutMs * 2,
      will: { topic: topicFor('presence', this.cfg.cluster, this.cfg.host.name), payload: encode('presence', { ...this.presence('offline'), rendezvous: target.host }), qos: spec.qos, retain: spec.retain },
      subscriptions: [filterFor('presence', this.cfg.cluster), filterFor('claim', this.cfg.cluster), filterFor('config', this.cfg.cluster)],
      // Heartbeats that still arrive say the broker's host is there; a late PINGRESP is then a
      // stalled TCP stream on a lossy link, not a dead broker.
      confirmDead: async () => this.liveness.state(target.host) !== 'up' && !(await probeTcp(target.address, target.port, this.cfg.timings.probeTimeoutMs)),
      onMessage: (topic, payload) => this.onMessage(topic, payload),
      onDown: (reason) => {
        if (this.session !== session) return;
        this.log.warn({ rendezvous: target.host, reason }, 'rendezvous session lost');
        this.session = null;
        this.run(this.core.onSessionDown(this.clock.now(), target.host));
      },
    });
    try {
      await session.open();
    } catch (err) {
      this.log.debug({ target: target.host, err: errorMessage(err) }, 'connect failed');
      this.run(this.core.onConnectFailed(this.clock.now(), target.host));
      return;
    }
    if (this.stopping || gen !== this.connectGen) return void session.close(true);
    const previous = this.session;
    const previousHost = this.sessionHost;
    this.session = session;
    this.sessionHost = target.host;
    this.election.onSessionChange();
    this.run(this.core.onSessionUp(this.clock.now(), target.host));
    session.activate();
    this.electionStep();
    if (previous) {
      // Make before break: tell the old broker where we went, then leave it cleanly.
      await previous.publish(topicFor('presence', this.cfg.cluster, this.cfg.host.name), encode('presence', { ...this.presence('offline', target.host), rendezvous: previousHost }), spec.qos, spec.retain);
      await previous.close();
    }
  }

  /** Every message from the network enters here: nothing it carries may end the process. */
  private onMessage(topic: string, payload: Buffer): void {
    try {
      this.handleMessage(topic, payload);
    } catch (err) {
      this.dropped('handler', `${topic}: ${errorMessage(err)}`, topic);
    }
  }

  private handleMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(this.cfg.cluster, topic);
    if (!t) return this.dropped('mismatch', topic, 'session');
    if (t.kind === 'claim' || t.kind === 'config') {
      const d = t.kind === 'claim' ? decodeSigned('claim', payload, this.signer) : decodeSigned('config', payload, this.signer);
      if (!d.ok) return this.dropped(d.reason, d.detail, topic);
      if (d.signer !== t.host) return this.dropped('mismatch', `${t.kind} signed by ${d.signer} on ${topic}`, topic);
      if (t.kind === 'claim') this.election.onClaim(d.msg as import('../contract/index.js').Claim, d.signer);
      else this.election.onConfig(d.msg as import('../contract/index.js').ClusterConfigMessage, d.signer);
      return this.electionStep();
    }
    if (t.kind !== 'presence') return;
    const d = decode('presence', payload);
    if (!d.ok) return this.dropped(d.reason, d.detail, topic);
    if (d.msg.host !== t.host) return this.dropped('mismatch', `presence of ${d.msg.host} on ${topic}`, topic);
    this.run(this.core.onPresence(this.clock.now(), d.msg, this.incarnation));
    this.electionStep();
  }

  private dropped(reason: DropReason, detail: string, where: string): void {
    this.drops[reason]++;
    const suppressed = this.dropLog.admit(reason);
    if (suppressed !== null) this.log.warn({ reason, detail, where, suppressedSinceLast: suppressed, total: this.drops[reason] }, 'dropped a message');
  }

  private async publishPresence(state: 'online' | 'offline'): Promise<void> {
    const spec = CONTRACT.presence;
    await this.session?.publish(topicFor('presence', this.cfg.cluster, this.cfg.host.name), encode('presence', this.presence(state)), spec.qos, spec.retain);
  }

  private async publishDirectory(): Promise<void> {
    const now = this.clock.now();
    const members = this.core ? this.core.directory(now) : [{ ...this.card(), lastSeen: now }];
    const payload = encode('directory', { v: 1, cluster: this.cfg.cluster, host: this.cfg.host.name, rendezvous: this.sessionHost, members, ts: now });
    const spec = CONTRACT.directory;
    await this.broker.publishLocal(topicFor('directory', this.cfg.cluster, this.cfg.host.name), payload, spec.retain, spec.qos).catch((err) => this.log.warn({ err: errorMessage(err) }, 'directory publish failed'));
  }

  private persist(): void {
    try {
      this.store.write({ cluster: this.cfg.cluster, members: this.core.directory(this.clock.now()).filter((m) => m.host !== this.cfg.host.name) });
    } catch (err) {
      this.log.error({ err: errorMessage(err), file: this.store.path }, 'could not persist membership; check the state directory');
    }
  }

  private async refreshFacts(read: () => Promise<Facts>): Promise<void> {
    const f = await read().catch((err) => {
      this.log.warn({ err: errorMessage(err) }, 'reading host facts failed');
      return null;
    });
    if (!f || this.stopping) return;
    const changed = f.model !== this.currentFacts.model || f.tempC !== this.currentFacts.tempC || Math.abs(f.load1 - this.currentFacts.load1) >= 0.5;
    this.currentFacts = f;
    if (changed) await this.publishPresence('online');
  }

  /** Is the CCP on `host` ready, as far as this agent knows? */
  private ccpReady(host: string): boolean {
    if (host === this.cfg.host.name) return this.controller.status.ready;
    return this.core.members.get(host)?.ccp?.state === 'ready';
  }

  snapshot() {
    const now = this.clock.now();
    const core = this.core.snapshot(now);
    const el = this.election.snapshot();
    return {
      v: 1,
      host: this.cfg.host.name,
      address: this.cfg.host.address,
      incarnation: this.incarnation,
      uptimeMs: now - this.startedAt,
      rendezvous: core.rendezvous,
      view: core.view,
      members: core.members,
      rankOrder: core.rankOrder,
      isolated: core.isolated,
      link: this.link ? { backend: this.link.watcher.backend, ...this.link.monitor.state } : null,
      cluster: {
        name: this.cfg.cluster,
        id: core.rendezvous.host ? `${this.cfg.cluster}@${core.rendezvous.host}` : null,
        term: el.term,
        primary: el.primary,
        members: core.view,
        ccp: el.ccp ? { ...el.ccp, ready: this.ccpReady(el.ccp.host), placement: el.placement } : null,
      },
      role: el.role,
      election: el,
      ccp: this.controller.status,
      following: this.controller.status.following,
      facts: this.currentFacts,
      broker: { clients: this.broker.connectedClients, ...this.broker.counters },
      liveness: { ...this.liveness.snapshot(), ...this.peers.snapshot() },
      dropped: { ...this.drops },
      events: this.events.slice(-20),
    };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.link?.watcher.close();
    this.liveness?.stop();
    this.controller?.stop();
    this.sendNotify('STOPPING=1');
    for (const t of this.debounce.values()) clearTimeout(t);
    this.debounce.clear();
    const session = this.session;
    this.session = null;
    if (session) {
      const spec = CONTRACT.presence;
      await session.publish(topicFor('presence', this.cfg.cluster, this.cfg.host.name), encode('presence', this.presence('offline')), spec.qos, spec.retain);
      await session.close();
    }
    this.persist();
    await this.status.stop();
    await this.broker.stop();
    this.notify?.close();
    this.log.info('agent stopped');
  }
}
