import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH, REPO_ROOT } from '../util/paths.js';
import { stringify } from 'yaml';
import { fetchStatus } from '../status/server.js';
import { AGENT_NODE_FLAGS } from '../daemon/node-flags.js';
import { SupervisedServices } from '../ccp/service.js';
import type { AgentStatus } from '../status/types.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { LabError } from '../util/errors.js';
import { blockedPairs, parseGroups } from './partition.js';
import { renderRuleset } from './nft.js';
import * as netns from './netns.js';
import { aggregate, type LabStatus } from './status.js';
import { checkLabName, hostOf, isSameProcess, labDir, loadRecord, procIdentity, recordFile, saveRecord, withLock, type LabHost, type LabRecord } from './record.js';

/** The built CLI the agents run (also when this module is loaded from source by the tests). */
const CLI = CLI_PATH;
/** The lab's CCP: a real k3s when K3S_BIN names one, else the k3s stand-in test fixture. */
export const LAB_K3S = process.env.K3S_BIN ?? join(REPO_ROOT, 'test/fixtures/k3s-standin/k3s');

const SAMPLE_CLUSTER_CONFIG = {
  version: 1,
  revision: 1,
  k3s: { disable: ['traefik', 'servicelb'], flannelIface: 'eth0' },
  manifests: [{ name: 'hello', content: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hello\n' }],
};
const NS_PREFIX = 'ivl-';

export interface UpOptions {
  name: string;
  hosts: number;
  subnet: string;
  /** Hosts whose address goes into every config as the only seed. Default: h1. */
  seeds?: string[];
  logLevel?: string;
  /** Extra config (timings) merged into every host's config. */
  timings?: Record<string, number>;
  readyTimeoutMs?: number;
}

export function requireRoot(): void {
  if (process.platform !== 'linux') throw new LabError(`the lab needs Linux network namespaces; this is ${process.platform}`, 'LAB_PLATFORM');
  if (process.getuid?.() !== 0) throw new LabError('the lab creates network namespaces and needs root: run it with sudo', 'LAB_ROOT');
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/nft']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr/sbin', '/sbin'))) {
      throw new LabError(`${tool.split('/').pop()} is missing: install it with apt-get install ${tool.endsWith('nft') ? 'nftables' : 'iproute2'}`, 'LAB_TOOL');
    }
  }
}

function parseSubnet(subnet: string): { base: number[]; prefix: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.0\/(\d+)$/.exec(subnet);
  if (!m || Number(m[4]) > 24 || Number(m[4]) < 16) throw new LabError(`--subnet ${subnet} must look like A.B.C.0/24 (prefix 16 to 24)`, 'LAB_USAGE', 2);
  return { base: [Number(m[1]), Number(m[2]), Number(m[3])], prefix: Number(m[4]) };
}

const hostNs = (lab: string, host: string) => `${NS_PREFIX}${lab}-${host}`;

function macFor(lab: string, kind: number, i: number): string {
  const h = createHash('sha256').update(lab).digest();
  return ['02', kind.toString(16).padStart(2, '0'), h[0]!.toString(16).padStart(2, '0'), h[1]!.toString(16).padStart(2, '0'), ((i >> 8) & 255).toString(16).padStart(2, '0'), (i & 255).toString(16).padStart(2, '0')].join(':');
}

function startAgent(h: LabHost): LabHost['agent'] {
  const fd = openSync(h.log, 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', h.ns, process.execPath, ...AGENT_NODE_FLAGS, CLI, 'agent', '--config', h.config], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new LabError(`could not start the agent of ${h.name}`);
    // `ip netns exec` execs in place: the pid is the agent's.
    const id = procIdentity(child.pid);
    if (!id) throw new LabError(`the agent of ${h.name} exited at once; see ${h.log}`);
    return id;
  } finally {
    closeSync(fd);
  }
}

