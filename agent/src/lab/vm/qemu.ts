import { spawn } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { REPO_ROOT } from '../../util/paths.js';
import { LabError } from '../../util/errors.js';
import { run } from '../../util/exec.js';
import { procIdentity, type ProcIdentity } from '../../util/proc.js';

/** The emulated architectures: QEMU system, machine and the guest's serial console. */
export const VM_ARCHES = {
  arm64: { qemu: 'qemu-system-aarch64', pkg: 'qemu-system-arm', machine: ['-M', 'virt', '-cpu', 'cortex-a72'], console: 'ttyAMA0' },
} as const;
export type VmArch = keyof typeof VM_ARCHES;

export interface GuestImage {
  kernel: string;
  base: string;
  app: string;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && existsSync(join(d, bin)));
}

/** Everything a VM lab needs on this machine, each missing piece named with the package that has it. */
export function requireVmTools(arch: VmArch): void {
  const missing: string[] = [];
  const a = VM_ARCHES[arch];
  if (!onPath(a.qemu)) missing.push(`${a.qemu} (apt-get install ${a.pkg})`);
  for (const [bin, pkg] of [['cpio', 'cpio'], ['gzip', 'gzip'], ['apt-get', 'apt'], ['npm', 'npm']] as const) if (!onPath(bin)) missing.push(`${bin} (apt-get install ${pkg})`);
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun (load the tun module: modprobe tun)');
  if (missing.length) throw new LabError(`the ${arch} lab cannot start; missing: ${missing.join(', ')}`, 'LAB_TOOL');
}

/**
 * The guest image (kernel, base and agent archives), from the cache or built now by
 * agent/guest/build-image.sh. Progress goes to stderr.
 */
export async function guestImage(arch: VmArch): Promise<GuestImage> {
  const script = join(REPO_ROOT, 'agent/guest/build-image.sh');
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [script, arch], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new LabError(`building the ${arch} guest image failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`, 'LAB_IMAGE'))));
  });
  const img = JSON.parse(out.trim().split('\n').pop() ?? '{}') as GuestImage;
  for (const f of [img.kernel, img.base, img.app]) if (!f || !existsSync(f)) throw new LabError(`the guest image is incomplete (${f} missing); remove the cache directory and run again`, 'LAB_IMAGE');
  return img;
}

/** A newc cpio archive of `dir`'s contents (owned by root), for the per-host part of the initramfs. */
export async function cpioOf(dir: string, out: string): Promise<void> {
  await run(['sh', '-c', 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 > "$2"', 'cpio', dir, out]);
}

/**
 * Concatenates archives: the kernel unpacks each in turn into one initramfs. Each part is
 * padded with zeros to a 4-byte boundary, where the kernel expects an uncompressed archive
 * to start (it skips zero padding between parts).
 */
export async function concatenate(parts: string[], out: string): Promise<void> {
  const dest = createWriteStream(out, { mode: 0o600 });
  for (const p of parts) {
    await pipeline(createReadStream(p), dest, { end: false });
    const pad = (4 - (statSync(p).size % 4)) % 4;
    if (pad) dest.write(Buffer.alloc(pad));
  }
  await new Promise<void>((resolve, reject) => dest.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export interface VmSpec {
  arch: VmArch;
  name: string;
  switchNs: string;
  kernel: string;
  initrd: string;
  memMb: number;
  mac: string;
  tap: string;
  qmp: string;
  channel: string;
  console: string;
  log: string;
}

/**
 * Starts one VM inside the switch namespace, where QEMU creates its tap (the VM's switch
 * port). The guest's console goes to a file; QMP and the control channel to Unix sockets.
 */
export function startVm(s: VmSpec): ProcIdentity {
  const a = VM_ARCHES[s.arch];
  const args = [
    ...a.machine, '-m', String(s.memMb), '-smp', '1', '-accel', 'tcg,tb-size=128',
    '-name', s.name, '-display', 'none', '-monitor', 'none', '-no-reboot', '-nodefaults',
    '-kernel', s.kernel, '-initrd', s.initrd, '-append', `console=${a.console} quiet panic=-1`,
    '-serial', `file:${s.console}`,
    '-netdev', `tap,id=n0,ifname=${s.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,id=net0,mac=${s.mac},romfile=`,
    '-device', 'virtio-serial-pci', '-chardev', `socket,id=ctl,path=${s.channel},server=on,wait=off`, '-device', 'virtserialport,chardev=ctl,name=infravisor.lab',
    '-qmp', `unix:${s.qmp},server=on,wait=off`,
  ];
  const fd = openSync(s.log, 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', s.switchNs, a.qemu, ...args], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    const id = child.pid ? procIdentity(child.pid) : null;
    if (!id) throw new LabError(`QEMU for ${s.name} exited at once; see ${s.log}`, 'LAB_VM');
    return id;
  } finally {
    closeSync(fd);
  }
}
