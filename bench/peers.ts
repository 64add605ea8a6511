import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as lab from '../agent/src/lab/lab.js';
import { loadRecord, type LabHost } from '../agent/src/lab/record.js';
import { run } from '../agent/src/util/exec.js';
import { sleep } from './lib.js';

/**
 * The peers the failover benchmark compares against, run in the same lab's namespaces and
 * measured on the same cable pull: keepalived VRRP (advert_int 1, time until another host holds
 * the virtual address) and a 3-member etcd cluster (default heartbeat 100 ms and election
 * timeout 1000 ms; time until the others agree on a new leader). Every process is a child of
 * the bench, ended by its pid.
 */
export function peersAvailable(): string | null {
  for (const [bin, pkg] of [['/usr/sbin/keepalived', 'keepalived'], ['/usr/bin/etcd', 'etcd-server'], ['/usr/bin/etcdctl', 'etcd-client']]) {
    if (!existsSync(bin!)) return `${bin} is missing: apt-get install ${pkg}`;
  }
  return null;
}

function startIn(host: LabHost, argv: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', host.ns, ...argv], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await sleep(500);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

async function until(pred: () => Promise<boolean>, timeoutMs: number, pollMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timeout');
    await sleep(pollMs);
  }
}

/** keepalived (VRRP, advert_int 1) on `hosts`, one instance, priorities rising with the index.
 * `pids()` gives each host's keepalived processes (the parent and its VRRP child) for CPU readings. */
export function startKeepalived(name: string, hosts: LabHost[]): { pids(): number[][]; stop(): Promise<void> } {
  const rec = loadRecord(name);
  const vip = rec.hosts[0]!.address.replace(/\.\d+$/, '.249');
  const dir = join(rec.dir, 'peers', 'keepalived');
  mkdirSync(dir, { recursive: true });
  const children: ChildProcess[] = [];
  hosts.forEach((h, i) => {
    const conf = join(dir, `${h.name}.conf`);
    writeFileSync(conf, `vrrp_instance bench {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority ${100 + i * 10}\n  advert_int 1\n  virtual_ipaddress {\n    ${vip}/${rec.prefix}\n  }\n}\n`);
    children.push(startIn(h, ['keepalived', '--dont-fork', '--log-console', '--vrrp', '--use-file', conf, '--pid', join(dir, `${h.name}.pid`), '--vrrp_pid', join(dir, `${h.name}.vrrp.pid`)], join(dir, `${h.name}.log`)));
  });
  const readPid = (f: string) => (existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN);
  return {
    pids: () => hosts.map((h) => [readPid(join(dir, `${h.name}.pid`)), readPid(join(dir, `${h.name}.vrrp.pid`))].filter((p) => Number.isInteger(p) && p > 0)),
    stop: () => stopAll(children),
  };
}

/** keepalived on the first three hosts; each trial pulls the MASTER's cable. Returns ms per trial. */
export async function keepalivedTrials(name: string, trials: number): Promise<number[]> {
  const rec = loadRecord(name);
  const hosts = rec.hosts.slice(0, 3);
  const vip = rec.hosts[0]!.address.replace(/\.\d+$/, '.249');
  const holder = async (): Promise<string | null> => {
    for (const h of hosts) {
      if (h.name === skip) continue;
      const out = await run(['ip', '-n', h.ns, '-4', 'addr', 'show', 'dev', 'eth0']).catch(() => '');
      if (out.includes(`${vip}/`)) return h.name;
    }
    return null;
  };
  let skip = '';
  const out: number[] = [];
  const k = startKeepalived(name, hosts);
  try {
    for (let t = 0; t < trials; t++) {
      skip = '';
      await until(async () => (await holder()) !== null, 30_000, 100);
      const master = (await holder())!;
      skip = master;
      const t0 = Date.now();
      await lab.cut(name, master);
      await until(async () => (await holder()) !== null, 30_000, 20);
      out.push(Date.now() - t0);
      await lab.restore(name, master);
      skip = '';
      await sleep(5000); // preemption back to the highest priority, then a steady state
    }
  } finally {
    await k.stop();
  }
  return out;
}

/** A 3-member etcd cluster on the first three hosts; each trial pulls the leader's cable. Returns ms per trial. */
export async function etcdTrials(name: string, trials: number): Promise<number[]> {
  const rec = loadRecord(name);
  const hosts = rec.hosts.slice(0, 3);
  const dir = join(rec.dir, 'peers', 'etcd');
  mkdirSync(dir, { recursive: true });
  const cluster = hosts.map((h) => `${h.name}=http://${h.address}:2380`).join(',');
  const children: ChildProcess[] = [];
  // member_id and leader are 64-bit: compared as strings.
  const status = async (h: LabHost): Promise<{ id: string; leader: string } | null> => {
    const txt = await run(['ip', 'netns', 'exec', h.ns, 'etcdctl', '--endpoints', `http://${h.address}:2379`, '--command-timeout=300ms', '--dial-timeout=300ms', 'endpoint', 'status', '-w', 'json'], { timeoutMs: 3000 }).catch(() => '');
    const id = /"member_id":(\d+)/.exec(txt)?.[1];
    const leader = /"leader":(\d+)/.exec(txt)?.[1];
    return id && leader ? { id, leader } : null;
  };
  const out: number[] = [];
  try {
    for (const h of hosts) {
      children.push(
        startIn(h, ['etcd', '--name', h.name, '--data-dir', join(dir, h.name), '--listen-peer-urls', `http://${h.address}:2380`, '--initial-advertise-peer-urls', `http://${h.address}:2380`, '--listen-client-urls', `http://${h.address}:2379`, '--advertise-client-urls', `http://${h.address}:2379`, '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `bench-${name}`], join(dir, `${h.name}.log`)),
      );
    }
    for (let t = 0; t < trials; t++) {
      let leaderHost: LabHost | undefined;
      await until(async () => {
        const st = await Promise.all(hosts.map(status));
        if (st.some((s) => !s) || new Set(st.map((s) => s!.leader)).size !== 1) return false;
        leaderHost = hosts[st.findIndex((s) => s!.id === s!.leader)];
        return leaderHost !== undefined;
      }, 60_000, 200);
      const old = (await status(leaderHost!))!.leader;
      const others = hosts.filter((h) => h !== leaderHost);
      const t0 = Date.now();
      await lab.cut(name, leaderHost!.name);
      await until(async () => {
        const st = await Promise.all(others.map(status));
        return st.every((s) => s && s.leader !== old && s.leader !== '0' && s.leader === st[0]!.leader);
      }, 30_000, 20);
      out.push(Date.now() - t0);
      await lab.restore(name, leaderHost!.name);
      await sleep(3000);
    }
  } finally {
    await stopAll(children);
  }
  return out;
}
