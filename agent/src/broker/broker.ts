import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../log/logger.js';
import { CONTRACT, mayPublish, maySubscribe, parseTopic } from '../contract/index.js';
import type { Identity } from '../trust/identity.js';
import { subjectOf } from '../trust/identity.js';
import type { Clock } from '../util/clock.js';
import { Admission, type AdmissionLimits } from './admission.js';
import { FrameGuard, type FrameLimits } from './frame-guard.js';

/** MQTT CONNACK return codes (3.1.1). */
const BAD_USERNAME_OR_PASSWORD = 4;
const IDENTIFIER_REJECTED = 2;

export interface BrokerOptions {
  cluster: string;
  address: string;
  port: number;
  identity: Identity;
  clock: Clock;
  log: Logger;
  frames?: FrameLimits;
  admission?: AdmissionLimits;
  /** How long a TLS handshake may take. */
  handshakeTimeoutMs?: number;
}

export interface BrokerCounters {
  refusedConnects: number;
  refusedPublishes: number;
  refusedSubscribes: number;
  /** TLS handshakes that failed (no certificate, another CA, revoked…), and connections turned away before one. */
  failedHandshakes: number;
  turnedAway: number;
  /** Connections ended by the framing check (contract limits, stalled packets). */
  framingViolations: number;
}

/** Who is on the other end of a connection: the host name and role of its certificate. */
export interface Peer {
  name: string;
  role: string;
}

type Conn = { infravisorPeer?: Peer };
const peerOf = (client: Client | null): Peer | undefined => (client?.conn as unknown as Conn | undefined)?.infravisorPeer;

/** The largest payload of any topic, plus room for the topic and the fixed header. */
export const DEFAULT_FRAMES: FrameLimits = { connectMax: 32 * 1024, packetMax: Math.max(...Object.values(CONTRACT).map((s) => s.maxBytes)) + 1024, partialTimeoutMs: 10_000 };
export const DEFAULT_ADMISSION: AdmissionLimits = { maxHandshakes: 32, maxFailures: 10, windowMs: 10_000, banMs: 30_000 };

/**
 * The pure access-control decisions of the embedded broker, kept apart to be tested alone. The
 * identity of a client is its TLS certificate (CN: host, OU: role), checked by the TLS layer
 * against the cluster CA and CRL before any MQTT byte is read.
 */
export function brokerPolicy(cluster: string, counters: BrokerCounters): Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  return {
    // A client id is the host's own (`ivr-HOST-…`): no host can take over another's session.
    preConnect(client, packet, done) {
      const peer = peerOf(client);
      const ok = peer !== undefined && typeof packet.clientId === 'string' && packet.clientId.startsWith(`ivr-${peer.name}-`);
      if (!ok) {
        counters.refusedConnects++;
        const err = new Error(`client id ${packet.clientId} is not one of ${peer?.name ?? 'an unknown peer'}'s`) as AuthenticateError;
        err.returnCode = IDENTIFIER_REJECTED;
        return done(err, false);
      }
      done(null, true);
    },
    authenticate(client, username, _password, done) {
      const peer = peerOf(client);
      if (!peer || (username !== undefined && username !== '' && username !== peer.name)) {
        counters.refusedConnects++;
        const err = new Error('the MQTT username must be the certificate\'s host name') as AuthenticateError;
        err.returnCode = BAD_USERNAME_OR_PASSWORD;
        done(err, false);
        return;
      }
      done(null, true);
    },
    // A refused publish closes the client's connection: MQTT 3.1.1 has no negative PUBACK,
    // and a member that publishes as someone else is misbehaving. Observers publish nothing.
    authorizePublish(client, packet, done) {
      // Publishes by the broker itself (client null) are the agent's own: allowed.
      if (client === null) return done(null);
      const peer = peerOf(client);
      const size = packet.payload ? (packet.payload as Buffer).length : 0;
      const kind = parseTopic(cluster, packet.topic)?.kind;
      if (!peer || peer.role !== 'host' || !kind || size > CONTRACT[kind].maxBytes || !mayPublish(cluster, peer.name, packet.topic)) {
        counters.refusedPublishes++;
        return done(new Error(`publish on ${packet.topic} refused`));
      }
      done(null);
    },
    authorizeSubscribe(_client, sub, done) {
      if (!maySubscribe(cluster, sub.topic)) {
        counters.refusedSubscribes++;
        return done(null, null); // SUBACK failure (0x80); the client stays connected
      }
      done(null, sub);
    },
  };
}

/**
 * The broker every agent embeds (aedes, MQTT 3.1.1 over mutual TLS), served on the host's
 * address. In front of aedes: the TLS server (certificates from the cluster CA, the CRL, a
 * handshake deadline), an admission check (handshakes at once, failed sources turned away for a
 * while and logged with their address), and the framing check (frame-guard.ts).
 */
