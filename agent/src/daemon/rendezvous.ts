import type { AgentConfig } from '../config/load.js';
import { filterFor, topicFor, type MemberCard, type Presence } from '../contract/index.js';
import type { DropReason } from '../contract/codec.js';
import type { Logger } from '../log/logger.js';
import type { MembershipCore, Action } from '../membership/core.js';
import type { MembershipFile } from '../membership/store.js';
import type { StateFile } from '../state/atomic-file.js';
import { readSeed } from '../transport/bootstrap.js';
import type { Session, SessionOptions } from '../transport/session.js';
import type { ClientTls } from '../transport/tls.js';
import type { Clock } from '../util/clock.js';
import type { Debouncer } from '../util/debounce.js';
import { errorMessage } from '../util/errors.js';
import type { EventLog } from './events.js';
import type { Publisher } from './publisher.js';

type Timings = AgentConfig['timings'];

/** The configured seeds other than this host itself. */
export function otherSeeds(cfg: Pick<AgentConfig, 'host' | 'seeds'>) {
  return cfg.seeds.filter((s) => !(s.address === cfg.host.address && s.port === cfg.host.port));
}

/** What the rendezvous shell needs from the rest of the agent: narrow, read-only ports. */
export interface RendezvousPorts {
  /** The presence this host publishes now (`movedTo`: an orderly move away). */
  presence(state: 'online' | 'offline', movedTo?: string | null, rendezvous?: string | null): Presence;
  /** The broker's own retained publish (the directory lives in this host's broker). */
  publishLocal(topic: string, payload: Buffer, retain: boolean, qos: 0 | 1): Promise<void>;
  probeTcp(address: string, port: number, timeoutMs: number): Promise<boolean>;
  /** A new session to `target`; `onMessage` and `onDown` are the shell's. */
  openSession(o: Pick<SessionOptions, 'host' | 'address' | 'port' | 'will' | 'subscriptions' | 'onMessage' | 'onDown' | 'confirmDead'>): Session;
  /** Is `host` still heard by heartbeats? (a late PINGRESP on a lossy link is not a dead broker) */
  heardFrom(host: string): boolean;
  onMessage(topic: string, payload: Buffer): void;
  /** The rendezvous changed: the election starts over on the new broker. */
  onRendezvousChanged(now: number): void;
  /** A session came up (the election steps). */
  onSessionUp(): void;
  dropped(reason: DropReason, detail: string, where: string): void;
}

/**
 * The membership shell: carries out membership/core.ts's actions (bootstrap from seeds, probes,
 * connect, publish presence and directory, persist) and feeds each result back to the core. It
 * owns the session to the rendezvous broker.
 */
export class Rendezvous {
  private session_: Session | null = null;
  private host_: string | null = null;
  private connectGen = 0;
  private stopped = false;

  constructor(
    private readonly o: { cfg: Pick<AgentConfig, 'cluster' | 'host' | 'seeds' | 'secret' | 'timings'>; core: MembershipCore; store: StateFile<MembershipFile>; clock: Clock; log: Logger; publisher: Publisher; debounce: Debouncer<'presence' | 'directory' | 'persist'>; events: EventLog; tls: () => ClientTls },
    private readonly p: RendezvousPorts,
  ) {}

  /** The session to the rendezvous broker, when connected. */
  get session(): Session | null {
    return this.session_;
  }

  /** The host whose broker this agent is a client of. */
  get host(): string | null {
    return this.host_;
  }

  private get t(): Timings {
    return this.o.cfg.timings;
  }


  presenceSoon = (): void => this.o.debounce.request('presence', () => void this.publishPresence());

  async publishPresence(): Promise<void> {
    await this.o.publisher.publish(this.session_, 'presence', this.p.presence('online'));
  }

