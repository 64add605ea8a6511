import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Agent } from '../../agent/src/daemon/agent.js';
import { resolveConfig, validateConfig } from '../../agent/src/config/load.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { FactsSource } from '../../agent/src/facts/facts.js';
import { fetchStatus } from '../../agent/src/status/server.js';
import type { AgentStatus } from '../../agent/src/contract/status.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

/**
 * Real agents, brokers, MQTT sessions and status sockets, several in this process, each on
 * its own loopback address (127.0.0.0/8): discovery without root or namespaces.
 */
const SECRET = 'loopback-test-secret-0123';
const FACTS = { model: 'test', arch: 'x64', cores: 4, memMB: 4096, tempC: null, load1: 0 };
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

function makeAgent(dir: string, i: number, port: number, seedIndex = 1): Agent {
  const name = `n${i}`;
  const cfg = resolveConfig(
    validateConfig({
      cluster: 'loop',
      host: { name, address: `127.0.0.${10 + i}`, port },
      seeds: [`127.0.0.${10 + seedIndex}:${port}`],
      secret: SECRET,
      stateDir: join(dir, name),
    }),
    'test',
  );
  const a = new Agent(cfg, { log: silentLogger(), facts: { initial: () => FACTS, enrich: async () => FACTS, refresh: async () => FACTS } });
  agents.push(a);
  return a;
}

const statusOf = (dir: string, i: number) => fetchStatus<AgentStatus>(join(dir, `n${i}`, 'agent.sock'));

describe('agents on loopback addresses', () => {
  it('discover each other from one seed, notice a stopped member, and serve status over their socket', async () => {
    const dir = tempDir();
    const port = 21000 + Math.floor(Math.random() * 10000);
    for (let i = 1; i <= 4; i++) await makeAgent(dir, i, port).start();
    await waitFor(async () => (await Promise.all([1, 2, 3, 4].map((i) => statusOf(dir, i)))).every((s) => s.view.length === 4), 10_000);
    const s1 = await statusOf(dir, 1);
    expect(s1.rendezvous.host).toBe('n1');
    expect(s1.cluster.members).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(JSON.stringify(s1)).not.toContain(SECRET);

    // (async: the agents answer from this very process)
    const cli = await promisify(execFile)(process.execPath, ['dist/agent/src/cli/main.js', 'status', '--socket', join(dir, 'n2', 'agent.sock')], { encoding: 'utf8', timeout: 20_000 });
    expect(cli.stdout).toMatch(/view \(4\): n1 n2 n3 n4/);

    await agents[3]!.stop();
    await waitFor(async () => (await Promise.all([1, 2, 3].map((i) => statusOf(dir, i)))).every((s) => s.view.join() === 'n1,n2,n3'), 5000);
  });

  it('drops and counts malformed and unknown-version payloads without crashing (oversized ones never pass the broker)', async () => {
    const dir = tempDir();
    const port = 21000 + Math.floor(Math.random() * 10000);
    await makeAgent(dir, 1, port).start();
    await waitFor(async () => (await statusOf(dir, 1)).rendezvous.connected, 5000);
    const c = mqtt.connect({ host: '127.0.0.11', port, username: 'evil', password: SECRET, protocolVersion: 4, reconnectPeriod: 0 });
    await new Promise((r) => c.once('connect', r));
    const topic = 'ivr/v1/loop/presence/evil';
    await c.publishAsync(topic, 'not json', { qos: 1 });
    await c.publishAsync(topic, JSON.stringify({ v: 7 }), { qos: 1 });
    await c.publishAsync(topic, JSON.stringify({ v: 1, host: 'evil' }), { qos: 1 });
    c.end(true);
    await waitFor(async () => {
      const d = (await statusOf(dir, 1)).dropped;
      return d.malformed === 2 && d.version === 1;
    }, 5000);
    expect((await statusOf(dir, 1)).view).toEqual(['n1']);
  });

  it('reads real host facts through systeminformation', async () => {
    const dir = tempDir();
    const src = new FactsSource(dir);
    const quick = src.initial();
    const f = await src.enrich();
    expect(f.cores).toBe(quick.cores);
    expect(f.memMB).toBe(quick.memMB);
    expect(new FactsSource(dir).initial().model).toBe(f.model); // cached for this boot
    expect(f.cores).toBeGreaterThan(0);
    expect(f.memMB).toBeGreaterThan(100);
    expect(f.model.length).toBeGreaterThan(0);
    expect(f.tempC === null || typeof f.tempC === 'number').toBe(true);
  });
});
