import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../agent/src/broker/broker.js';
import { Secret } from '../../agent/src/config/secret.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { MAX_PAYLOAD_BYTES } from '../../agent/src/contract/index.js';

const SECRET = 'correct-horse-battery-staple';
let broker: EmbeddedBroker | null = null;
const clients: mqtt.MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await broker?.stop();
  broker = null;
});

async function startBroker(): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  broker = new EmbeddedBroker({ cluster: 'home', address: '127.0.0.1', port, secret: new Secret(SECRET), log: silentLogger() });
  await broker.start();
  return port;
}

function connect(port: number, username: string, password: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000 });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

describe('the embedded broker (aedes, on loopback)', () => {
  it('refuses a client with a wrong credential', async () => {
    const port = await startBroker();
    await expect(connect(port, 'pi1', 'wrong-secret-but-long')).rejects.toThrow(/Bad username or password/i);
    await expect(connect(port, 'Not A Host', SECRET)).rejects.toThrow(/Bad username or password/i);
    expect(broker!.counters.refusedConnects).toBe(2);
    await expect(connect(port, 'pi1', SECRET)).resolves.toBeTruthy();
  });

  it("delivers a client's publishes on its own topics only, and nothing oversized", async () => {
    const port = await startBroker();
    const reader = await connect(port, 'pi9', SECRET);
    const got: string[] = [];
    reader.on('message', (t) => got.push(t));
    await reader.subscribeAsync('ivr/v1/home/#', { qos: 1 });
    await expect(reader.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/); // SUBACK 0x80
    expect(reader.connected).toBe(true);
    const forger = await connect(port, 'pi1', SECRET);
    const closed = new Promise<void>((r) => forger.once('close', () => r()));
    forger.publish('ivr/v1/home/presence/pi2', 'forged', { qos: 0 });
    await closed; // the broker drops a client that publishes as another host
    const big = await connect(port, 'pi1', SECRET);
    const bigClosed = new Promise<void>((r) => big.once('close', () => r()));
    big.publish('ivr/v1/home/presence/pi1', Buffer.alloc(MAX_PAYLOAD_BYTES + 1), { qos: 0 });
    await bigClosed;
    const pi1 = await connect(port, 'pi1', SECRET);
    await pi1.publishAsync('ivr/v1/home/presence/pi1', 'mine', { qos: 1 });
    // The refused publishes were made (and their clients closed) before this one: once it has
    // arrived, anything of theirs would have arrived too.
    await waitFor(() => got.length > 0, 5000, 'the allowed publish delivered');
    expect(got).toEqual(['ivr/v1/home/presence/pi1']);
    expect(broker!.counters.refusedPublishes).toBe(2);
    expect(broker!.counters.refusedSubscribes).toBe(1);
  });
});
