import { isReadyNode } from '../agent/src/contract/status.js';
import * as lab from '../agent/src/lab/lab.js';
import type { LabStatus } from '../agent/src/lab/status.js';
import { sleep, summarize, table, writeResult } from './lib.js';
import { etcdTrials, keepalivedTrials, peersAvailable } from './peers.js';

/**
 * `npm run bench -- failover [--sizes 5,16] [--trials 10] [--no-vip]`: in one lab per size, repeatedly
 * cut the CCP host and measure, from the cable pull: (a) a new primary on the other side,
 * (b) the second CCP started there, (c) that CCP ready and every member of the side following
 * it and a Ready node in its API, and (c) − (r), (r) being that CCP ready; and from the restore: (d) one cluster with one CCP again. Status is polled every 100 ms,
 * so each figure carries up to ~100 ms of polling granularity (and a status round of its own).
 * Then, in the same lab, the same cable pull against keepalived (VRRP) and a 3-member etcd
 * (bench/peers.ts), unless --no-peers; the table ends with the ratios.
 * `--arch arm64` runs the same on emulated arm64 VMs (no peers there) and adds each VM's
 * boot: from QEMU's start to its agent answering status.
 */
function side(st: LabStatus, cut: string) {
  return st.clusters.find((c) => !c.members.includes(cut) && c.members.length > 0) ?? null;
}