function logTail(path: string, lines = 10): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitReady(hosts: LabHost[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(hosts);
  while (pending.size) {
    await Promise.all(
      [...pending].map(async (h) => {
        if (!isSameProcess(h.agent)) throw new LabError(`the agent of ${h.name} exited during start-up; its log ends with:\n${logTail(h.log)}`, 'LAB_AGENT');
        try {
          await fetchStatus(h.socket, 500);
          pending.delete(h);
        } catch {
          /* not yet */
        }
      }),
    );
    if (!pending.size) break;
    if (Date.now() > deadline) throw new LabError(`agents not ready after ${timeoutMs} ms: ${[...pending].map((h) => h.name).join(', ')}`, 'LAB_TIMEOUT');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function up(o: UpOptions): Promise<{ record: LabRecord; startedAt: Record<string, number>; lastStartAt: number }> {
  requireRoot();
  checkLabName(o.name);
  if (!Number.isInteger(o.hosts) || o.hosts < 1 || o.hosts > 200) throw new LabError('--hosts must be a whole number from 1 to 200', 'LAB_USAGE', 2);
  const { base, prefix } = parseSubnet(o.subnet);
  return withLock(o.name, async () => {
    if (recordFile(o.name).read()) throw new LabError(`lab ${o.name} already exists; remove it with: infravisor lab down --name ${o.name}`, 'LAB_EXISTS');
    const dir = labDir(o.name);
    const switchNs = `${NS_PREFIX}${o.name}-sw`;
    const names = Array.from({ length: o.hosts }, (_, i) => `h${i + 1}`);
    const hosts: LabHost[] = names.map((name, i) => {
      const hdir = join(dir, name);
      return {
        name,
        ns: hostNs(o.name, name),
        address: `${base[0]}.${base[1]}.${base[2]}.${i + 11}`,
        mac: macFor(o.name, 0x10, i + 1),
        port: `p-${name}`,
        cable: 'in',
        loss: 0,
        dir: hdir,
        config: join(hdir, 'infravisor.yaml'),
        socket: join(hdir, 'agent.sock'),
        log: join(hdir, 'agent.log'),
        agent: null,
      };
    });
    const rec: LabRecord = { name: o.name, backend: 'netns', state: 'creating', createdAt: Date.now(), dir, cluster: o.name, switchNs, bridge: netns.BRIDGE, prefix, hosts, partition: null };
    saveRecord(rec); // before anything exists, so `down` can always clean up
    try {
      await netns.createSwitch(switchNs);
      for (const [i, h] of hosts.entries()) {
        await netns.createHost(switchNs, { ns: h.ns, address: h.address, prefix, mac: h.mac, port: h.port, portMac: macFor(o.name, 0x20, i + 1) });
      }
      await netns.loadRuleset(switchNs, renderRuleset((x) => `p-${x}`, [], []));
      const secretFile = join(dir, 'cluster.secret');
      writeFileAtomic(secretFile, randomBytes(24).toString('base64url') + '\n', 0o600);
      const clusterConfig = join(dir, 'cluster.yaml');
      writeFileSync(clusterConfig, stringify(SAMPLE_CLUSTER_CONFIG), { mode: 0o644 });
      const seedHosts = o.seeds ?? ['h1'];
      const seeds = seedHosts.map((s) => `${hostOf(rec, s).address}:1883`);
      for (const h of hosts) {
        mkdirSync(join(h.dir, 'state'), { recursive: true, mode: 0o700 });
        const cfg = {
          cluster: rec.cluster,
          host: { name: h.name, address: h.address, port: 1883 },
          seeds,
          secretFile,
          stateDir: join(h.dir, 'state'),
          statusSocket: h.socket,
          ccp: { bin: LAB_K3S, configRoot: join(h.dir, 'k3s', 'etc'), dataDir: join(h.dir, 'k3s', 'data'), service: 'supervisor', archiveDir: join(h.dir, 'k3s', 'archive'), port: 6443 },
          clusterConfig,
          ...(o.timings ? { timings: o.timings } : {}),
          log: { level: o.logLevel ?? 'info' },
        };
        writeFileSync(h.config, stringify(cfg), { mode: 0o600 });
      }
      // Agents start in waves as wide as the machine has cores, each wave waiting until its
      // agents answer: N node processes booting at once on a small machine starve each
      // other's 1 s keepalives (on real hosts each agent has its own CPU).
      const startedAt: Record<string, number> = {};
      const wave = Math.max(1, availableParallelism());
      let lastStartAt = Date.now();
      for (let i = 0; i < hosts.length; i += wave) {
        const batch = hosts.slice(i, i + wave);
        for (const h of batch) {
          h.agent = startAgent(h);
          startedAt[h.name] = lastStartAt = Date.now();
        }
        saveRecord(rec);
        await waitReady(batch, o.readyTimeoutMs ?? 60_000);
      }
      rec.state = 'up';
      saveRecord(rec);
      return { record: rec, startedAt, lastStartAt };
    } catch (err) {
      // A lab that did not come up is removed whole; the error carries the agent's log tail.
      saveRecord(rec);
      await removeLab(o.name).catch(() => undefined);
      throw err;
    }
  });
}

/** The supervised k3s units of a lab host (started by its agent, outliving it). */
const servicesOf = (h: LabHost) => new SupervisedServices(join(h.dir, 'state', 'ccp'));

async function probeHosts(rec: LabRecord): Promise<Map<string, { running: boolean; view: AgentStatus | null; ccpRunning: boolean }>> {
  const out = new Map<string, { running: boolean; view: AgentStatus | null; ccpRunning: boolean }>();
  await Promise.all(
    rec.hosts.map(async (h) => {
      const running = isSameProcess(h.agent);
      let view: AgentStatus | null = null;
      if (running) view = await fetchStatus<AgentStatus>(h.socket, 1500).catch(() => null);
      out.set(h.name, { running, view, ccpRunning: (await servicesOf(h).mainPid('k3s')) !== null });
    }),
  );
  return out;
}

export async function status(name: string): Promise<LabStatus> {
  const rec = loadRecord(name);
  return aggregate(rec, await probeHosts(rec));
}

async function applyFilter(rec: LabRecord): Promise<void> {
  const names = rec.hosts.map((h) => h.name);
  await netns.loadRuleset(rec.switchNs, renderRuleset((x) => hostOf(rec, x).port, blockedPairs(names, rec.partition), rec.hosts.map((h) => ({ host: h.name, pct: h.loss }))));
}

/** Runs a change under the lab's lock with a fresh record, and saves it afterwards. */
function change<T>(name: string, fn: (rec: LabRecord) => Promise<T>): Promise<T> {
  requireRoot();
  checkLabName(name);
  loadRecord(name);
  return withLock(name, async () => {
    const rec = loadRecord(name);
    const result = await fn(rec);
    saveRecord(rec);
    return result;
  });
}

export function cut(name: string, host: string): Promise<LabHost> {
  return change(name, async (rec) => {
    const h = hostOf(rec, host);
    await netns.setPort(rec.switchNs, h.port, false);
    h.cable = 'out';
    return h;
  });
}

export function restore(name: string, host: string): Promise<LabHost> {
  return change(name, async (rec) => {
    const h = hostOf(rec, host);
    await netns.setPort(rec.switchNs, h.port, true);
    h.cable = 'in';
    await netns.flushNeighbours(rec.hosts.map((x) => x.ns));
    return h;
  });
}

export function partition(name: string, groups: string[]): Promise<string[][]> {
  return change(name, async (rec) => {
    const parsed = parseGroups(groups, rec.hosts.map((h) => h.name));
    rec.partition = parsed;
    await applyFilter(rec);
    return parsed;
  });
}

export function heal(name: string): Promise<void> {
  return change(name, async (rec) => {
    rec.partition = null;
    for (const h of rec.hosts) h.loss = 0;
    await applyFilter(rec);
    for (const h of rec.hosts) {
      if (h.cable === 'out') await netns.setPort(rec.switchNs, h.port, true);
      h.cable = 'in';
    }
    await netns.flushNeighbours(rec.hosts.map((x) => x.ns));
  });
}

export function loss(name: string, host: string, pct: number): Promise<void> {
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) return Promise.reject(new LabError('PCT must be a number from 0 to 100', 'LAB_USAGE', 2));
  return change(name, async (rec) => {
    hostOf(rec, host).loss = Math.round(pct);
    await applyFilter(rec);
  });
}

export function kill(name: string, host: string): Promise<number> {
  return change(name, async (rec) => {
    const h = hostOf(rec, host);
    if (!h.agent || !isSameProcess(h.agent)) throw new LabError(`the agent of ${host} is not running; start it with: infravisor lab start ${host} --name ${name}`, 'LAB_STATE');
    const pid = h.agent.pid;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && procIdentity(pid); i++) await new Promise((r) => setTimeout(r, 20));
    h.agent = null;
    return pid;
  });
}

export function start(name: string, host: string, waitMs = 30_000): Promise<number> {
  return change(name, async (rec) => {
    const h = hostOf(rec, host);
    if (h.agent && isSameProcess(h.agent)) throw new LabError(`the agent of ${host} is already running (pid ${h.agent.pid})`, 'LAB_STATE');
    h.agent = startAgent(h);
    saveRecord(rec);
    await waitReady([h], waitMs);
    return h.agent!.pid;
  });
}

/** Runs a command inside a host's namespace with the caller's stdio; resolves its exit code. */
export function exec(name: string, host: string, argv: string[]): Promise<number> {
  requireRoot();
  const rec = loadRecord(name);
  const h = hostOf(rec, host);
  if (argv.length === 0) return Promise.reject(new LabError('give the command after --, e.g. lab exec h1 -- ip addr', 'LAB_USAGE', 2));
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', h.ns, ...argv], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function stopAgent(h: LabHost): Promise<void> {
  if (!h.agent || !isSameProcess(h.agent)) return;
  const pid = h.agent.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    if (!isSameProcess(h.agent)) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  if (isSameProcess(h.agent)) process.kill(pid, 'SIGKILL');
}

/**
 * Removes everything the lab made: its agents (only the processes it recorded), its
 * namespaces, its files. Works from the on-disk record after a crash, and from the naming
 * convention when even the record is gone.
 */
/**
 * Supervisors whose state directory lies in this lab were started by its agents: any still
 * running (a unit restarted twice over leaves one the state file no longer names) is stopped.
 */
async function sweepSupervisors(dir: string): Promise<void> {
  const mine: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--state-dir');
      if (argv.includes('supervise') && i >= 0 && argv[i + 1]?.startsWith(`${dir}/`)) mine.push(pid);
    } catch {
      /* gone */
    }
  }
  for (const pid of mine) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 100 && mine.some((p) => procIdentity(p)); i++) await new Promise((r) => setTimeout(r, 50));
}

