import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allSee, lab, labDescribe } from '../support/lab.js';
import { waitFor } from '../support/wait.js';

const NAME = 't-disc';
const H = ['h1', 'h2', 'h3', 'h4', 'h5'];

labDescribe('lab: discovery with real namespaces, brokers and agents', () => {
  beforeAll(async () => {
    await lab.down(NAME).catch(() => undefined);
    await lab.up({ name: NAME, hosts: 5, subnet: '10.98.0.0/24', seeds: ['h1'] });
  });
  afterAll(async () => {
    await lab.down(NAME);
  });

  it('5 hosts discover each other from one seed address', async () => {
    await waitFor(async () => allSee(await lab.status(NAME), H), 15_000, 'all 5 see all 5');
    const st = await lab.status(NAME);
    expect(st.clusters).toHaveLength(1);
    expect(st.clusters[0]!.members).toEqual(H);
    expect(st.hosts.every((h) => h.agent === 'running' && h.following === null && h.ccpRunning === false)).toBe(true);
  });

  it('a killed agent leaves every view, and is in no cluster', async () => {
    await lab.kill(NAME, 'h4');
    const ms = await waitFor(async () => allSee(await lab.status(NAME), ['h1', 'h2', 'h3', 'h5']), 10_000, 'h4 gone from every view');
    const st = await lab.status(NAME);
    expect(st.hosts.find((h) => h.name === 'h4')!.agent).toBe('stopped');
    expect(st.clusters.flatMap((c) => c.members)).not.toContain('h4');
    console.log(`h4 left every view ${ms} ms after SIGKILL`);
  });

  it('a restarted agent rejoins', async () => {
    await lab.start(NAME, 'h4');
    await waitFor(async () => allSee(await lab.status(NAME), H), 15_000, 'h4 back in every view');
  });

  it('the death of the rendezvous host is noticed by all', async () => {
    await lab.kill(NAME, 'h1');
    await waitFor(async () => allSee(await lab.status(NAME), ['h2', 'h3', 'h4', 'h5']), 10_000, 'h1 gone from every view');
    // ...and they all meet on the next-best broker, h2.
    await waitFor(async () => (await lab.status(NAME)).hosts.filter((h) => h.view).every((h) => h.view!.rendezvous.host === 'h2' && h.view!.rendezvous.connected), 10_000, 'all on h2');
    await lab.start(NAME, 'h1');
    await waitFor(async () => allSee(await lab.status(NAME), H), 15_000, 'h1 back');
  });

  it('a client without a certificate of the cluster is refused by a broker in the lab: in plain MQTT or in TLS', async () => {
    const st = await lab.status(NAME);
    const target = st.hosts.find((h) => h.name === 'h2')!.address;
    const attempt = (protocol: string) => `new Promise((res) => { const c = mqtt.connect({host: '${target}', port: 1883, protocol: '${protocol}', rejectUnauthorized: false, username: 'h3', password: 'a-guess', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000}); c.on('connect', () => res('CONNECTED')); c.on('error', (e) => res('REFUSED')); c.on('close', () => res('REFUSED')); })`;
    const script = `import('mqtt').then(async ({default: mqtt}) => { console.log(await ${attempt('mqtt')}, await ${attempt('mqtts')}); process.exit(0); })`;
    const rec = (await import('../../agent/src/lab/record.js')).loadRecord(NAME);
    const ns = rec.hosts.find((h) => h.name === 'h3')!.ns;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { cwd: process.cwd() });
      let s = '';
      child.stdout.on('data', (d: Buffer) => (s += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(s));
    });
    expect(out.trim()).toBe('REFUSED REFUSED');
    const after = await lab.status(NAME);
    expect(after.hosts.find((h) => h.name === 'h2')!.view!.broker.failedHandshakes).toBeGreaterThanOrEqual(2);
  });
});
