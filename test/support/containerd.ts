import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun } from '../../agent/src/util/exec.js';
import { OciLayout } from '../../agent/src/runtime/oci/layout.js';
import { hostPlatform, MT, type Descriptor } from '../../agent/src/runtime/oci/media.js';
import { CriClient } from '../../agent/src/runtime/cri/client.js';

/**
 * Test fixtures for the runtime migration: a real containerd the suite starts itself (own
 * root, state, socket, CNI conf dir; restrict_oom_score_adj because this host refuses negative
 * OOM scores), images built here from Debian's busybox-static (no registry is reachable), and
 * a private containers-storage with podman's config. Everything is removed by stop(), also
 * after a failed test: tasks, pods, shims, mounts, files.
 */
export function containerPrerequisites(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const [bin, pkg] of [['containerd', 'containerd'], ['ctr', 'containerd'], ['runc', 'runc'], ['skopeo', 'skopeo'], ['podman', 'podman'], ['conmon', 'conmon']] as const) {
    if (!['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(join(d, bin)))) return `needs ${bin} (apt-get install ${pkg})`;
  }
  if (!existsSync('/bin/busybox')) return 'needs /bin/busybox (apt-get install busybox-static)';
  return null;
}

/** Mount points at or below a directory, deepest first. */
export function mountsUnder(dir: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4]).filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountAll(dir: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return;
    for (const p of points) await tryRun(['umount', '-l', p]);
  }
}

