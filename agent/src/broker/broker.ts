import { createServer, type Server } from 'node:net';
import { Aedes, type AedesOptions, type AuthenticateError } from 'aedes';
import type { Logger } from '../log/logger.js';
import type { Secret } from '../config/secret.js';
import { CONTRACT, mayPublish, maySubscribe, parseTopic } from '../contract/index.js';
import { NAME_RE } from '../config/names.js';

/** MQTT CONNACK return codes (3.1.1). */
const BAD_USERNAME_OR_PASSWORD = 4;

export interface BrokerOptions {
  cluster: string;
  address: string;
  port: number;
  secret: Secret;
  log: Logger;
}

export interface BrokerCounters {
  refusedConnects: number;
  refusedPublishes: number;
  refusedSubscribes: number;
}

/** The pure access-control decisions of the embedded broker, kept apart to be tested alone. */
export function brokerPolicy(cluster: string, secret: Secret, counters: BrokerCounters): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  return {
    authenticate(_client, username, password, done) {
      if (!username || !NAME_RE.test(username) || !secret.matches(password)) {
        counters.refusedConnects++;
        const err = new Error('bad username or password') as AuthenticateError;
        err.returnCode = BAD_USERNAME_OR_PASSWORD;
        done(err, false);
        return;
      }
      done(null, true);
    },
    // A refused publish closes the client's connection: MQTT 3.1.1 has no negative PUBACK,
    // and a member that publishes as someone else is misbehaving.
    authorizePublish(client, packet, done) {
      // Publishes by the broker itself (client null) are the agent's own: allowed.
      if (client === null) return done(null);
      const user = (client as unknown as { infravisorHost?: string }).infravisorHost;
      const size = packet.payload ? (packet.payload as Buffer).length : 0;
      const kind = parseTopic(cluster, packet.topic)?.kind;
      if (!user || !kind || size > CONTRACT[kind].maxBytes || !mayPublish(cluster, user, packet.topic)) {
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
 * The broker every agent embeds (aedes, MQTT 3.1.1), served on the host's address. Only
 * clients presenting the cluster credential are accepted; the MQTT username is the client's
 * host name, and it may publish only on its own host's topics and the protocol topics.
 */
export class EmbeddedBroker {
  readonly counters: BrokerCounters = { refusedConnects: 0, refusedPublishes: 0, refusedSubscribes: 0 };
  private aedes: Aedes | null = null;
  private server: Server | null = null;

  constructor(private readonly opts: BrokerOptions) {}

  async start(): Promise<void> {
    const policy = brokerPolicy(this.opts.cluster, this.opts.secret, this.counters);
    const aedes = await Aedes.createBroker({
      heartbeatInterval: 60_000,
      connectTimeout: 5_000,
      maxClientsIdLength: 64,
      authenticate: (client, username, password, done) => {
        policy.authenticate!(client, username, password, (err, ok) => {
          if (ok) (client as unknown as { infravisorHost?: string }).infravisorHost = username;
          done(err, ok);
        });
      },
      authorizePublish: policy.authorizePublish!,
      authorizeSubscribe: policy.authorizeSubscribe!,
    });
    aedes.on('clientError', (client, err) => this.opts.log.debug({ client: client?.id, err: err.message }, 'broker client error'));
    aedes.on('connectionError', (_client, err) => this.opts.log.debug({ err: err.message }, 'broker connection error'));
    this.aedes = aedes;
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.address, port: this.opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.opts.log.info({ address: this.opts.address, port: this.opts.port }, 'broker listening');
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
  private clients(): { infravisorHost?: string; close: () => void }[] {
    return Object.values((this.aedes as unknown as { clients?: Record<string, { infravisorHost?: string; close: () => void }> } | null)?.clients ?? {});
  }

  /** The hosts with a client connected to this broker. */
  clientHosts(): string[] {
    const clients = this.clients();
    return [...new Set(clients.flatMap((c) => (c.infravisorHost ? [c.infravisorHost] : [])))];
  }

  /**
   * Closes the connections of `host`'s clients, as a lapsed keepalive would: their wills (the
   * host's offline presence) are published. For a host declared dead by heartbeats.
   */
  evict(host: string): number {
    const gone = this.clients().filter((c) => c.infravisorHost === host);
    for (const c of gone) c.close();
    return gone.length;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = null;
    this.aedes = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}
