import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../state/atomic-file.js';
import { dashboardUrls, startDashboard, stopDashboard } from './dashboard-proc.js';
import { LabError } from '../util/errors.js';
import type { HostBackend } from './backend.js';
import { netnsBackend } from './netns-backend.js';
import { blockedPairs, parseGroups } from './partition.js';
import { renderRuleset } from './nft.js';
import * as netns from './netns.js';
import { aggregate, type LabStatus } from './status.js';
import { checkLabName, hostOf, labDir, loadRecord, recordFile, saveRecord, withLock, type LabHost, type LabRecord } from './record.js';
import { procIdentity } from '../util/proc.js';
import { VM_ARCHES, guestImage, requireVmTools, type VmArch } from './vm/qemu.js';
import { EMULATED_TIMINGS, vmBackend } from './vm/backend.js';

export { LAB_K3S } from './netns-backend.js';

const SAMPLE_CLUSTER_CONFIG = {
  version: 1,
  revision: 1,
  k3s: { disable: ['traefik', 'servicelb'], flannelIface: 'eth0' },
  manifests: [{ name: 'hello', content: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hello\n' }],
};
const NS_PREFIX = 'ivl-';

export type LabArch = 'native' | VmArch;

export interface UpOptions {
  name: string;
  hosts: number;
  subnet: string;
  /** native: network namespaces of this machine; arm64: emulated VMs (QEMU). */
  arch?: LabArch;
  /** Hosts whose address goes into every config as the only seed. Default: h1. */
  seeds?: string[];
  logLevel?: string;
  /** Extra config (timings) merged into every host's config. */
  timings?: Record<string, number>;
  readyTimeoutMs?: number;
  /**
   * The cluster's virtual address (A.B.C.250 of the subnet), held by the CCP host of each side,
   * so that members follow a new CCP in place. Default: on for namespace hosts, off for VMs
   * (whose busybox userland is not checked for it).
   */
  vip?: boolean;
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

/** The backend of an existing lab (VM labs need no image to be handled, only to be made). */
function backendOf(rec: LabRecord): HostBackend {
  return rec.backend === 'qemu' ? vmBackend(rec.arch as VmArch, null) : netnsBackend;
}

export async function up(o: UpOptions): Promise<{ record: LabRecord; startedAt: Record<string, number>; readyAt: Record<string, number>; lastStartAt: number }> {
  requireRoot();
  checkLabName(o.name);
  const arch = o.arch ?? 'native';
  if (arch !== 'native' && !(arch in VM_ARCHES)) throw new LabError(`--arch ${arch} is not supported; use native or ${Object.keys(VM_ARCHES).join(', ')}`, 'LAB_USAGE', 2);
  if (!Number.isInteger(o.hosts) || o.hosts < 1 || o.hosts > 200) throw new LabError('--hosts must be a whole number from 1 to 200', 'LAB_USAGE', 2);
  if (arch !== 'native' && o.hosts > 16) throw new LabError('--hosts must be at most 16 for emulated VMs (each takes ~1.4 GB and a share of a core)', 'LAB_USAGE', 2);
  const { base, prefix } = parseSubnet(o.subnet);
  if (arch !== 'native') requireVmTools(arch);
  return withLock(o.name, async () => {
    if (recordFile(o.name).read()) throw new LabError(`lab ${o.name} already exists; remove it with: infravisor lab down --name ${o.name}`, 'LAB_EXISTS');
    // The guest image comes first: building it can take a minute, and nothing exists yet.
    const backend = arch === 'native' ? netnsBackend : vmBackend(arch, await guestImage(arch));
    const dir = labDir(o.name);
    const switchNs = `${NS_PREFIX}${o.name}-sw`;
    const names = Array.from({ length: o.hosts }, (_, i) => `h${i + 1}`);
    const hosts: LabHost[] = names.map((name, i) => {
      const hdir = join(dir, name);
      return {
        name,
        ns: arch === 'native' ? hostNs(o.name, name) : '',
        address: `${base[0]}.${base[1]}.${base[2]}.${i + 11}`,
        mac: netns.macFor(o.name, 0x10, i + 1),
        port: `p-${name}`,
        cable: 'in',
        loss: 0,
        dir: hdir,
        config: join(hdir, 'infravisor.yaml'),
        socket: join(hdir, 'agent.sock'),
        log: join(hdir, 'agent.log'),
        agent: null,
        ...(arch === 'native' ? {} : { vm: { qemu: null, qmp: join(hdir, 'qmp.sock'), channel: join(hdir, 'channel.sock'), console: join(hdir, 'console.log'), initrd: join(hdir, 'initrd.img') } }),
      };
    });
    const rec: LabRecord = { name: o.name, backend: backend.kind, arch, state: 'creating', createdAt: Date.now(), dir, cluster: o.name, switchNs, bridge: netns.BRIDGE, prefix, hosts, partition: null, dashboard: null };
    saveRecord(rec); // before anything exists, so `down` can always clean up
    try {
      await netns.createSwitch(switchNs);
      await netns.loadRuleset(switchNs, renderRuleset((x) => `p-${x}`, [], []));
      writeFileAtomic(join(dir, 'cluster.secret'), randomBytes(24).toString('base64url') + '\n', 0o600);
      writeFileAtomic(join(dir, 'web.token'), randomBytes(18).toString('base64url') + '\n', 0o600);
      const vip = (o.vip ?? arch === 'native') ? { vip: { address: `${base[0]}.${base[1]}.${base[2]}.250` } } : {};
      writeFileSync(join(dir, 'cluster.yaml'), stringify({ ...SAMPLE_CLUSTER_CONFIG, ...vip }), { mode: 0o644 });
      // The lab's own CA, and a key and certificate per host (the PKI code loads only here).
      const pki = await import('../trust/pki.js');
      await pki.initCa(join(dir, 'pki'), rec.cluster);
      for (const h of hosts) await pki.issue(join(dir, 'pki'), h.name, { out: join(h.dir, 'tls') });
      const seeds = (o.seeds ?? ['h1']).map((s) => `${hostOf(rec, s).address}:1883`);
      for (const h of hosts) {
        mkdirSync(join(h.dir, 'state'), { recursive: true, mode: 0o700 });
        const p = backend.paths(h);
        const cfg = {
          cluster: rec.cluster,
          host: { name: h.name, address: h.address, port: 1883 },
          seeds,
          secretFile: p.secretFile,
          tls: p.tls,
          web: { enabled: true, port: 8088, tokenFile: p.webTokenFile },
          stateDir: p.stateDir,
          statusSocket: p.statusSocket,
          ccp: { bin: p.k3sBin, configRoot: join(p.k3sRoot, 'etc'), dataDir: join(p.k3sRoot, 'data'), service: 'supervisor', archiveDir: join(p.k3sRoot, 'archive'), port: 6443 },
          clusterConfig: p.clusterConfig,
          ...(o.timings || arch !== 'native' ? { timings: { ...(arch === 'native' ? {} : EMULATED_TIMINGS), ...o.timings } } : {}),
          log: { level: o.logLevel ?? 'info' },
        };
        writeFileSync(h.config, stringify(cfg), { mode: 0o600 });
      }
      // Hosts start in waves, each wave waiting until its agents answer (backend.wave()).
      const startedAt: Record<string, number> = {};
      const readyAt: Record<string, number> = {};
      const wave = backend.wave();
      let lastStartAt = Date.now();
      for (let i = 0; i < hosts.length; i += wave) {
        const batch = hosts.slice(i, i + wave);
        for (const h of batch) {
          await backend.create(rec, h, hosts.indexOf(h));
          startedAt[h.name] = lastStartAt = Date.now();
          saveRecord(rec);
        }
        await backend.waitReady(rec, batch, o.readyTimeoutMs ?? (arch === 'native' ? 60_000 : 240_000));
        for (const h of batch) readyAt[h.name] = Date.now();
      }
      rec.dashboard = await startDashboard(rec);
      rec.state = 'up';
      saveRecord(rec);
      return { record: rec, startedAt, readyAt, lastStartAt };
    } catch (err) {
      // A lab that did not come up is removed whole; the error carries the log or console tail.
      saveRecord(rec);
      await removeLab(o.name).catch(() => undefined);
      throw err;
    }
  });
}

async function probeHosts(rec: LabRecord) {
  const backend = backendOf(rec);
  return new Map(await Promise.all(rec.hosts.map(async (h) => [h.name, await backend.probe(rec, h)] as const)));
}

export async function status(name: string): Promise<LabStatus> {
  const rec = loadRecord(name);
  return aggregate(rec, await probeHosts(rec), dashboardUrls(rec));
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
    await backendOf(rec).setCable(rec, h, false);
    h.cable = 'out';
    return h;
  });
}

export function restore(name: string, host: string): Promise<LabHost> {
  return change(name, async (rec) => {
    const h = hostOf(rec, host);
    await backendOf(rec).setCable(rec, h, true);
    h.cable = 'in';
    await backendOf(rec).flushNeighbours(rec);
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
      if (h.cable === 'out') await backendOf(rec).setCable(rec, h, true);
      h.cable = 'in';
    }
    await backendOf(rec).flushNeighbours(rec);
  });
}

