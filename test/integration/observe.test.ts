import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { HostStateSchema, EventMessageSchema } from '../../agent/src/contract/index.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { LoopbackAgents } from '../support/agents.js';
import { connectTls, issueFor } from '../support/pki.js';

/** parse-prometheus-text-format ships no typings: its output, as far as this test reads it. */
type Family = { name: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] };
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

let cluster: LoopbackAgents | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('seeing the cluster: /metrics, the state and event topics, hooks', () => {
  it('serves Prometheus metrics of the state only with the token; an observer reads the state and the events; the hook runs per event', async () => {
    const c = (cluster = await new LoopbackAgents(tempDir(), 'loop', 70).init(2));
    const token = 'a-token-for-the-web-view-123';
    writeFileSync(join(c.dir, 'web.token'), token, { mode: 0o600 });
    const hookOut = join(c.dir, 'hook.jsonl');
    const webPort = c.port + 1;
    const a1 = c.make(1, { extra: { web: { enabled: true, port: webPort, tokenFile: join(c.dir, 'web.token') }, hooks: { onEvent: { command: ['sh', '-c', `cat >> ${hookOut}`], timeoutMs: 2000 } } } });
    await a1.start();
    await c.make(2).start();
    await waitFor(async () => (await c.status(1)).election.primary === 'n1' && (await c.status(2)).election.primary === 'n1', 15_000, 'one cluster, n1 primary');

    const url = `http://${c.address(1)}:${webPort}/metrics`;
    expect((await get(url)).status).toBe(401);
    expect((await get(url, { authorization: 'Bearer not-the-token-at-all' })).status).toBe(401);
    const m = await get(url, { authorization: `Bearer ${token}` });
    expect(m.status).toBe(200);
    const families = new Map(parsePrometheus(m.body).map((f) => [f.name, f]));
    const value = (name: string, labels?: Record<string, string>) => Number(families.get(name)?.metrics.find((x) => !labels || Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))?.value);
    expect(value('infravisor_up')).toBe(1);
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(value('infravisor_build_info', { version })).toBe(1);
    expect((await c.status(1)).version).toBe(version);
    expect(value('infravisor_is_primary')).toBe(1);
    expect(value('infravisor_cluster_members')).toBe(2);
    expect(value('infravisor_term')).toBe((await c.status(1)).cluster.term);
    expect(value('infravisor_failovers_total')).toBe(0);
    expect(families.get('infravisor_failovers_total')?.type).toBe('COUNTER');
    expect(value('infravisor_dropped_messages_total', { reason: 'malformed' })).toBe(0);
    expect(families.has('process_resident_memory_bytes')).toBe(true);
    // The page's own requests carry the token as the cookie the page sets.
    const page = await get(`http://${c.address(1)}:${webPort}/?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<script type="module" src="\/ui\/app.js">/);
    expect(page.body).not.toContain(token);

    // A read-only observer (its own certificate, role observer): state retained, events streamed.
    const obs = await issueFor(join(c.dir, 'pki'), 'grafana', 'observer');
    const o = await connectTls({ address: c.address(1), port: c.port, tls: obs, clientId: 'ivr-grafana-1' });
    const states = new Map<string, unknown>();
    const events: string[] = [];
    o.on('message', (topic, payload) => {
      const kind = topic.split('/')[3];
      const body = JSON.parse(payload.toString()) as unknown;
      if (kind === 'state') states.set(topic.split('/')[4]!, HostStateSchema.parse(body));
      if (kind === 'event') events.push(EventMessageSchema.parse(body).name);
    });
    await o.subscribeAsync(['ivr/v1/loop/state/+', 'ivr/v1/loop/event/+'], { qos: 1 });
    await waitFor(() => states.has('n1') && states.has('n2'), 5000, 'both retained states');
    expect(states.get('n1')).toMatchObject({ host: 'n1', role: 'primary', members: ['n1', 'n2'] });
    await c.stop(); // n2 leaves: n1 (still stopping) and the hook see it
    o.end(true);
    expect(existsSync(hookOut)).toBe(true);
    const hooked = readFileSync(hookOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { name: string; host: string });
    expect(hooked.some((e) => e.name === 'primary-changed' && e.host === 'n1')).toBe(true);
  });
});
