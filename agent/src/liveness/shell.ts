import type { KeyObject } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { LivenessCore, type LivenessEvent, type LivenessTimings, type PeerState, type Reach, type WatchedPeer } from './core.js';
import { createDatagramPort, type Datagram, type DatagramPort } from './datagrams.js';
import { decodeHeartbeat, heartbeatBody, sealHeartbeat, type HeartbeatDrop } from './packet.js';

export interface LivenessOptions {
  cluster: string;
  self: string;
  incarnation: number;
  address: string;
  port: number;
  /** The key this host shares with a peer (trust/keyring.ts); null: no certificate of it known. */
  pairKey: (host: string) => Buffer | KeyObject | null;
  /** May a peer that is not watched be answered? Only a member whose current presence announced
   * this incarnation (or an older one) is: replays of a stopped host's datagrams are not. */
  admit: (host: string, incarnation: number) => boolean;
  timings: LivenessTimings;
  clock: Clock;
  log: Logger;
  onEvent: (e: LivenessEvent) => void;
  /** The socket (liveness/datagrams.ts); default: the addon's, else node:dgram. */
  datagrams?: DatagramPort;
}

/**
 * The UDP shell around liveness/core.ts: one socket on the host's address and the broker's
 * port number, and a timer every heartbeatMs that takes what arrived since the last tick (each
 * datagram with its arrival time; checks: size, MAC, replay), then sends this tick's heartbeats
 * in one batch. If the socket cannot be bound, the agent runs on keepalives alone and says so.
 */
export class Liveness {
  readonly core: LivenessCore;
  private socket: DatagramPort | null = null;
  private timer: NodeJS.Timeout | null = null;
  private error: string | null = null;
  private readonly dropLog = new RateLimitedLog(10_000);
  private readonly pauseLog = new RateLimitedLog(1_000);
  private lastTickAt: number | null = null;
  readonly dropped: Record<HeartbeatDrop | 'replayed' | 'stale-incarnation' | 'full' | 'unadmitted', number> = { size: 0, magic: 0, malformed: 0, 'unknown-peer': 0, signature: 0, replayed: 0, 'stale-incarnation': 0, full: 0, unadmitted: 0 };

  constructor(private readonly o: LivenessOptions) {
    this.core = new LivenessCore(o.self, o.incarnation, o.timings);
  }

  async start(): Promise<void> {
    const chosen = this.o.datagrams ? { port: this.o.datagrams, why: 'given' } : createDatagramPort(this.o.clock);
    try {
      await chosen.port.bind(this.o.address, this.o.port);
    } catch (err) {
      chosen.port.close();
      this.error = `cannot bind ${this.o.address}:${this.o.port}/udp: ${errorMessage(err)}`;
      this.o.log.error({ err: this.error }, 'heartbeats are off: peers are watched by MQTT keepalive only (free that UDP port)');
      return;
    }
    this.o.log.info({ backend: chosen.port.backend, why: chosen.why }, 'heartbeat socket');
    this.socket = chosen.port;
    this.timer = setInterval(() => this.tick(), this.o.timings.heartbeatMs);
    this.timer.unref();
  }

  watch(peers: WatchedPeer[]): void {
    this.core.watch(this.o.clock.now(), peers);
  }

  silence(host: string): number | null {
    return this.socket ? this.core.silence(host, this.o.clock.now()) : null;
  }

  /** See LivenessCore.dead. */
  dead(host: string): boolean {
    return this.socket ? this.core.dead(host, this.o.clock.now()) : false;
  }

  /** See LivenessCore.ownLinkBack. */
  ownLinkBack(): void {
    this.core.ownLinkBack(this.o.clock.now());
  }

  /** See LivenessCore.untilDead. */
  untilDead(host: string): number | null {
    return this.socket ? this.core.untilDead(host, this.o.clock.now()) : null;
  }

  quiet(host: string): boolean {
    return this.socket ? this.core.quiet(host, this.o.clock.now()) : false;
  }

  reach(host: string): Reach {
    return this.socket ? this.core.reach(host, this.o.clock.now()) : 'unknown';
  }

  /** up, down, waiting (never heard) — or null when the peer is not watched or heartbeats are off. */
  state(host: string): PeerState | null {
    return this.socket ? this.core.state(host) : null;
  }

  /** One heartbeat period: what arrived, then who is silent and who gets a heartbeat. */
  tick(): void {
    const socket = this.socket;
    if (!socket) return;
    const now = this.o.clock.now();
    // A tick later than two periods: this host's event loop was held up (CPU starved, GC, a
    // long task). Its peers may have gone over their deadline for it meanwhile.
    if (this.lastTickAt !== null && now - this.lastTickAt > 2 * this.o.timings.heartbeatMs && this.pauseLog.admit('pause') !== null) {
      this.o.log.info({ pausedMs: Math.round(now - this.lastTickAt - this.o.timings.heartbeatMs) }, 'heartbeats held up: the event loop was busy');
    }
    this.lastTickAt = now;
    for (const d of socket.drain()) this.onDatagram(d);
    const out = this.core.tick(this.o.clock.now());
    const to: { address: string; port: number }[] = [];
    const data: Buffer[] = [];
    if (out.send.length) {
      const body = heartbeatBody(out.heartbeat);
      for (const t of out.send) {
        const key = this.o.pairKey(t.host);
        if (!key) continue;
        to.push(t);
        data.push(sealHeartbeat(key, this.o.cluster, body));
      }
      socket.send(to, data);
    }
    for (const e of out.events) this.o.onEvent(e);
  }

  private onDatagram(dg: Datagram): void {
    if (dg.truncated) return this.drop('size', dg.address);
    const d = decodeHeartbeat(this.o.pairKey, this.o.cluster, dg.data);
    if (!d.ok) return this.drop(d.reason, dg.address);
    const r = this.core.onHeartbeat(dg.at, d.hb, dg, this.o.admit(d.hb.host, d.hb.incarnation));
    if (r.verdict !== 'accepted' && r.verdict !== 'self') this.drop(r.verdict, dg.address);
    for (const e of r.events) this.o.onEvent(e);
  }

  private drop(reason: keyof Liveness['dropped'], from: string): void {
    this.dropped[reason]++;
    const suppressed = this.dropLog.admit(reason);
    if (suppressed !== null) this.o.log.warn({ reason, from, suppressedSinceLast: suppressed, total: this.dropped[reason] }, 'dropped a heartbeat');
  }

  snapshot() {
    return { enabled: this.socket !== null, error: this.error, peers: this.core.snapshot(this.o.clock.now()), dropped: { ...this.dropped } };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.socket?.close();
    this.socket = null;
  }
}