export function loss(name: string, host: string, pct: number): Promise<void> {
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) return Promise.reject(new LabError('PCT must be a number from 0 to 100', 'LAB_USAGE', 2));
  return change(name, async (rec) => {
    hostOf(rec, host).loss = Math.round(pct);
    await applyFilter(rec);
  });
}

/** Revokes HOST's certificate in the lab's CA: every agent re-reads the CRL (netns hosts share
 * the lab's file) and refuses it. */
export function revoke(name: string, host: string): Promise<string> {
  return change(name, async (rec) => {
    hostOf(rec, host);
    const { revoke: revokeCert } = await import('../trust/pki.js');
    return (await revokeCert(join(rec.dir, 'pki'), host)).serial;
  });
}

export function kill(name: string, host: string): Promise<number> {
  return change(name, (rec) => backendOf(rec).kill(rec, hostOf(rec, host)));
}

export function start(name: string, host: string, waitMs = 30_000): Promise<number> {
  return change(name, async (rec) => backendOf(rec).start(rec, hostOf(rec, host), rec.backend === 'qemu' ? Math.max(waitMs, 120_000) : waitMs));
}

/** Runs a command inside a host (its namespace, or its VM) with the caller's output; resolves its exit code. */
export function exec(name: string, host: string, argv: string[]): Promise<number> {
  requireRoot();
  const rec = loadRecord(name);
  const h = hostOf(rec, host);
  if (argv.length === 0) return Promise.reject(new LabError('give the command after --, e.g. lab exec h1 -- ip addr', 'LAB_USAGE', 2));
  return backendOf(rec).exec(rec, h, argv);
}

