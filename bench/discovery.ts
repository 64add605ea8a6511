import * as lab from '../agent/src/lab/lab.js';
import { loadRecord } from '../agent/src/lab/record.js';
import { cpuSeconds, memoryOf, sleep, summarize, table, writeResult } from './lib.js';

/**
 * `npm run bench -- discovery [--sizes 5,16,32] [--timings JSON]`: time from `lab up --hosts N`
 * to every agent seeing all N, and per-agent memory and idle CPU at N = 16 (or at the one size
 * given). `--timings` overrides agent timings (e.g. slower heartbeats, to see what they cost).
 */
export async function discovery(args: string[]): Promise<void> {
  const sizesArg = args[args.indexOf('--sizes') + 1];
  const sizes = args.includes('--sizes') && sizesArg ? sizesArg.split(',').map(Number) : [5, 16, 32];
  const timings = args.includes('--timings') ? (JSON.parse(args[args.indexOf('--timings') + 1]!) as Record<string, number>) : undefined;
  const name = 'bench';
  const rows: (string | number)[][] = [];
  const results: unknown[] = [];
  for (const n of sizes) {
    await lab.down(name).catch(() => undefined);
    const t0 = Date.now();
    const up = await lab.up({ name, hosts: n, subnet: '10.95.0.0/24', seeds: ['h1'], ...(timings ? { timings } : {}) });
    const ready = Date.now();
    let converged = 0;
    for (;;) {
      const st = await lab.status(name);
      if (st.hosts.every((h) => h.view?.view.length === n)) {
        converged = Date.now();
        break;
      }
      if (Date.now() - t0 > 120_000) throw new Error(`N=${n}: not converged after 120 s`);
      await sleep(100);
    }
    const r: Record<string, unknown> = { n, upToConvergedMs: converged - t0, lastStartToConvergedMs: converged - up.lastStartAt, upToAgentsReadyMs: ready - t0 };
    if (n === 16 || sizes.length === 1) {
      await sleep(5000);
      const pids = loadRecord(name).hosts.map((h) => h.agent!.pid);
      const c0 = pids.map(cpuSeconds);
      const window = 20;
      await sleep(window * 1000);
      const cpuPct = pids.map((p, i) => ((cpuSeconds(p) - c0[i]!) / window) * 100);
      const mem = pids.map(memoryOf);
      r.rssMB = summarize(mem.map((m) => m.rssMB));
      r.pssMB = summarize(mem.map((m) => m.pssMB));
      r.idleCpuPct = summarize(cpuPct);
      r.idleWindowS = window;
    }
    results.push(r);
    const fmt = (k: string) => (r[k] ? `${(r[k] as { median: number }).median.toFixed(2)} / ${(r[k] as { max: number }).max.toFixed(2)}` : '-');
    rows.push([n, r.upToConvergedMs as number, r.lastStartToConvergedMs as number, fmt('rssMB'), fmt('pssMB'), fmt('idleCpuPct')]);
    await lab.down(name);
  }
  process.stdout.write('\n' + table(['N', 'up→all see N (ms)', 'last agent start→all see N (ms)', 'RSS MB med/max', 'PSS MB med/max', 'idle CPU % med/max'], rows) + '\n');
  process.stdout.write(`written to ${writeResult('discovery', results)}\n`);
}
