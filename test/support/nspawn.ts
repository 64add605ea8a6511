import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Emulated Debian hosts for the Ansible tests: a debootstrap'd bookworm rootfs per
 * architecture (cached), booted with systemd-nspawn (systemd as PID 1) on an overlay of it,
 * attached to a bridge in a network namespace of the test's own. arm64 rootfs run under
 * qemu-user through binfmt. Everything a host makes is removed by `destroy`.
 */
export const ROOTFS_CACHE = join(process.env.INFRAVISOR_CACHE ?? '/var/cache/infravisor', 'rootfs');

/** Packages the hosts start with: what Ansible needs, and what the roles install from the distribution (the airgapped hosts' local mirror). */
const INCLUDE = ['systemd', 'systemd-sysv', 'dbus', 'python3', 'python3-apt', 'iproute2', 'iputils-arping', 'nftables', 'openssl', 'ca-certificates', 'systemd-timesyncd', 'containerd', 'runc', 'xz-utils'];

const run = (argv: string[], input?: string) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

/** The Debian mirror this machine's apt uses (read from its sources, never written down here). */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : [])];
  for (const f of files.filter((x) => /\.(list|sources)$/.test(x) && existsSync(x))) {
    const text = readFileSync(f, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b(?!-)/m.test(stanza) && /^Components:.*\bmain\b/m.test(stanza)) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s+.*\bmain\b/m.exec(text);
    if (line) return line[1]!;
  }
  throw new Error('no Debian bookworm main source in /etc/apt: cannot debootstrap');
}

/** The cached rootfs for `arch` (amd64 or arm64), made with debootstrap when missing. */
export function rootfs(arch: 'amd64' | 'arm64'): string {
  // Keyed on the package list: a cache made with another list is not reused.
  const dir = join(ROOTFS_CACHE, `bookworm-${arch}-${createHash('sha256').update(INCLUDE.join(',')).digest('hex').slice(0, 8)}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(ROOTFS_CACHE, { recursive: true });
  run(['debootstrap', '--variant=minbase', `--arch=${arch}`, `--include=${INCLUDE.join(',')}`, 'bookworm', tmp, debianMirror()]);
  // Every clone gets its own identity and keys at boot; no daemon may start during set-up.
  rmSync(join(tmp, 'etc/machine-id'), { force: true });
  writeFileSync(join(tmp, 'etc/machine-id'), '');
  writeFileSync(join(tmp, '.complete'), new Date().toISOString());
  execFileSync('mv', [tmp, dir]);
  return dir;
}

export interface Host {
  name: string;
  arch: 'amd64' | 'arm64';
  address: string;
  dir: string;
  root: string;
  nspawn: number;
  leader: number;
  console: string;
}

export interface HostNet {
  ns: string;
  bridge: string;
}

export function createNet(ns: string): HostNet {
  run(['ip', 'netns', 'add', ns]);
  run(['ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
  run(['ip', '-n', ns, 'link', 'set', 'br0', 'up']);
  run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  return { ns, bridge: 'br0' };
}

export function destroyNet(net: HostNet): void {
  try {
    run(['ip', 'netns', 'delete', net.ns]);
  } catch {
    /* gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The container's PID 1 among nspawn's descendants: the process that is pid 1 in its own pid namespace. */
function containerInit(nspawn: number): number {
  const queue = [nspawn];
  for (let depth = 0; depth < 4 && queue.length; depth++) {
    for (const pid of queue.splice(0)) {
      for (const c of childrenOf(pid)) {
        try {
          const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${c}/status`, 'utf8'))?.[1]?.trim().split(/\s+/) ?? [];
          if (nspid.length > 1 && nspid.at(-1) === '1') return c;
        } catch {
          /* gone */
        }
        queue.push(c);
      }
    }
  }
  return 0;
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/** Boots one host: an overlay over the cached rootfs, systemd-nspawn inside the network namespace. */
export async function boot(net: HostNet, work: string, name: string, arch: 'amd64' | 'arm64', address: string): Promise<Host> {
  const lower = rootfs(arch);
  const dir = join(work, name);
  const root = join(dir, 'root');
  for (const d of ['upper', 'work', 'root']) mkdirSync(join(dir, d), { recursive: true });
  run(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
  writeFileSync(join(root, 'etc/hostname'), `${name}\n`);
  const console = join(dir, 'console.log');
  const fd = openSync(console, 'a');
  // nsenter, not `ip netns exec`: that remounts /sys, hiding the cgroup hierarchy nspawn needs.
  const child = spawn('nsenter', [`--net=/run/netns/${net.ns}`, 'systemd-nspawn', '--boot', '--register=no', '--keep-unit', '-D', root, '-M', name, `--network-bridge=${net.bridge}`, '--console=passive'], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const nspawn = child.pid!;
  let leader = 0;
  for (let i = 0; i < 300 && !leader && alive(nspawn); i++) {
    await sleep(100);
    leader = containerInit(nspawn);
  }
  const host: Host = { name, arch, address, dir, root, nspawn, leader, console };
  if (!leader) {
    const said = readFileSync(console, 'utf8').slice(-2000);
    await destroy(host);
    throw new Error(`${name}: systemd-nspawn started no container; it said:\n${said}`);
  }
  try {
    // Address from outside (systemd-networkd does not run under qemu-user).
    for (let i = 0; i < 100; i++) {
      try {
        run(['nsenter', '-t', String(leader), '-n', 'ip', 'link', 'show', 'host0']);
        break;
      } catch {
        await sleep(100);
      }
    }
    run(['nsenter', '-t', String(leader), '-n', 'ip', 'addr', 'add', `${address}/24`, 'dev', 'host0']);
    run(['nsenter', '-t', String(leader), '-n', 'ip', 'link', 'set', 'host0', 'up']);
  } catch (err) {
    await destroy(host);
    throw err;
  }
  return host;
}

/** Runs a command inside the host (all its namespaces). */
export function inHost(h: Host, argv: string[]): string {
  return run(['nsenter', '-t', String(h.leader), '-m', '-u', '-i', '-n', '-p', ...argv]);
}

/** Waits until systemd inside the host has finished starting up (running or degraded). */
export async function booted(h: Host, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state = '';
    try {
      state = inHost(h, ['systemctl', 'is-system-running']).trim();
    } catch (err) {
      state = String((err as { stdout?: string }).stdout ?? '').trim();
    }
    if (state === 'running' || state === 'degraded') return state;
    if (Date.now() > deadline) throw new Error(`${h.name}: systemd is ${state || 'not answering'} after ${timeoutMs} ms; console:\n${readFileSync(h.console, 'utf8').slice(-2000)}`);
    await sleep(500);
  }
}


/** Powers the host off (SIGTERM would send an arm64 guest to rescue mode), then removes its overlay. */
export async function destroy(h: Host): Promise<void> {
  if (alive(h.nspawn)) {
    try {
      if (h.leader) inHost(h, ['systemctl', 'poweroff', '--no-block']);
    } catch {
      /* already going */
    }
    for (let i = 0; i < 300 && alive(h.nspawn); i++) await sleep(100);
    if (alive(h.nspawn)) process.kill(h.nspawn, 'SIGKILL');
    for (let i = 0; i < 50 && alive(h.nspawn); i++) await sleep(100);
  }
  try {
    run(['umount', '-l', h.root]);
  } catch {
    /* not mounted */
  }
  rmSync(h.dir, { recursive: true, force: true });
}
