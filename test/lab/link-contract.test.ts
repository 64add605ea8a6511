import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MockLinkWatcher } from '../../agent/src/link/mock.js';
import type { LinkEvent } from '../../agent/src/link/types.js';
import { labPrerequisites } from '../support/lab.js';
import { describeIf, nativeAddon } from '../support/native.js';
import { waitFor } from '../support/wait.js';

/**
 * One contract, three backends (serialport's bindings.test pattern): a watcher reports the
 * dump at start, a pulled cable as carrier=false (still up), a restored one as carrier=true,
 * and its own interface set down as up=false. Real backends run in a namespace pair joined
 * by a veth cable, pulled from the far side as a switch would.
 */
interface Harness {
  events: LinkEvent[];
  pull(): Promise<void>;
  restore(): Promise<void>;
  ownDown(): Promise<void>;
  close(): Promise<void>;
}

function sh(...argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

async function kernelHarness(backend: 'native' | 'ffi'): Promise<Harness> {
  const a = `ivt-${backend}-a`;
  const b = `ivt-${backend}-b`;
  for (const ns of [a, b]) spawnSync('ip', ['netns', 'delete', ns]);
  sh('ip', 'netns', 'add', a);
  sh('ip', 'netns', 'add', b);
  sh('ip', 'link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'cable', 'netns', b);
  sh('ip', '-n', a, 'link', 'set', 'eth0', 'up');
  sh('ip', '-n', b, 'link', 'set', 'cable', 'up');
  const events: LinkEvent[] = [];
  const child: ChildProcess = spawn('ip', ['netns', 'exec', a, process.execPath, 'dist/agent/src/cli/main.js', 'link', 'watch', '--json', '--backend', backend, '-i', 'eth0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stdout! }).on('line', (l) => events.push(JSON.parse(l) as LinkEvent));
  await waitFor(() => events.length > 0, 10_000, `${backend} watcher's first dump`);
  return {
    events,
    pull: async () => sh('ip', '-n', b, 'link', 'set', 'cable', 'down'),
    restore: async () => sh('ip', '-n', b, 'link', 'set', 'cable', 'up'),
    ownDown: async () => sh('ip', '-n', a, 'link', 'set', 'eth0', 'down'),
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      for (const ns of [a, b]) spawnSync('ip', ['netns', 'delete', ns]);
    },
  };
}

async function mockHarness(): Promise<Harness> {
  const w = new MockLinkWatcher([{ ifname: 'eth0' }]);
  const events: LinkEvent[] = [];
  w.start((e) => events.push(...e));
  return {
    events,
    pull: async () => w.set('eth0', { carrier: false }),
    restore: async () => w.set('eth0', { carrier: true }),
    ownDown: async () => w.set('eth0', { up: false, carrier: false }),
    close: async () => w.close(),
  };
}

function contract(name: string, make: () => Promise<Harness>) {
  let h: Harness;
  beforeAll(async () => {
    h = await make();
  });
  afterAll(async () => {
    await h?.close();
  });
  const last = () => h.events[h.events.length - 1]!;

  it(`${name}: starts with a dump of the link, up with carrier`, () => {
    expect(h.events[0]).toMatchObject({ ifname: 'eth0', up: true, carrier: true });
    expect(typeof h.events[0]!.ts).toBe('number');
  });
  it(`${name}: a pulled cable is carrier=false, still up`, async () => {
    const n = h.events.length;
    await h.pull();
    await waitFor(() => h.events.length > n && last().carrier === false, 5000, 'carrier=false');
    expect(last()).toMatchObject({ ifname: 'eth0', up: true, carrier: false, operstate: expect.stringMatching(/down|lowerlayerdown/) });
  });
  it(`${name}: a restored cable is carrier=true`, async () => {
    const n = h.events.length;
    await h.restore();
    await waitFor(() => h.events.length > n && last().carrier === true, 5000, 'carrier=true');
    expect(last().up).toBe(true);
  });
  it(`${name}: its own interface set down is up=false`, async () => {
    const n = h.events.length;
    await h.ownDown();
    await waitFor(() => h.events.length > n && last().up === false, 5000, 'up=false');
  });
}

describeIf(null, 'link watcher contract: mock', () => contract('mock', mockHarness));
describeIf(labPrerequisites(), 'link watcher contract: ffi (real kernel, namespace pair)', () => contract('ffi', () => kernelHarness('ffi')));
const native = await nativeAddon();
describeIf(labPrerequisites() ?? native.why, 'link watcher contract: native (real kernel, namespace pair)', () => contract('native', () => kernelHarness('native')));
