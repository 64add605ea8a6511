import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../agent/src/broker/broker.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { MAX_PAYLOAD_BYTES } from '../../agent/src/contract/index.js';
import { revoke } from '../../agent/src/trust/pki.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/tmp.js';
import { connectTls, identityOf, issueFor, makePki, type TlsPaths } from '../support/pki.js';

let broker: EmbeddedBroker | null = null;
const clients: mqtt.MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await broker?.stop();
  broker = null;
});

interface Setup {
  port: number;
  dir: string;
  tls: Record<string, TlsPaths>;
}

async function startBroker(o: { frames?: ConstructorParameters<typeof EmbeddedBroker>[0]['frames'] } = {}): Promise<Setup> {
  const dir = tempDir();
  const tls = await makePki(dir, 'home', ['pi0', 'pi1', 'pi2']);
  tls.watcher = await issueFor(join(dir, 'pki'), 'watcher', 'observer');
  const port = 20000 + Math.floor(Math.random() * 20000);
  broker = new EmbeddedBroker({ cluster: 'home', address: '127.0.0.1', port, identity: identityOf(tls.pi0!, 'pi0'), clock: { now: () => Date.now() }, log: silentLogger(), ...o });
  await broker.start();
  return { port, dir, tls };
}

async function as(s: Setup, name: string, clientId = `ivr-${name}-t`): Promise<mqtt.MqttClient> {
  const c = await connectTls({ address: '127.0.0.1', port: s.port, tls: s.tls[name]!, clientId });
  clients.push(c);
  return c;
}

const closed = (c: mqtt.MqttClient) => new Promise<void>((r) => c.once('close', () => r()));

describe('the embedded broker: mutual TLS, identity from the certificate', () => {
  it('refuses plaintext MQTT, a TLS client without a certificate, and a certificate of another cluster', async () => {
    const s = await startBroker();
    const plain = mqtt.connect({ host: '127.0.0.1', port: s.port, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000, username: 'pi1', password: 'anything' });
    clients.push(plain);
    await expect(new Promise((res, rej) => (plain.once('connect', res), plain.once('error', rej), plain.once('close', () => rej(new Error('closed')))))).rejects.toThrow();
    await expect(connectTls({ address: '127.0.0.1', port: s.port, tls: { ca: s.tls.pi1!.ca }, clientId: 'ivr-pi1-x' })).rejects.toThrow();
    const other = await makePki(tempDir(), 'home', ['pi1']); // same names, another CA
    await expect(connectTls({ address: '127.0.0.1', port: s.port, tls: other.pi1!, clientId: 'ivr-pi1-x' })).rejects.toThrow();
    await waitFor(() => broker!.counters.failedHandshakes >= 2, 3000, 'the handshakes counted');
  });

  it("delivers a client's publishes on its own topics only, and nothing oversized", async () => {
    const s = await startBroker();
    const reader = await as(s, 'pi2');
    const got: string[] = [];
    reader.on('message', (t) => got.push(t));
    await reader.subscribeAsync('ivr/v1/home/#', { qos: 1 });
    await expect(reader.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/); // SUBACK 0x80
    expect(reader.connected).toBe(true);
    const forger = await as(s, 'pi1');
    const fc = closed(forger);
    forger.publish('ivr/v1/home/presence/pi2', 'forged', { qos: 0 });
    await fc; // the broker drops a client that publishes as another host
    const big = await as(s, 'pi1');
    const bc = closed(big);
    big.publish('ivr/v1/home/presence/pi1', Buffer.alloc(MAX_PAYLOAD_BYTES + 1), { qos: 0 });
    await bc;
    const pi1 = await as(s, 'pi1');
    await pi1.publishAsync('ivr/v1/home/presence/pi1', 'mine', { qos: 1 });
    // The refused publishes were made (and their clients closed) before this one: once it has
    // arrived, anything of theirs would have arrived too.
    await waitFor(() => got.length > 0, 5000, 'the allowed publish delivered');
    expect(got).toEqual(['ivr/v1/home/presence/pi1']);
    expect(broker!.counters.refusedPublishes).toBe(2);
    expect(broker!.counters.refusedSubscribes).toBe(1);
  });

  it("refuses another host's client id (no session takeover) and an MQTT username that is not the certificate's", async () => {
    const s = await startBroker();
    const pi2 = await as(s, 'pi2', 'ivr-pi2-live');
    await expect(connectTls({ address: '127.0.0.1', port: s.port, tls: s.tls.pi1!, clientId: 'ivr-pi2-live' })).rejects.toThrow(/Identifier rejected|closed before CONNACK/i);
    await expect(connectTls({ address: '127.0.0.1', port: s.port, tls: s.tls.pi1!, clientId: 'ivr-pi1-u', username: 'pi2' })).rejects.toThrow(/Bad username or password/i);
    expect(pi2.connected).toBe(true);
  });

  it('an observer reads the contract and may publish nothing', async () => {
    const s = await startBroker();
    const pi1 = await as(s, 'pi1');
    await pi1.publishAsync('ivr/v1/home/presence/pi1', 'retained', { qos: 1, retain: true });
    const w = await as(s, 'watcher');
    const got: string[] = [];
    w.on('message', (t) => got.push(t));
    await w.subscribeAsync('ivr/v1/home/#', { qos: 1 });
    await waitFor(() => got.includes('ivr/v1/home/presence/pi1'), 3000, 'the observer reads a retained presence');
    const wc = closed(w);
    w.publish('ivr/v1/home/presence/watcher', 'x', { qos: 0 });
    await wc;
    expect(broker!.counters.refusedPublishes).toBe(1);
  });

  it('a revoked host is refused once the CRL is reloaded, and its open session ends', async () => {
    const s = await startBroker();
    const pi2 = await as(s, 'pi2');
    await revoke(join(s.dir, 'pki'), 'pi2');
    const id = identityOf(s.tls.pi0!, 'pi0');
    // The broker was built with the identity read before the revocation: re-read it.
    expect(id.reloadCrl(s.tls.pi0!.crl)).toBe(false); // this fresh copy has the new CRL already
    const c = closed(pi2);
    (broker as unknown as { opts: { identity: typeof id } }).opts.identity.reloadCrl(s.tls.pi0!.crl);
    broker!.reloadTrust();
    await c;
    await expect(as(s, 'pi2')).rejects.toThrow();
    await expect(as(s, 'pi1')).resolves.toBeTruthy();
  });
});