  async publishDirectory(): Promise<void> {
    const now = this.o.clock.now();
    const msg = { v: 1 as const, cluster: this.o.cfg.cluster, host: this.o.cfg.host.name, rendezvous: this.host_, members: this.o.core.directory(now), ts: now };
    const pkt = this.o.publisher.packet('directory', msg);
    await this.p.publishLocal(pkt.topic, pkt.payload, pkt.retain, pkt.qos).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'directory publish failed'));
  }

  /**
   * This host has left its own broker: a claim it made there as the primary stays retained, and
   * a failover that brings the members back would obey it, CCP and generation included (a new
   * server under an old generation number, which the merge rule's tie-break takes for older than
   * the CCP the other side kept). Its turn there is over: the claim is cleared, the MQTT way (an
   * empty retained message; receivers ignore it, daemon/inbox.ts).
   */
  async withdrawClaim(): Promise<void> {
    await this.p.publishLocal(topicFor('claim', this.o.cfg.cluster, this.o.cfg.host.name), Buffer.alloc(0), true, 1).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'could not withdraw the claim retained on this host\'s broker'));
  }

  persist(): void {
    try {
      this.o.store.write({ cluster: this.o.cfg.cluster, members: this.o.core.directory(this.o.clock.now()).filter((m) => m.host !== this.o.cfg.host.name) });
    } catch (err) {
      this.o.log.error({ err: errorMessage(err), file: this.o.store.path }, 'could not persist membership; check the state directory');
    }
  }

  /** Carries out the core's decisions. Each async result is fed back into the core. */
  run(actions: Action[]): void {
    if (this.stopped) return;
    const core = this.o.core;
    for (const a of actions) {
      switch (a.type) {
        case 'bootstrap':
          void this.bootstrap();
          break;
        case 'probe':
          for (const t of a.targets) void this.p.probeTcp(t.address, t.port, this.t.probeTimeoutMs).then((ok) => this.run(core.onProbe(this.o.clock.now(), t.host, ok)));
          break;
        case 'connect':
          void this.connect(a.target);
          break;
        case 'publish-presence':
          void this.publishPresence();
          break;
        case 'publish-directory':
          this.o.debounce.request('directory', () => void this.publishDirectory());
          break;
        case 'persist':
          this.o.debounce.request('persist', () => this.persist());
          break;
        case 'event':
          if (a.name === 'rendezvous-changed') {
            this.p.onRendezvousChanged(this.o.clock.now());
            // Left its own broker for another (a reconnect to its own is not leaving it).
            if (a.fields.from === this.o.cfg.host.name && a.fields.to !== this.o.cfg.host.name) void this.withdrawClaim();
          }
          this.o.events.record(a.name, a.fields);
          break;
        case 'drop-session':
          this.dropSession();
          break;
      }
    }
  }

  private dropSession(): void {
    this.connectGen++;
    const s = this.session_;
    this.session_ = null;
    void s?.close(true);
  }

  /** Ends the session as lost (its broker's host was declared dead by heartbeats). */
  failSession(reason: string): void {
    this.session_?.fail(reason);
  }

  private async bootstrap(): Promise<void> {
    const cfg = this.o.cfg;
    const results = await Promise.allSettled(
      otherSeeds(cfg).map((seed) =>
        readSeed({ seed, cluster: cfg.cluster, self: cfg.host.name, tls: this.o.tls(), waitMs: this.t.bootstrapWaitMs, timeoutMs: this.t.probeTimeoutMs * 2, onDrop: (r, d) => this.p.dropped(r, d, 'seed') }),
      ),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const now = this.o.clock.now();
    if (ok.length === 0) {
      this.o.log.debug({ seeds: results.length }, 'no seed answered');
      this.run(this.o.core.onBootstrapFailed(now));
      return;
    }
    this.run(this.o.core.onBootstrap(now, ok.flatMap((r) => r.cards), ok.find((r) => r.hint)?.hint ?? null));
  }

  private async connect(target: MemberCard): Promise<void> {
    const gen = this.connectGen;
    const cluster = this.o.cfg.cluster;
    const will = this.o.publisher.packet('presence', this.p.presence('offline', null, target.host));
    const session = this.p.openSession({
      host: target.host,
      address: target.address,
      port: target.port,
      will,
      subscriptions: (['presence', 'claim', 'config'] as const).map((k) => filterFor(k, cluster)),
      // Heartbeats that still arrive say the broker's host is there; a late PINGRESP is then a
      // stalled TCP stream on a lossy link, not a dead broker.
      confirmDead: async () => !this.p.heardFrom(target.host) && !(await this.p.probeTcp(target.address, target.port, this.t.probeTimeoutMs)),
      // Only the current session speaks for the rendezvous. During a make-before-break move the
      // old one is still open: what it delivers then (a member's offline presence as it moves
      // too) would be read as news from the new broker, and that member left out of the view.
      onMessage: (topic, payload) => {
        if (this.session_ === session) this.p.onMessage(topic, payload);
      },
      onDown: (reason) => {
        if (this.session_ !== session) return;
        this.o.log.warn({ rendezvous: target.host, reason }, 'rendezvous session lost');
        this.session_ = null;
        this.run(this.o.core.onSessionDown(this.o.clock.now(), target.host));
      },
    });
    try {
      await session.open();
    } catch (err) {
      this.o.log.debug({ target: target.host, err: errorMessage(err) }, 'connect failed');
      this.run(this.o.core.onConnectFailed(this.o.clock.now(), target.host));
      return;
    }
    if (this.stopped || gen !== this.connectGen) return void session.close(true);
    const previous = this.session_;
    const previousHost = this.host_;
    this.session_ = session;
    this.host_ = target.host;
    this.run(this.o.core.onSessionUp(this.o.clock.now(), target.host));
    session.activate();
    this.p.onSessionUp();
    if (previous) {
      // Make before break: tell the old broker where we went, then leave it cleanly.
      await this.o.publisher.publish(previous, 'presence', this.p.presence('offline', target.host, previousHost));
      await previous.close();
    }
  }

  /** An orderly departure: offline presence, DISCONNECT (no will), membership saved. */
  async stop(): Promise<void> {
    this.stopped = true;
    const session = this.session_;
    this.session_ = null;
    if (session) {
      await this.o.publisher.publish(session, 'presence', this.p.presence('offline'));
      await session.close();
    }
    this.persist();
  }
}