export async function down(name: string): Promise<{ namespaces: string[]; agents: number }> {
  requireRoot();
  checkLabName(name);
  return removeLab(name);
}

async function removeLab(name: string): Promise<{ namespaces: string[]; agents: number }> {
  let rec: LabRecord | null = null;
  try {
    rec = recordFile(name).read();
  } catch {
    rec = null; // a corrupt record: fall back to the naming convention
  }
  let agents = 0;
  if (rec) {
    await Promise.all(
      rec.hosts.map(async (h) => {
        if (h.agent && isSameProcess(h.agent)) {
          agents++;
          await stopAgent(h);
        }
        // The CCP processes outlive the agents, as on a Pi: stop them too.
        await servicesOf(h).stop('k3s').catch(() => undefined);
        await servicesOf(h).stop('k3s-agent').catch(() => undefined);
      }),
    );
  }
  await sweepSupervisors(labDir(name));
  const prefix = `${NS_PREFIX}${name}-`;
  const present = (await netns.listNamespaces()).filter((ns) => ns.startsWith(prefix));
  const removed: string[] = [];
  for (const ns of present) if (await netns.deleteNamespace(ns)) removed.push(ns);
  const left = (await netns.listNamespaces()).filter((ns) => ns.startsWith(prefix));
  if (left.length) throw new LabError(`could not remove namespaces ${left.join(', ')}; remove them with ip netns delete`, 'LAB_DOWN');
  rmSync(labDir(name), { recursive: true, force: true });
  return { namespaces: removed, agents };
}