describe('the embedded broker: limits before aedes buffers anything', () => {
  /** A raw TLS connection with pi1's certificate, for bytes no MQTT client would send. */
  const raw = (s: Setup) =>
    new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
      const t = s.tls.pi1!;
      const sock = tlsConnect({ host: '127.0.0.1', port: s.port, ca: readFileSync(t.ca), cert: readFileSync(t.cert), key: readFileSync(t.key), rejectUnauthorized: false }, () => resolve(sock));
      sock.once('error', reject);
    });

  it('a CONNECT announcing 200 MB is refused at its header: the connection closes, memory does not grow', async () => {
    const s = await startBroker();
    const before = process.memoryUsage().rss;
    const sock = await raw(s);
    const gone = new Promise<void>((r) => sock.once('close', () => r()));
    // CONNECT, remaining length 200,000,000 (varint), then 1 MB of it.
    sock.write(Buffer.from([0x10, 0x80, 0x84, 0xaf, 0x5f]));
    sock.write(Buffer.alloc(1 << 20));
    await gone;
    expect(broker!.counters.framingViolations).toBe(1);
    expect(process.memoryUsage().rss - before).toBeLessThan(16 << 20);
  });

  it('a packet left incomplete is timed out; a keepalive of 0 is refused', async () => {
    const s = await startBroker({ frames: { connectMax: 32 * 1024, packetMax: 2 << 20, partialTimeoutMs: 300 } });
    const sock = await raw(s);
    const gone = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(Buffer.from([0x10, 0x40, 0x00])); // a CONNECT of 64 bytes, 1 sent
    await gone;
    expect(broker!.counters.framingViolations).toBe(1);
    await expect(connectTls({ address: '127.0.0.1', port: s.port, tls: s.tls.pi1!, clientId: 'ivr-pi1-k', keepalive: 0 })).rejects.toThrow();
  });

  it('a source that keeps failing its handshake is turned away for a while', async () => {
    const s = await startBroker();
    for (let i = 0; i < 12; i++) {
      await new Promise<void>((resolve) => {
        const sock = tcpConnect({ host: '127.0.0.1', port: s.port }, () => sock.write('not TLS at all\r\n'));
        sock.on('error', () => undefined);
        sock.on('close', () => resolve());
      });
    }
    expect(broker!.counters.failedHandshakes).toBeGreaterThanOrEqual(10);
    expect(broker!.counters.turnedAway).toBeGreaterThanOrEqual(1);
    await expect(as(s, 'pi1')).rejects.toThrow(); // from the same address: still banned
  });
});
