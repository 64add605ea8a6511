import { mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { LabError } from '../../util/errors.js';
import { run, tryRun } from '../../util/exec.js';
import type { AgentStatus } from '../../contract/status.js';
import type { HostBackend } from '../backend.js';
import { GUEST, type ExecResult, type GuestStatus } from '../guest/protocol.js';
import { type LabHost, type LabRecord } from '../record.js';
import { isSameProcess, procIdentity } from '../../util/proc.js';
import { callGuest } from './channel.js';
import { qmp } from './qmp.js';
import { tailOf } from '../../util/tail.js';
import { concatenate, cpioOf, startVm, type GuestImage, type VmArch } from './qemu.js';

const VM_MEM_MB = 1024;

/**
 * The agents' timings in emulated VMs. Under TCG one vCPU runs Node ~10-20x slower than a
 * Pi 4 core, and a Node process starting (a supervisor, the k3s stand-in) holds the agent's
 * event loop for seconds: with the defaults (1 s of heartbeat silence) members would drop
 * out while a CCP starts. These are the settings for a slow host; `lab up` timings override them.
 */
export const EMULATED_TIMINGS = { keepaliveSec: 10, heartbeatMs: 250, deadAfterMs: 3000, meshHeartbeatMs: 1000, unreachableAfterMs: 10_000, probeTimeoutMs: 1500, probeIntervalMs: 2000, settleMs: 5000, ccpLossMs: 3000, reachFreshMs: 15_000 } as const;

function vmOf(h: LabHost): NonNullable<LabHost['vm']> {
  if (!h.vm) throw new LabError(`${h.name} is not a VM host`, 'LAB_STATE');
  return h.vm;
}

const guest = <T>(h: LabHost, body: Parameters<typeof callGuest>[2], timeoutMs: number) => callGuest<T>(vmOf(h).channel, h.name, body, timeoutMs);

/** The per-host part of the initramfs: the agent's config and the cluster's files. */
async function hostArchive(rec: LabRecord, h: LabHost): Promise<string> {
  const root = join(h.dir, 'initrd-root');
  const etc = join(root, GUEST.configDir.slice(1));
  rmSync(root, { recursive: true, force: true });
  mkdirSync(etc, { recursive: true, mode: 0o700 });
  copyFileSync(h.config, join(etc, 'infravisor.yaml'));
  copyFileSync(join(rec.dir, 'cluster.secret'), join(etc, 'cluster.secret'));
  copyFileSync(join(rec.dir, 'web.token'), join(etc, 'web.token'));
  copyFileSync(join(rec.dir, 'cluster.yaml'), join(etc, 'cluster.yaml'));
  copyFileSync(join(rec.dir, 'pki', 'ca.crt'), join(etc, 'ca.crt'));
  copyFileSync(join(rec.dir, 'pki', 'ca.crl'), join(etc, 'ca.crl'));
  copyFileSync(join(h.dir, 'tls', `${h.name}.crt`), join(etc, 'host.crt'));
  copyFileSync(join(h.dir, 'tls', `${h.name}.key`), join(etc, 'host.key'));
  writeFileSync(join(etc, 'guest.env'), `IV_HOST=${h.name}\nIV_ADDRESS=${h.address}\nIV_PREFIX=${rec.prefix}\n`);
  const out = join(h.dir, 'host.cpio');
  await cpioOf(root, out);
  rmSync(root, { recursive: true, force: true });
  return out;
}

async function waitTap(rec: LabRecord, h: LabHost, deadlineMs: number): Promise<void> {
  for (;;) {
    if (await tryRun(['ip', '-n', rec.switchNs, 'link', 'show', h.port])) return;
    if (!isSameProcess(vmOf(h).qemu)) throw new LabError(`QEMU for ${h.name} exited before making its tap; its log ends with:\n${tailOf(join(h.dir, 'qemu.log'), 15)}`, 'LAB_VM');
    if (Date.now() > deadlineMs) throw new LabError(`QEMU for ${h.name} made no tap ${h.port} within 10 s`, 'LAB_VM');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopVm(h: LabHost): Promise<void> {
  const q = h.vm?.qemu;
  if (!q || !isSameProcess(q)) return;
  await qmp(h.vm!.qmp, 'quit', undefined, 2000).catch(() => undefined);
  for (let i = 0; i < 50 && isSameProcess(q); i++) await new Promise((r) => setTimeout(r, 50));
  if (isSameProcess(q)) process.kill(q.pid, 'SIGKILL');
  for (let i = 0; i < 50 && procIdentity(q.pid); i++) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Hosts as emulated VMs (one vCPU, Debian's kernel, Node and the agent in the initramfs),
 * their taps on the lab switch. A cable pull is QEMU's set_link over QMP: the guest sees
 * carrier loss, as on a real Pi.
 */
export function vmBackend(arch: VmArch, image: GuestImage | null): HostBackend {
  return {
    kind: 'qemu',
    paths: () => ({
      secretFile: join(GUEST.configDir, 'cluster.secret'),
      webTokenFile: join(GUEST.configDir, 'web.token'),
      clusterConfig: join(GUEST.configDir, 'cluster.yaml'),
      stateDir: GUEST.stateDir,
      statusSocket: GUEST.socket,
      k3sRoot: '/var/lib/infravisor-k3s',
      k3sBin: join(GUEST.app, 'test/fixtures/k3s-standin/k3s'),
      tls: { ca: join(GUEST.configDir, 'ca.crt'), crl: join(GUEST.configDir, 'ca.crl'), cert: join(GUEST.configDir, 'host.crt'), key: join(GUEST.configDir, 'host.key') },
    }),
    async create(rec, h) {
      if (!image) throw new LabError('no guest image', 'LAB_IMAGE');
      const vm = vmOf(h);
      await concatenate([image.base, image.app, await hostArchive(rec, h)], vm.initrd);
      vm.qemu = startVm({ arch, name: h.name, switchNs: rec.switchNs, kernel: image.kernel, initrd: vm.initrd, memMb: VM_MEM_MB, mac: h.mac, tap: h.port, qmp: vm.qmp, channel: vm.channel, console: vm.console, log: join(h.dir, 'qemu.log') });
      await waitTap(rec, h, Date.now() + 10_000);
      await run(['ip', '-n', rec.switchNs, 'link', 'set', h.port, 'master', rec.bridge, 'up']);
    },
    async waitReady(_rec, hosts, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const pending = new Set(hosts);
      while (pending.size) {
        for (const h of [...pending]) {
          if (!isSameProcess(vmOf(h).qemu)) throw new LabError(`the VM ${h.name} stopped while booting; its console ends with:\n${tailOf(vmOf(h).console, 15, '(empty)')}`, 'LAB_VM');
          const st = await guest<GuestStatus>(h, { op: 'status' }, 3000).catch(() => null);
          if (st?.view) pending.delete(h);
        }
        if (!pending.size) break;
        if (Date.now() > deadline) {
          const h = [...pending][0]!;
          throw new LabError(`the VM ${h.name} did not have its agent ready within ${timeoutMs / 1000} s; its console ends with:\n${tailOf(vmOf(h).console, 15, '(empty)')}`, 'LAB_TIMEOUT');
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    // A VM boot keeps about two cores busy.
    wave: () => Math.max(1, Math.floor(availableParallelism() / 2)),
    async setCable(_rec, h, plugged) {
      await qmp(vmOf(h).qmp, 'set_link', { name: 'net0', up: plugged });
    },
    async flushNeighbours(rec) {
      await Promise.all(rec.hosts.map((h) => guest(h, { op: 'exec', argv: ['ip', 'neigh', 'flush', 'dev', 'eth0'], timeoutMs: 5000 }, 10_000).catch(() => undefined)));
    },
    async kill(_rec, h) {
      return (await guest<{ pid: number }>(h, { op: 'kill' }, 10_000)).pid;
    },
    async start(_rec, h, waitMs) {
      return (await guest<{ pid: number }>(h, { op: 'start', waitMs }, waitMs + 5000)).pid;
    },
    async exec(_rec, h, argv) {
      const r = await guest<ExecResult>(h, { op: 'exec', argv, timeoutMs: 120_000 }, 125_000);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.code;
    },
    async probe(_rec, h) {
      if (!isSameProcess(h.vm?.qemu ?? null)) return { running: false, pid: null, view: null, ccpRunning: false };
      const st = await guest<GuestStatus>(h, { op: 'status' }, 4000).catch(() => null);
      if (!st) return { running: false, pid: null, view: null, ccpRunning: false };
      return { running: st.running, pid: st.pid, view: (st.view as AgentStatus | null) ?? null, ccpRunning: st.ccpRunning };
    },
    async teardown(_rec, h) {
      const was = isSameProcess(h.vm?.qemu ?? null);
      await stopVm(h);
      return was;
    },
  };
}