export class EmbeddedBroker {
  readonly counters: BrokerCounters = { refusedConnects: 0, refusedPublishes: 0, refusedSubscribes: 0, failedHandshakes: 0, turnedAway: 0, framingViolations: 0 };
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private readonly admission: Admission;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: BrokerOptions) {
    this.admission = new Admission(opts.admission ?? DEFAULT_ADMISSION);
  }

  async start(): Promise<void> {
    const o = this.opts;
    const aedes = await Aedes.createBroker({ heartbeatInterval: 60_000, connectTimeout: 5_000, maxClientsIdLength: 100, keepaliveLimit: 60, ...brokerPolicy(o.cluster, this.counters) });
    aedes.on('clientError', (client, err) => o.log.debug({ client: client?.id, err: err.message }, 'broker client error'));
    aedes.on('connectionError', (_client, err) => o.log.debug({ err: err.message }, 'broker connection error'));
    this.aedes = aedes;
    const server = createServer({ ...o.identity.tlsOptions(), requestCert: true, rejectUnauthorized: true, handshakeTimeout: o.handshakeTimeoutMs ?? 5000, minVersion: 'TLSv1.2' }, (socket: TLSSocket) => this.accept(aedes, socket));
    server.on('connection', (raw: Socket) => {
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
      const source = raw.remoteAddress ?? '?';
      const verdict = this.admission.admit(o.clock.now(), source);
      if (verdict !== 'ok') {
        this.counters.turnedAway++;
        raw.destroy();
        return;
      }
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          this.admission.done();
        }
      };
      // It counts as in its handshake until it closes or the handshake deadline has passed
      // (by then it is through, or TLS ended it).
      raw.once('close', finish);
      setTimeout(finish, o.handshakeTimeoutMs ?? 5000).unref();
    });
    server.on('tlsClientError', (err, socket) => {
      // A connection that sent nothing and closed is a reachability probe (transport/probe.ts:
      // peers probe brokers with plain TCP connects), not a failed handshake.
      const sent = (socket as TLSSocket & { _parent?: { bytesRead?: number } })._parent?.bytesRead ?? socket.bytesRead;
      if (sent === 0 && (err as NodeJS.ErrnoException).code === 'ECONNRESET') return;
      this.counters.failedHandshakes++;
      const source = socket.remoteAddress ?? '?';
      const r = this.admission.failed(o.clock.now(), source);
      if (r.log) o.log.warn({ source, err: err.message, suppressedSinceLast: r.suppressed, turnedAway: r.banned }, 'TLS handshake refused');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: o.address, port: o.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    o.log.info({ address: o.address, port: o.port }, 'broker listening (mutual TLS)');
  }

  private accept(aedes: Aedes, socket: TLSSocket): void {
    socket.setNoDelay(true);
    const cert = socket.getPeerX509Certificate();
    const s = cert ? subjectOf(cert) : null;
    if (!s?.name || !s.role) {
      this.counters.refusedConnects++;
      socket.destroy();
      return;
    }
    const guard = new FrameGuard(socket, this.opts.frames ?? DEFAULT_FRAMES, (v) => {
      this.counters.framingViolations++;
      this.opts.log.warn({ peer: s.name, source: socket.remoteAddress, violation: v }, 'connection closed: MQTT framing');
    });
    (guard as unknown as Conn).infravisorPeer = { name: s.name, role: s.role };
    aedes.handle(guard as never);
  }

  /** Uses a new CRL (and CA) for new handshakes, and ends every connection so that each peer
   * handshakes again under it: a revoked host is refused at once. */
  reloadTrust(): void {
    this.server?.setSecureContext({ ...this.opts.identity.tlsOptions() });
    for (const c of this.clients()) c.close();
  }

  /** Publishes from the broker itself (used for this host's retained directory). */
  publishLocal(topic: string, payload: Buffer, retain: boolean, qos: 0 | 1): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      aedes.publish({ cmd: 'publish', topic, payload, retain, qos, dup: false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** aedes keeps its connected clients by id (not in its typings). */
  private clients(): (Client & { close: () => void })[] {
    return Object.values((this.aedes as unknown as { clients?: Record<string, Client & { close: () => void }> } | null)?.clients ?? {});
  }

  /** The hosts with a client connected to this broker. */
  clientHosts(): string[] {
    return [...new Set(this.clients().flatMap((c) => {
      const p = peerOf(c);
      return p?.role === 'host' ? [p.name] : [];
    }))];
  }

  /**
   * Closes the connections of `host`'s clients, as a lapsed keepalive would: their wills (the
   * host's offline presence) are published. For a host declared dead by heartbeats.
   */
  evict(host: string): number {
    const gone = this.clients().filter((c) => peerOf(c)?.name === host);
    for (const c of gone) c.close();
    return gone.length;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Stops listening and ends every connection (a client still connected does not hold it up). */
  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = null;
    this.aedes = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await closed;
  }
}