/**
 * Processes that only this lab starts with its directory in their command line: supervisors
 * whose state directory lies in it (started by its agents; a unit restarted twice over can
 * leave one the state file no longer names), and QEMU for its VMs (when the record that names
 * them is lost). Any still running is stopped.
 */
async function sweepProcesses(dir: string): Promise<void> {
  const mine: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--state-dir');
      const supervisor = argv.includes('supervise') && i >= 0 && argv[i + 1]?.startsWith(`${dir}/`);
      const qemu = /qemu-system-/.test(argv[0] ?? '') && argv.some((a) => a.includes(`${dir}/`));
      if (supervisor || qemu) mine.push(pid);
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

/**
 * Removes everything the lab made: its agents and VMs (only the processes it recorded), its
 * namespaces, its files. Works from the on-disk record after a crash, and from the naming
 * convention when even the record is gone.
 */
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
    await stopDashboard(rec).catch(() => undefined);
    const backend = backendOf(rec);
    await Promise.all(rec.hosts.map(async (h) => void ((await backend.teardown(rec!, h).catch(() => false)) && agents++)));
  }
  await sweepProcesses(labDir(name));
  const prefix = `${NS_PREFIX}${name}-`;
  const present = (await netns.listNamespaces()).filter((ns) => ns.startsWith(prefix));
  const removed: string[] = [];
  for (const ns of present) if (await netns.deleteNamespace(ns)) removed.push(ns);
  const left = (await netns.listNamespaces()).filter((ns) => ns.startsWith(prefix));
  if (left.length) throw new LabError(`could not remove namespaces ${left.join(', ')}; remove them with ip netns delete`, 'LAB_DOWN');
  rmSync(labDir(name), { recursive: true, force: true });
  return { namespaces: removed, agents };
}

