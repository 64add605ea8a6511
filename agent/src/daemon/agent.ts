import type { AgentConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { EmbeddedBroker } from '../broker/broker.js';
import { endpointAddress } from '../contract/endpoint.js';
import type { AgentStatus } from '../contract/status.js';
import { FactsSource, type FactsProvider } from '../facts/facts.js';
import { MembershipCore } from '../membership/core.js';
import { membershipFile } from '../membership/store.js';
import { hostAt } from '../membership/types.js';
import { StatusServer } from '../status/server.js';
import { probeTcp } from '../transport/probe.js';
import { Session } from '../transport/session.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { LinkWatcher } from '../link/types.js';
import { mkdirSync, unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { deriveK3sToken } from '../ccp/config.js';
import { CcpController } from '../ccp/controller.js';
import { K3sDriver } from '../ccp/k3s/driver.js';
import { loadCcpConfig } from '../ccp/load.js';
import type { CcpConfig } from '../config/ccp.js';
import { SupervisedServices, SystemdServices } from '../ccp/service.js';
import { IpVip } from '../ccp/vip.js';
import { ElectionShell } from '../election/shell.js';
import { electionFile } from '../election/store.js';
import { Liveness } from '../liveness/shell.js';
import type { Identity } from '../trust/identity.js';
import { KeyRing } from '../trust/keyring.js';
import { ClusterSealer } from '../trust/seal.js';
import { CorruptStateError } from '../util/errors.js';
import { Debouncer } from '../util/debounce.js';
import { CcpProbeLoop } from './ccp-probe.js';
import { EventLog } from './events.js';
import { FactsWatch } from './facts-watch.js';
import { Inbox } from './inbox.js';
import { LinkWatch, interfaceOf } from './link-watch.js';
import { NotifyShell } from './notify.js';
import { PeerWatch } from './peers.js';
import { PresenceSource } from './presence.js';
import { Publisher } from './publisher.js';
import { otherSeeds, Rendezvous } from './rendezvous.js';
import { snapshot } from './snapshot.js';
import { Stopper } from './stopper.js';
import { Observers } from './observers.js';
import { uiFiles } from './ui-files.js';
import { leanMqttPackets } from '../util/mqtt-packets.js';

export interface AgentDeps {
  log: Logger;
  /** This host's TLS identity, loaded and checked at the edge (trust/identity.ts). */
  identity: Identity;
  clock?: Clock;
  facts?: FactsProvider;
  /** Injected in tests; by default chosen from config (native, else ffi). null: no link watching. */
  linkWatcher?: LinkWatcher | null;
  /** Environment for sd_notify (NOTIFY_SOCKET, WATCHDOG_USEC). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The composition root of the daemon: builds the whole graph here, from typed slices of the
 * configuration, and hands each part narrow ports (functions that read another part, or ask it
 * to act). Constructors have no side effects; `start()` starts the parts in order, `stop()` stops
 * every one of them and reports all failures together. Decisions live in the pure cores
 * (membership/, election/, liveness/, link/monitor); the parts built here only carry them out.
 */
export class Agent {
  private readonly startedAt: number;
  private readonly start_: () => Promise<void>;
  private readonly stopper = new Stopper();
  readonly snapshot: () => AgentStatus;

  constructor(cfg: AgentConfig, deps: AgentDeps) {
    const log = deps.log;
    const clock = deps.clock ?? systemClock;
    const t = cfg.timings;
    const self = cfg.host.name;
    const incarnation = clock.now();
    this.startedAt = incarnation;
    const events = new EventLog(clock, log.child({ ns: 'events' }));
    const debounce = new Debouncer({ presence: t.presenceDebounceMs, directory: t.directoryDebounceMs, persist: t.persistDebounceMs });
    const keys = new KeyRing(deps.identity, cfg.cluster);
    const sealer = new ClusterSealer(cfg.secret);
    const tls = deps.identity.tlsOptions.bind(deps.identity);
    const publisher = new Publisher({ cluster: cfg.cluster, self, signer: keys, sealer, log });
    const facts = new FactsWatch(deps.facts ?? new FactsSource(cfg.stateDir), t, log);
    const card = () => ({ host: self, address: cfg.host.address, port: cfg.host.port, priority: cfg.host.priority, cores: facts.current.cores, memMB: facts.current.memMB });
    const seeds = otherSeeds(cfg);
    // The card's cores and memory are read at start (facts); until then it ranks nowhere.
    const core = new MembershipCore(card(), { cluster: cfg.cluster, timings: t, hasSeeds: seeds.length > 0 });
    const broker = new EmbeddedBroker({ cluster: cfg.cluster, address: cfg.host.address, port: cfg.host.port, identity: deps.identity, clock, log: log.child({ ns: 'broker' }) });
    const status: StatusServer = new StatusServer(
      { socket: cfg.statusSocket, tcp: cfg.web ? { address: cfg.web.address, port: cfg.web.port, token: cfg.web.token.reveal() } : null, ui: uiFiles() },
      { status: () => this.snapshot(), metrics: () => observers.metrics.render(), initial: () => observers.initial() },
    );
    const notify = new NotifyShell(deps.env ?? process.env, log);

    // The CCP: driver, controller, and the election that gives it its goal.
    const ccpState = join(cfg.stateDir, 'ccp');
    const services = cfg.ccp.service === 'systemd' ? new SystemdServices() : new SupervisedServices(ccpState);
    const presenceSoon = () => rendezvous.presenceSoon();
    let vipIface: string | null = null;
    const ccp: CcpController = new CcpController(new K3sDriver(cfg.ccp, services), {
      cluster: cfg.cluster,
      self: { name: self, addresses: [cfg.host.address] },
      local: cfg.ccp,
      token: deriveK3sToken(cfg.secret, cfg.cluster),
      config: (): CcpConfig => election.config,
      timings: t,
      clock,
      probeTcp: (a, p, ms) => probeTcp(a, p, ms),
      // The interface found once: while the cable is out, the OS lists no address on it.
      vip: new IpVip(() => (vipIface ??= cfg.link.interface ?? interfaceOf(cfg.host.address)), log.child({ ns: 'vip' })),
      log: log.child({ ns: 'ccp' }),
      onChange: presenceSoon,
      onEvent: (name, fields) => events.record(name, fields),
    });
    const liveness = new Liveness({
      cluster: cfg.cluster, self, incarnation, address: cfg.host.address, port: cfg.host.port, timings: t, clock, log: log.child({ ns: 'liveness' }),
      pairKey: (host) => keys.pairKey(host),
      // A member in the view, or one that left for another broker (its last presence named
      // where): not one whose agent stopped or died (its last presence is offline, going nowhere).
      admit: (host, inc) => {
        const m = core.members.get(host);
        return m !== undefined && m.incarnation > 0 && m.incarnation <= inc && (m.status !== 'offline' || m.movedTo !== null);
      },
      onEvent: (e) => peers.onLiveness(e),
    });
    const election: ElectionShell = new ElectionShell({
      cluster: cfg.cluster,
      self: card,
      port: cfg.ccp.port,
      timings: t,
      configured: loadCcpConfig(cfg.clusterConfig),
      file: electionFile(cfg.stateDir),
      ccp,
      log: log.child({ ns: 'election' }),
      publish: (kind, msg) => void publisher.publish(rendezvous.session, kind, msg),
      presenceChanged: presenceSoon,
      onExcluded: (members, claim) => peers.onExcluded(members, claim),
      silence: (host) => liveness.silence(host),
      dead: (host) => liveness.dead(host),
      hostOf: (endpoint) => {
        const address = endpointAddress(endpoint);
        return address === null ? null : hostAt(core.members.values(), address);
      },
      known: () => [...core.members.values()].map((m) => m.card),
    });
    const presence = new PresenceSource(cfg.cluster, incarnation, keys.cert.toString('base64'), {
      card,
      facts: () => facts.current,
      rendezvous: () => rendezvous.host,
      ccpReport: () => ccp.report,
      ccpReach: () => election.reachReport(clock.now()),
      claim: () => election.claim,
      isolated: () => core.isIsolated,
      term: () => election.highestTerm,
      unreachable: () => peers.unreachable,
      carrier: () => link.status()?.carrier ?? null,
      now: () => clock.now(),
    });
    const step = () => {
      if (this.stopper.stopping) return;
      // Only members confirmed on the current broker: pending ones (carried over from the
      // previous broker) may never arrive, and must not make a lone host think it still has a group.
      const view = [...core.members.values()].filter((m) => m.status === 'online').map((m) => ({ card: m.card, ccp: m.ccp, term: m.term, unreachable: m.unreachable }));
      election.step(clock.now(), view, presence.ccp(), core.isIsolated, peers.unreachable);
    };
    const inbox = new Inbox(cfg.cluster, keys, sealer, {
      presence: (p) => {
        rendezvous.run(core.onPresence(clock.now(), p, incarnation));
        step();
      },
      claim: (c, by) => {
        election.onClaim(c, by);
        step();
      },
      config: (m, by) => {
        election.onConfig(m, by);
        step();
      },
    }, log);
    const rendezvous: Rendezvous = new Rendezvous(
      { cfg, core, store: membershipFile(cfg.stateDir), clock, log, publisher, debounce, events, tls },
      {
        presence: (state, movedTo = null, at) => presence.build(state, movedTo, at === undefined ? rendezvous.host : at),
        publishLocal: (topic, payload, retain, qos) => broker.publishLocal(topic, payload, retain, qos),
        probeTcp: (a, p, ms) => probeTcp(a, p, ms),
        openSession: (o) => new Session({ ...o, cluster: cfg.cluster, self, tls: tls(), keepaliveSec: t.keepaliveSec, connectTimeoutMs: t.probeTimeoutMs * 2 }),
        heardFrom: (host) => liveness.state(host) === 'up',
        onMessage: (topic, payload) => inbox.onMessage(topic, payload),
        onRendezvousChanged: (now) => election.brokerChanged(now),
        onSessionUp: step,
        dropped: (r, d, w) => inbox.dropped(r, d, w),
      },
    );
    const peers: PeerWatch = new PeerWatch({
      self, log: log.child({ ns: 'liveness' }), clock, liveness, broker, core,
      rendezvous: () => (rendezvous.session ? rendezvous.host : null),
      ccpHost: () => election.assignment?.host ?? null,
      run: (actions) => rendezvous.run(actions),
      dropSession: (reason) => rendezvous.failSession(reason),
      presenceChanged: presenceSoon,
      excludedRetryMs: t.excludedRetryMs,
      event: (name, fields) => events.record(name, fields),
    });
    const probes = new CcpProbeLoop(t, clock, {
      assignment: () => election.assignment,
      situation: (a) => {
        if (a.host === self) {
          // A merge under way: members of this view that follow another CCP.
          const contested = core.view().some((h) => {
            const r = h === self ? undefined : core.members.get(h)?.ccp;
            return r !== undefined && r !== null && r.role !== 'none' && r.endpoint !== null && r.endpoint !== a.endpoint;
          });
          return { calm: ccp.serverCalm(core.view()), outOfView: null, contested };
        }
        const m = core.members.get(a.host);
        // The CCP host's agent matters only while the host is out of this view.
        const quiet = liveness.quiet(a.host);
        return { calm: m?.status === 'online' && !quiet, outOfView: m && m.status !== 'online' ? m.card : null, dead: liveness.dead(a.host), untilDeadMs: quiet ? liveness.untilDead(a.host) : null };
      },
      probeCcp: (a, contested, timeoutMs) => ccp.probe(a, contested, timeoutMs),
      probeAgent: (c) => probeTcp(c.address, c.port, t.ccpProbeTimeoutMs),
      onProbeStart: (key, now) => election.onProbeStart(key, now),
      onReach: (key, ok, now) => {
        election.onReach(key, ok, now);
        reachWatch();
      },
      onAgentProbe: (host, ok, now) => election.onAgentProbe(host, ok, now),
    });
    // Members report whether they reach the CCP: the presence goes out again when that changes.
    let lastReach: boolean | null = null;
    const reachWatch = () => {
      const r = election.reachReport(clock.now());
      if (r !== lastReach) {
        lastReach = r;
        presenceSoon();
      }
    };
    const link = new LinkWatch({ link: cfg.link, address: cfg.host.address, clock, log: log.child({ ns: 'link' }), watcher: deps.linkWatcher }, (d) => {
      const now = clock.now();
      if (d.type === 'link-lost') log.warn({ reason: d.reason }, 'own link lost: this host is isolated');
      else {
        log.info('own link back: reconnecting');
        liveness.ownLinkBack();
      }
      rendezvous.run(core.onLink(now, d.type === 'link-back', d.type === 'link-lost' ? d.reason : ''));
    });
    const notifyText = () => {
      const r = core.rendezvous;
      return core.isIsolated ? 'isolated: own link down' : `member of ${cfg.cluster}, rendezvous ${r.host ?? '-'}${r.up ? '' : ' (reconnecting)'}, ${core.view().length} seen`;
    };
    const observers: Observers = new Observers({
      cfg, log: log.child({ ns: 'observe' }), events, publisher,
      session: () => rendezvous.session,
      status: () => this.snapshot(),
      server: () => status,
      situation: () => {
        const now = clock.now();
        const el = election.snapshot();
        const a = election.assignment;
        const ready = a ? (a.host === self ? ccp.status.ready : core.members.get(a.host)?.ccp?.state === 'ready') : false;
        return {
          now, self, role: el.role, primary: el.primary, term: el.term, members: core.view(), ccp: el.ccp ? { host: el.ccp.host, generation: el.ccp.generation, ready } : null, bound: el.members.includes(self),
          ccpReach: election.reachReport(now), silentMs: (h) => (h === self ? null : liveness.silence(h)), isolated: core.isIsolated, excluded: el.excluded, carrier: link.status()?.carrier ?? null,
        };
      },
    });
    let ticker: NodeJS.Timeout | null = null;

    this.snapshot = () =>
      snapshot({ cfg, now: clock.now(), startedAt: this.startedAt, incarnation, core, election, ccp, link, facts, broker, liveness, peers, drops: inbox.drops, events });

    this.start_ = async () => {
      facts.start(() => void rendezvous.publishPresence());
      core.self = card();
      let known = 0;
      try {
        const stored = membershipFile(cfg.stateDir).read();
        if (stored && stored.cluster === cfg.cluster) {
          core.restore(stored.members);
          known = stored.members.length;
        }
      } catch (err) {
        if (!(err instanceof CorruptStateError)) throw err;
        log.error({ code: err.code, file: err.file }, err.message);
      }
      mkdirSync(ccpState, { recursive: true, mode: 0o700 });
      election.load(clock.now(), seeds.length > 0);
      this.stopper.add('ccp', () => ccp.stop());
      await ccp.adopt();
      this.stopper.add('broker', () => broker.stop());
      await broker.start();
      this.stopper.add('liveness', () => liveness.stop());
      await liveness.start();
      await rendezvous.publishDirectory();
      this.stopper.add('status socket', () => status.stop());
      await status.start();
      this.stopper.add('link watch', () => link.stop());
      await link.start();
      this.stopper.add('rendezvous', () => rendezvous.stop());
      rendezvous.run(core.start(clock.now()));
      ticker = setInterval(() => {
        const now = clock.now();
        link.tick(now);
        rendezvous.run(core.tick(now));
        peers.tick(now);
        reachWatch();
        step();
        observers.tick();
        notify.status(notifyText());
      }, t.tickMs);
      ticker.unref();
      this.stopper.add('timers', () => {
        if (ticker) clearInterval(ticker);
        probes.stop();
        observers.stop();
        facts.stop();
        debounce.stop();
      });
      probes.start();
      log.info({ cluster: cfg.cluster, incarnation, known, seeds: seeds.length }, 'agent started');
      const crl = cfg.tls.crl;
      if (crl) {
        // A new CRL takes effect at once: the broker handshakes every peer again under it.
        watchFile(crl, { interval: 5000, persistent: false }, () => {
          if (!deps.identity.reloadCrl(crl)) return;
          log.warn({ crl }, 'the CRL changed: every peer handshakes again under it');
          broker.reloadTrust();
          rendezvous.failSession('the CRL changed');
        });
        this.stopper.add('CRL watch', () => unwatchFile(crl));
      }
      this.stopper.add('sd_notify', () => notify.stop());
      await notify.start(notifyText());
    };
  }

  async start(): Promise<void> {
    leanMqttPackets();
    await this.start_();
  }

  /** Stops every part that was started (the last started first), whatever fails; throws one
   * error naming every failure. */
  async stop(): Promise<void> {
    await this.stopper.stopAll();
  }
}
