import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { tlsTo, type ClientTls } from './tls.js';

export interface SessionOptions {
  cluster: string;
  self: string;
  /** The host whose broker this is (its certificate must name it). */
  host: string;
  address: string;
  port: number;
  tls: ClientTls;
  keepaliveSec: number;
  connectTimeoutMs: number;
  will: { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean };
  /** Asked on a keepalive timeout: is the broker really gone? (A lossy link delays pings.) */
  confirmDead?: () => Promise<boolean>;
  subscriptions: string[];
  onMessage: (topic: string, payload: Buffer) => void;
  onDown: (reason: string) => void;
}

/**
 * One MQTT client session to a rendezvous broker. It does not reconnect by itself: the core
 * decides where to connect next, so `onDown` fires once and the session is finished.
 */
export class Session {
  private client: MqttClient | null = null;
  private finished = false;
  /** Messages that arrive before activate() (retained ones, right after SUBACK) wait here, so
   * the core hears of the new session before it hears what was said on it. */
  private held: [string, Buffer][] | null = [];
  private down: ((reason: string) => void) | null = null;

  constructor(readonly opts: SessionOptions) {}

  /** Resolves once connected and subscribed; rejects on refusal or timeout. */
  open(): Promise<void> {
    const o = this.opts;
    return new Promise((resolve, reject) => {
      const client = mqtt.connect({
        host: o.address,
        port: o.port,
        ...tlsTo(o.tls, o.host),
        protocolVersion: 4,
        clientId: `ivr-${o.self}-${randomBytes(4).toString('hex')}`,
        username: o.self,
        keepalive: o.keepaliveSec,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: o.connectTimeoutMs,
        will: o.will,
        resubscribe: false,
      });
      this.client = client;
      this.tolerateLoss(client);
      let settled = false;
      client.on('message', (topic, payload) => {
        if (this.finished) return;
        if (this.held) this.held.push([topic, payload]);
        else o.onMessage(topic, payload);
      });
      client.on('error', (err) => {
        if (!settled) {
          settled = true;
          this.finish();
          reject(err);
        }
      });
      const down = (reason: string) => {
        if (!settled) {
          settled = true;
          this.finish();
          reject(new Error(reason));
          return;
        }
        if (!this.finished) {
          this.finish();
          o.onDown(reason);
        }
      };
      this.down = down;
      client.on('close', () => down('connection closed'));
      client.on('offline', () => down('offline'));
      client.on('connect', () => {
        client.subscribe(
          o.subscriptions.map((t) => t),
          { qos: 1 },
          (err) => {
            if (settled) return;
            settled = true;
            if (err) {
              this.finish();
              reject(err);
            } else resolve();
          },
        );
      });
    });
  }

  /**
   * mqtt.js drops the session when a PINGRESP is late (half a keepalive). On a lossy link a
   * retransmitted ping takes longer. On the first timeout `confirmDead` is asked instead (the
   * broker host's heartbeats, else a probe of the broker): if the broker is there, the session
   * is kept and pinged again; if not, or on a second timeout in a row, the session is dropped.
   * (A dead broker host is normally noticed sooner, by its heartbeats: docs/liveness.md.)
   */
  private tolerateLoss(client: MqttClient): void {
    const confirm = this.opts.confirmDead;
    if (!confirm) return;
    const c = client as unknown as { onKeepaliveTimeout: () => void; reschedulePing: (force?: boolean) => void; sendPing: () => void };
    const drop = c.onKeepaliveTimeout.bind(client);
    let strikes = 0;
    let checking = false;
    client.on('packetreceive', () => {
      strikes = 0;
    });
    c.onKeepaliveTimeout = () => {
      if (this.finished) return drop();
      strikes++;
      if (strikes > 1 || checking) return drop();
      checking = true;
      c.reschedulePing(true);
      c.sendPing();
      void confirm().then((dead) => {
        checking = false;
        if (dead && !this.finished) drop();
      });
    };
  }

  /** Ends the session as lost (its peer was declared dead by heartbeats): `onDown` fires. */
  fail(reason: string): void {
    this.down?.(reason);
  }

  /** Delivers the held messages, then every message as it arrives. */
  activate(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const [topic, payload] of held) if (!this.finished) this.opts.onMessage(topic, payload);
  }

  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void> {
    const client = this.client;
    if (!client || this.finished) return Promise.resolve();
    return new Promise((resolve) => client.publish(topic, payload, { qos, retain }, () => resolve()));
  }

  /** An orderly end: what is queued goes out, then DISCONNECT (so the will is not sent).
   * `force` ends at once (the link is gone: nothing would get through). */
  async close(force = false): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.finished = true;
    await new Promise<void>((resolve) => client.end(force, {}, () => resolve()));
  }

  /** Ends at once without a DISCONNECT. */
  private finish(): void {
    this.finished = true;
    const client = this.client;
    if (client) client.end(true);
  }
}
