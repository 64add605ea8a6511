import * as lab from '../agent/src/lab/lab.js';
import { loadRecord } from '../agent/src/lab/record.js';
import { stopDashboard } from '../agent/src/lab/dashboard-proc.js';
import { cpuSeconds, memoryOf, sleep, summarize, table, writeResult } from './lib.js';
import { existsSync } from 'node:fs';
import { startKeepalived } from './peers.js';

/**
 * `npm run bench -- discovery [--sizes 5,16,32] [--idle S] [--timings JSON]`: time from `lab up --hosts N`
 * to every agent seeing all N, and per-agent memory and idle CPU at N = 16 (or at the one size
 * given), over `--idle` seconds (60: shorter windows vary by ±1 % with the facts refreshes that
 * fall in them). `--timings` overrides agent timings (e.g. slower heartbeats, to see what they cost).
 */
export async function discovery(args: string[]): Promise<void> {
  const sizesArg = args[args.indexOf('--sizes') + 1];
  const sizes = args.includes('--sizes') && sizesArg ? sizesArg.split(',').map(Number) : [5, 16, 32];
  const idleS = args.includes('--idle') ? Number(args[args.indexOf('--idle') + 1]) : 60;
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
      // Idle means nobody watching: the lab's page follows every agent's event stream (bench
      // observe measures what that costs).
      await stopDashboard(loadRecord(name));
      // Idle means settled too: the CCP ready and every member's k3s agent following it (their
      // starts fall in the window otherwise), then 10 s more.
      for (const t1 = Date.now(); ; await sleep(250)) {
        const st = await lab.status(name);
        const c = st.hosts[0]?.view?.cluster.ccp;
        if (c?.ready && st.hosts.every((h) => h.name === c.host || h.following === c.endpoint)) break;
        if (Date.now() - t1 > 120_000) throw new Error(`N=${n}: the CCP was not ready and followed by all within 120 s`);
      }
      // keepalived (VRRP) on every host beside the agents, measured in the same window: the
      // idle cost of the usual failover daemon, side by side.
      const keep = existsSync('/usr/sbin/keepalived') ? startKeepalived(name, loadRecord(name).hosts) : null;
      await sleep(10_000);
      const pids = loadRecord(name).hosts.map((h) => h.agent!.pid);
      const kpids = keep?.pids() ?? [];
      const c0 = pids.map(cpuSeconds);
      const k0 = kpids.map((ps) => ps.map(cpuSeconds));
      const window = idleS;
      await sleep(window * 1000);
      const cpuPct = pids.map((p, i) => ((cpuSeconds(p) - c0[i]!) / window) * 100);
      if (keep) {
        // per host: its keepalived processes together
        const byHost = kpids.map((ps, i) => ps.reduce((sum, p, j) => sum + ((cpuSeconds(p) - k0[i]![j]!) / window) * 100, 0));
        r.keepalivedCpuPct = summarize(byHost);
        await keep.stop();
      }
      const mem = pids.map(memoryOf);
      r.rssMB = summarize(mem.map((m) => m.rssMB));
      r.pssMB = summarize(mem.map((m) => m.pssMB));
      r.idleCpuPct = summarize(cpuPct);
      r.idleWindowS = window;
    }
    results.push(r);
    const fmt = (k: string) => (r[k] ? `${(r[k] as { median: number }).median.toFixed(2)} / ${(r[k] as { max: number }).max.toFixed(2)}` : '-');
    rows.push([n, r.upToConvergedMs as number, r.lastStartToConvergedMs as number, fmt('rssMB'), fmt('pssMB'), fmt('idleCpuPct'), fmt('keepalivedCpuPct')]);
    await lab.down(name);
  }
  process.stdout.write('\n' + table(['N', 'up→all see N (ms)', 'last agent start→all see N (ms)', 'RSS MB med/max', 'PSS MB med/max', 'idle CPU % med/max', 'keepalived CPU % med/max'], rows) + '\n');
  process.stdout.write(`written to ${writeResult('discovery', results)}\n`);
}
