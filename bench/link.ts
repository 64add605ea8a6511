import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { AGENT_NODE_FLAGS } from '../agent/src/util/node-flags.js';
import { cpuSeconds, sleep, summarize, table, writeResult } from './lib.js';

/**
 * `npm run bench -- link [--pulls 20]`: cable pulls and restores in a namespace pair; latency
 * from just before the `ip link set` call to the event's `ts` in the watcher process, for the
 * native and ffi backends and for polling /sys/class/net/IF/carrier once a second.
 */
const A = 'ivb-link-a';
const B = 'ivb-link-b';
const now = () => performance.timeOrigin + performance.now();

function sh(...argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

const SYSFS_POLLER = `const fs=require('fs');let last=null;setInterval(()=>{const c=fs.readFileSync('/sys/class/net/eth0/carrier','utf8').trim()==='1';if(c!==last){last=c;console.log(JSON.stringify({ts:performance.timeOrigin+performance.now(),carrier:c}))}},1000);`;

function watcher(kind: 'native' | 'ffi' | 'sysfs'): { proc: ChildProcess; events: { ts: number; carrier: boolean }[] } {
  const args = kind === 'sysfs' ? [process.execPath, '-e', SYSFS_POLLER] : [process.execPath, ...AGENT_NODE_FLAGS, 'dist/agent/src/cli/main.js', 'link', 'watch', '--json', '--backend', kind, '-i', 'eth0'];
  const proc = spawn('ip', ['netns', 'exec', A, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const events: { ts: number; carrier: boolean }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
  return { proc, events };
}

async function until(pred: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('no event');
    await sleep(1);
  }
}

export async function link(args: string[]): Promise<void> {
  const pulls = Number(args[args.indexOf('--pulls') + 1]) || 20;
  // The kernel sends a carrier change at once only when it counts as urgent, which for a veth
  // means: its ifindex differs from its peer's. Physical NICs (ifindex == iflink) get their
  // carrier-off events batched by linkwatch, up to 1 s. --topology batched reproduces that.
  const batched = args.includes('--topology') && args[args.indexOf('--topology') + 1] === 'batched';
  for (const ns of [A, B]) spawnSync('ip', ['netns', 'delete', ns]);
  sh('ip', 'netns', 'add', A);
  sh('ip', 'netns', 'add', B);
  const results: Record<string, unknown> = {};
  const rows: (string | number)[][] = [];
  try {
    if (!batched) sh('ip', '-n', B, 'link', 'add', 'sp0', 'type', 'veth', 'peer', 'name', 'sp1'); // peer ifindex 4, not 2
    sh('ip', 'link', 'add', 'eth0', 'netns', A, 'type', 'veth', 'peer', 'name', 'cable', 'netns', B);
    sh('ip', '-n', A, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', B, 'link', 'set', 'cable', 'up');
    // Baseline: the same spawn of `ip` doing nothing, so the cost of the command itself shows.
    const base: number[] = [];
    for (let i = 0; i < pulls * 2; i++) {
      const t0 = now();
      sh('ip', '-n', B, 'link', 'show', 'cable');
      base.push(now() - t0);
    }
    const b = summarize(base);
    results.ipCommandMs = b;
    rows.push(['(ip no-op)', 'spawn+exit', b.n, b.min, b.median, b.p90, b.p99, b.max, '']);
    for (const kind of ['native', 'ffi', 'sysfs'] as const) {
      const w = watcher(kind);
      try {
        await until(() => w.events.length > 0, 10_000);
        await sleep(1500);
        const lat: number[] = [];
        const pullLat: number[] = [];
        const restoreLat: number[] = [];
        for (let i = 0; i < pulls; i++) {
          for (const carrier of [false, true]) {
            const n = w.events.length;
            const t0 = now();
            sh('ip', '-n', B, 'link', 'set', 'cable', carrier ? 'up' : 'down');
            await until(() => w.events.length > n && w.events[w.events.length - 1]!.carrier === carrier, 5000);
            const ms = w.events[w.events.length - 1]!.ts - t0;
            lat.push(ms);
            (carrier ? restoreLat : pullLat).push(ms);
            await sleep(100 + Math.random() * 200);
          }
        }
        const c0 = cpuSeconds(w.proc.pid!);
        await sleep(20_000);
        const idle = ((cpuSeconds(w.proc.pid!) - c0) / 20) * 100;
        const s = summarize(lat);
        results[kind] = { latencyMs: s, pullMs: summarize(pullLat), restoreMs: summarize(restoreLat), idleCpuPct: idle, pulls: pullLat, restores: restoreLat };
        for (const [what, xs] of [['pull+restore', lat], ['pull', pullLat], ['restore', restoreLat]] as const) {
          const q = summarize(xs);
          rows.push([kind, what, q.n, q.min, q.median, q.p90, q.p99, q.max, what === 'pull+restore' ? idle : '']);
        }
      } finally {
        w.proc.kill('SIGTERM');
      }
    }
  } finally {
    for (const ns of [A, B]) spawnSync('ip', ['netns', 'delete', ns]);
  }
  process.stdout.write('\n' + table(['backend', 'events', 'n', 'min ms', 'median', 'p90', 'p99', 'max', 'idle CPU %'], rows) + '\n');
  process.stdout.write(`topology: ${batched ? 'batched (ifindex == peer ifindex, like a physical NIC)' : 'urgent (veth peer ifindex differs, as in the lab)'}\n`);
  process.stdout.write(`written to ${writeResult(batched ? 'link-batched' : 'link', { topology: batched ? 'batched' : 'urgent', ...results })}\n`);
}