/** Processes whose command line mentions `needle` (the shims of a containerd, the conmons of a store). */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export class TestContainerd {
  readonly socket: string;
  /** containerd's root (its content store is under it). */
  readonly root: string;
  private child: ChildProcess | null = null;

  constructor(readonly dir: string) {
    this.socket = join(dir, 'containerd.sock');
    this.root = join(dir, 'root');
  }

  static async start(dir: string, sandboxImage = 'localhost/infravisor-test/pause:1'): Promise<TestContainerd> {
    const c = new TestContainerd(dir);
    mkdirSync(join(dir, 'cni'), { recursive: true });
    const config = [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      '[grpc]',
      `  address = "${c.socket}"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${sandboxImage}"`,
      '  restrict_oom_score_adj = true',
      '  disable_apparmor = true',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    conf_dir = "${join(dir, 'cni')}"`,
      '    bin_dir = "/usr/lib/cni"',
      '  [plugins."io.containerd.grpc.v1.cri".containerd]',
      '    snapshotter = "overlayfs"',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'config.toml'), config);
    const log = openSync(join(dir, 'containerd.log'), 'a');
    c.child = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    for (let i = 0; i < 200; i++) {
      if (existsSync(c.socket) && (await tryRun(['ctr', '--address', c.socket, 'version'], { timeoutMs: 2000 }))) return c;
      if (c.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const tail = readFileSync(join(dir, 'containerd.log'), 'utf8').split('\n').slice(-5).join('\n');
    await c.stop();
    throw new Error(`containerd did not come up:\n${tail}`);
  }

  ctr(args: string[], ns = 'k8s.io'): Promise<string> {
    return run(['ctr', '--address', this.socket, '--namespace', ns, ...args], { timeoutMs: 120_000 });
  }

  cri(): CriClient {
    return new CriClient(this.socket);
  }

  /** Imports the named images of a layout (an OCI archive made on the fly). */
  async importLayout(layoutDir: string, ns = 'k8s.io'): Promise<void> {
    const archive = `${layoutDir}.tar`;
    await run(['tar', '-C', layoutDir, '-cf', archive, '.']);
    try {
      await this.ctr(['images', 'import', archive], ns);
    } finally {
      rmSync(archive, { force: true });
    }
  }

  /** Stops everything this containerd runs, then containerd itself, then removes its files. */
  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && existsSync(this.socket)) {
      const cri = (() => {
        try {
          return this.cri();
        } catch {
          return null;
        }
      })();
      if (cri) {
        for (const p of await cri.listPodSandbox().catch(() => [])) {
          await cri.stopPodSandbox(p.id).catch(() => undefined);
          await cri.removePodSandbox(p.id).catch(() => undefined);
        }
        cri.close();
      }
      for (const ns of (await this.ctr(['namespaces', 'ls', '--quiet']).catch(() => '')).split('\n').filter(Boolean)) {
        for (const line of (await this.ctr(['tasks', 'ls'], ns).catch(() => '')).split('\n').slice(1)) {
          const id = line.trim().split(/\s+/)[0];
          if (!id) continue;
          await this.ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', id], ns).catch(() => undefined);
          await this.ctr(['tasks', 'resume', id], ns).catch(() => undefined);
          await this.ctr(['tasks', 'delete', '--force', id], ns).catch(() => undefined);
        }
        for (const id of (await this.ctr(['containers', 'ls', '--quiet'], ns).catch(() => '')).split('\n').filter(Boolean)) {
          await this.ctr(['containers', 'delete', id], ns).catch(() => undefined);
        }
      }
    }
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child!.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    // Shims of this containerd that outlived it (they name its socket on their command line).
    killAll(pidsMentioning(this.socket));
    await unmountAll(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A private containers-storage and podman configuration (the host's default rlimits are refused here). */
export class TestStore {
  readonly root: string;
  readonly runroot: string;
  readonly conf: string;

  constructor(readonly dir: string) {
    this.root = join(dir, 'root');
    this.runroot = join(dir, 'run');
    this.conf = join(dir, 'containers.conf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(this.conf, ['[containers]', 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]', '[engine]', 'cgroup_manager = "cgroupfs"', 'runtime = "runc"', 'events_logger = "file"', `tmp_dir = "${join(dir, 'tmp')}"`, ''].join('\n'));
  }

  podman(args: string[]): Promise<string> {
    return run(['env', `CONTAINERS_CONF=${this.conf}`, 'podman', '--root', this.root, '--runroot', this.runroot, '--storage-driver', 'overlay', ...args], { timeoutMs: 120_000 });
  }

  async stop(): Promise<void> {
    if (existsSync(this.root)) await this.podman(['rm', '--all', '--force', '--time', '0']).catch(() => undefined);
    killAll(pidsMentioning(this.runroot)); // conmons of this store
    await unmountAll(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TestImage {
  name: string;
  /** Extra bytes of random data in the image (in /payload). */
  payloadBytes?: number;
  /** Docker schema 2 media types instead of OCI ones. */
  docker?: boolean;
  /** Wrap the manifest in an index that also lists other platforms. */
  multiArch?: boolean;
  /** Replace the layer's media type (to make an image the migration must refuse). */
  layerMediaType?: string;
  env?: string[];
}

/** Builds busybox-based images into an OCI layout: busybox-static, a few applets, /etc/motd and /etc/deleteme. */
export async function buildImages(dir: string, images: TestImage[]): Promise<string> {
  const layoutDir = join(dir, 'layout');
  const layout = new OciLayout(layoutDir);
  const entries: Descriptor[] = [];
  for (const img of images) {
    const rootfs = join(dir, 'rootfs', img.name.replace(/[^a-z0-9]/gi, '_'));
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    for (const d of ['etc', 'tmp', 'data', 'mnt', 'srv/old']) mkdirSync(join(rootfs, d), { recursive: true });
    writeFileSync(join(rootfs, 'srv', 'old', 'a'), 'lower a\n');
    writeFileSync(join(rootfs, 'srv', 'old', 'b'), 'lower b\n');
    await run(['cp', '/bin/busybox', join(rootfs, 'bin', 'busybox')]);
    for (const a of ['sh', 'sleep', 'cat', 'echo', 'rm', 'ls', 'mkdir', 'env', 'head', 'dd', 'sync', 'wc', 'test', '[', 'tr', 'ln', 'chmod', 'mkfifo', 'chown']) {
      if (!existsSync(join(rootfs, 'bin', a))) await run(['ln', '-s', 'busybox', join(rootfs, 'bin', a)]);
    }
    writeFileSync(join(rootfs, 'etc', 'motd'), `image ${img.name}\n`);
    writeFileSync(join(rootfs, 'etc', 'deleteme'), 'this file is deleted by the test\n');
    if (img.payloadBytes) await run(['dd', 'if=/dev/urandom', `of=${join(rootfs, 'payload')}`, 'bs=1M', `count=${Math.ceil(img.payloadBytes / 1048576)}`, 'status=none'], { timeoutMs: 300_000 });
    const tarPath = join(dir, `${img.name.replace(/[^a-z0-9]/gi, '_')}.tar`);
    await run(['tar', '-C', rootfs, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', tarPath, '.'], { timeoutMs: 300_000 });
    const { createReadStream } = await import('node:fs');
    const diffId = `sha256:${(await run(['sha256sum', tarPath], { timeoutMs: 120_000 })).split(' ')[0]}`;
    if (img.docker) await run(['gzip', '-n', '-1', tarPath], { timeoutMs: 300_000 }); // Docker schema 2 layers are gzip
    const blobPath = img.docker ? `${tarPath}.gz` : tarPath;
    const layer = await layout.putStream(createReadStream(blobPath));
    rmSync(blobPath);
    const plat = hostPlatform();
    const config = { architecture: plat.architecture, os: plat.os, config: { Env: img.env ?? ['PATH=/bin', 'FOO=bar'], Cmd: ['/bin/sleep', '1000000'], WorkingDir: '/' }, rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: 'infravisor test image' }] };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = layout.putBytes(configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: img.docker ? MT.dockerManifest : MT.ociManifest,
      config: { mediaType: img.docker ? MT.dockerConfig : MT.ociConfig, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: img.layerMediaType ?? (img.docker ? MT.dockerLayerGzip : MT.ociLayer), digest: layer.digest, size: layer.size }],
    };
    const mBytes = Buffer.from(JSON.stringify(manifest));
    let top: Descriptor = { mediaType: manifest.mediaType, digest: layout.putBytes(mBytes), size: mBytes.length };
    if (img.multiArch) {
      // Another platform first, so that picking the first entry would be wrong.
      const other = { ...config, architecture: plat.architecture === 'arm64' ? 'amd64' : 'arm64' };
      const oBytes = Buffer.from(JSON.stringify(other));
      const oManifest = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: layout.putBytes(oBytes), size: oBytes.length } }));
      const idx = {
        schemaVersion: 2,
        mediaType: img.docker ? MT.dockerList : MT.ociIndex,
        manifests: [
          { mediaType: manifest.mediaType, digest: layout.putBytes(oManifest), size: oManifest.length, platform: { os: 'linux', architecture: other.architecture } },
          { ...top, platform: { os: 'linux', architecture: plat.architecture, ...(plat.variant ? { variant: plat.variant } : {}) } },
        ],
      };
      const iBytes = Buffer.from(JSON.stringify(idx));
      top = { mediaType: idx.mediaType, digest: layout.putBytes(iBytes), size: iBytes.length };
    }
    entries.push({ ...top, annotations: { 'io.containerd.image.name': img.name, 'org.opencontainers.image.ref.name': img.name.split(':').pop()! } });
  }
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: entries }));
  rmSync(join(dir, 'rootfs'), { recursive: true, force: true });
  return layoutDir;
}

export const sizeOf = (p: string) => statSync(p).size;
