import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { FactsSource } from '../../agent/src/facts/facts.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { LoopbackAgents } from '../support/agents.js';
import { connectTls } from '../support/pki.js';

/**
 * Real agents, brokers, MQTT sessions and status sockets, several in this process, each on
 * its own loopback address (127.0.0.0/8): discovery without root or namespaces.
 */
let cluster: LoopbackAgents | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function loopback(n: number): Promise<LoopbackAgents> {
  cluster = await new LoopbackAgents(tempDir(), 'loop', 10).init(n);
  return cluster;
}

describe('agents on loopback addresses', () => {
  it('discover each other from one seed, notice a stopped member, and serve status over their socket', async () => {
    const c = await loopback(4);
    const dir = c.dir;
    const statusOf = (_d: string, i: number) => c.status(i);
    const agents = [1, 2, 3, 4].map((i) => c.make(i));
    for (const a of agents) await a.start();
    await waitFor(async () => (await Promise.all([1, 2, 3, 4].map((i) => statusOf(dir, i)))).every((s) => s.view.length === 4), 10_000);
    const s1 = await statusOf(dir, 1);
    expect(s1.rendezvous.host).toBe('n1');
    expect(s1.cluster.members).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(JSON.stringify(s1)).not.toContain(c.secret);

    // (async: the agents answer from this very process)
    const cli = await promisify(execFile)(process.execPath, ['dist/agent/src/cli/main.js', 'status', '--socket', join(dir, 'n2', 'agent.sock')], { encoding: 'utf8', timeout: 20_000 });
    expect(cli.stdout).toMatch(/view \(4\): n1 n2 n3 n4/);

    await agents[3]!.stop();
    await waitFor(async () => (await Promise.all([1, 2, 3].map((i) => statusOf(dir, i)))).every((s) => s.view.join() === 'n1,n2,n3'), 5000);
  });

  it('drops and counts malformed and unknown-version payloads without crashing (oversized ones never pass the broker)', async () => {
    const cl = await loopback(2);
    const dir = cl.dir;
    const statusOf = (_d: string, i: number) => cl.status(i);
    await cl.make(1).start();
    await waitFor(async () => (await statusOf(dir, 1)).rendezvous.connected, 5000);
    // n2's key in hand, without its agent: it may publish on its own topics only.
    const c = await connectTls({ address: cl.address(1), port: cl.port, tls: cl.tls.n2!, clientId: 'ivr-n2-test' });
    const topic = 'ivr/v1/loop/presence/n2';
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