export async function failover(args: string[]): Promise<void> {
  const arg = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
  const sizes = (arg('--sizes') ?? '5,16').split(',').map(Number);
  const trials = Number(arg('--trials') ?? 10);
  const arch = (arg('--arch') ?? 'native') as lab.LabArch;
  const peers = !args.includes('--no-peers') && arch === 'native';
  if (peers && peersAvailable()) throw new Error(`${peersAvailable()} (or pass --no-peers)`);
  const ratios: (string | number)[][] = [];
  const name = 'benchfo';
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = {};
  const merges: string[] = [];
  for (const n of sizes) {
    await lab.down(name).catch(() => undefined);
    const up = await lab.up({ name, hosts: n, subnet: '10.91.0.0/24', arch, ...(args.includes('--no-vip') ? { vip: false } : {}) });
    if (arch !== 'native') {
      const boots = Object.keys(up.readyAt).map((h) => up.readyAt[h]! - up.startedAt[h]!);
      process.stdout.write(`N=${n} ${arch} VM boot to agent ready: ${boots.join(', ')} ms\n`);
      results[`N=${n} boot`] = { ...summarize(boots), samples: boots };
      const s = summarize(boots);
      rows.push([n, `${arch} VM boot → agent ready`, s.n, s.min, s.median, s.p90, s.max]);
    }
    const m: Record<'a' | 'b' | 'r' | 'c' | 'f' | 'd', number[]> = { a: [], b: [], r: [], c: [], f: [], d: [] };
    const peerRows: (string | number)[][] = [];
    let keptLarger = 0;
    try {
      const until = async (pred: (st: LabStatus) => boolean, timeoutMs = arch === 'native' ? 60_000 : 300_000) => {
        const t0 = Date.now();
        for (;;) {
          const st = await lab.status(name);
          if (pred(st)) return st;
          if (Date.now() - t0 > timeoutMs) throw new Error('timeout');
          await sleep(100);
        }
      };
      const settled = (st: LabStatus) => st.clusters.length === 1 && st.clusters[0]!.members.length === n && st.clusters[0]!.ccp?.ready === true && st.hosts.filter((h) => h.ccpRunning).length === 1;
      await until(settled);
      for (let t = 0; t < trials; t++) {
        const before = (await lab.status(name)).clusters[0]!;
        const cut = before.ccp!.host;
        const t0 = Date.now();
        await lab.cut(name, cut);
        let a = 0;
        let b = 0;
        let r = 0;
        let sideCcp: string | null = null;
        await until((st) => {
          const s = side(st, cut);
          sideCcp = s?.ccp?.host ?? null;
          const now = Date.now() - t0;
          // (a) applies when the cut host was the primary (after a merge the primary may be
          // another host, which then simply stays): a primary on the other side.
          if (s && s.primary && !a && before.primary === cut) a = now;
          if (s?.ccp && s.ccp.host !== cut && st.hosts.find((h) => h.name === s.ccp!.host)?.ccpRunning && !b) b = now;
          if (s?.ccp && s.ccp.host !== cut && s.ccp.ready && !r) r = now;
          // (c): the new CCP ready, every member of the side following it and, in that CCP's own
          // API, a Ready node of it (its k3s agent reached it).
          const done = s?.ccp && s.ccp.host !== cut && s.ccp.ready && st.hosts.filter((h) => s.members.includes(h.name) && h.name !== s.ccp!.host).every((h) => h.following === s.ccp!.endpoint) && s.members.every((m) => s.ccp!.nodes !== null && isReadyNode(s.ccp!.nodes, m));
          return Boolean(done);
        });
        const c = Date.now() - t0;
        if (a) m.a.push(a);
        m.b.push(b || c);
        m.r.push(r || c);
        m.c.push(c);
        // (f): what the members add once the new CCP is ready (the rest is its own start).
        m.f.push(c - (r || c));
        const t1 = Date.now();
        await lab.restore(name, cut);
        const merged = await until(settled);
        m.d.push(Date.now() - t1);
        // The merge rule keeps the CCP with the most followers: the larger side's, not the cut host's.
        const kept = merged.clusters[0]!.ccp!.host;
        const larger = kept === sideCcp;
        if (larger) keptLarger++;
        process.stdout.write(`N=${n} trial ${t + 1}: a ${a ? `${a} ms` : '- (the primary was not cut)'}, b ${m.b.at(-1)} ms, ready ${m.r.at(-1)} ms, c ${c} ms, merge ${m.d.at(-1)} ms, kept ${kept}${larger ? " (the larger side's)" : ' (the cut host side\'s)'}\n`);
        await sleep(2000);
      }
      if (peers && n >= 3) {
        const vrrp = await keepalivedTrials(name, trials);
        process.stdout.write(`N=${n} keepalived: ${vrrp.join(', ')} ms\n`);
        const etcd = await etcdTrials(name, trials);
        process.stdout.write(`N=${n} etcd: ${etcd.join(', ')} ms\n`);
        results[`N=${n} peers`] = { keepalived: { ...summarize(vrrp), samples: vrrp }, etcd: { ...summarize(etcd), samples: etcd } };
        for (const [label, xs] of [['keepalived VRRP: new MASTER', vrrp], ['etcd (3 members): new leader', etcd]] as const) {
          const s = summarize(xs);
          peerRows.push([n, label, s.n, s.min, s.median, s.p90, s.max]);
        }
        const med = (xs: number[]) => summarize(xs).median;
        ratios.push([n, '(a) new primary / etcd new leader', Number((med(m.a) / med(etcd)).toFixed(2))]);
        ratios.push([n, '(a) new primary / keepalived new MASTER', Number((med(m.a) / med(vrrp)).toFixed(2))]);
        ratios.push([n, '(c) CCP ready, all following / etcd new leader', Number((med(m.c) / med(etcd)).toFixed(2))]);
      }
    } finally {
      await lab.down(name);
    }
    results[`N=${n}`] = { ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { ...summarize(v), samples: v }])), mergesKeptLarger: { kept: keptLarger, of: m.d.length } };
    merges.push(`N=${n}: ${keptLarger} of ${m.d.length} merges kept the larger side's CCP`);
    for (const [k, label] of [['a', '(a) new primary'], ['b', '(b) second CCP started'], ['r', '(r) second CCP ready'], ['c', '(c) CCP ready, all following, Ready nodes'], ['f', '(c) − (r): the members, once it is ready'], ['d', '(d) restore → merged']] as const) {
      const s = summarize(m[k]);
      rows.push([n, label, s.n, s.min, s.median, s.p90, s.max]);
    }
    rows.push(...peerRows);
  }
  process.stdout.write('\n' + table(['N', 'from the cable pull (restore for d)', 'n', 'min ms', 'median', 'p90', 'max'], rows) + '\n');
  process.stdout.write(merges.join('\n') + '\n');
  if (ratios.length) process.stdout.write('\n' + table(['N', 'ratio of medians (< 1: infravisor faster)', 'ratio'], ratios) + '\n');
  process.stdout.write(`written to ${writeResult(arch === 'native' ? 'failover' : `failover-${arch}`, results)}\n`);
}
