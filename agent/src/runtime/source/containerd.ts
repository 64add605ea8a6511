import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, run } from '../../util/exec.js';
import { RuntimeError } from '../errors.js';
import type { OciLayout } from '../oci/layout.js';
import { OverlayDiffUnsupported, overlayDiffStream } from './overlay-diff.js';
import { TasksClient, type TaskStatus } from './tasks-client.js';

export type { TaskStatus };
import { socketPath } from '../grpc.js';

const SIGTERM = 15;
const SIGKILL = 9;

/** What `ctr containers info` reports of a container (the fields the migration reads). */
export interface CtrContainerInfo {
  ID: string;
  Labels: Record<string, string> | null;
  Image: string;
  SnapshotKey: string;
  Snapshotter: string;
  Spec: {
    process: { args: string[]; env?: string[]; cwd?: string; user?: { uid: number; gid: number; username?: string } };
    mounts?: { destination: string; type?: string; source?: string; options?: string[] }[];
    hostname?: string;
    linux?: { namespaces?: { type: string; path?: string }[] };
  };
}


/**
 * The source runtime: containerd, through its own client `ctr` (the content store, snapshots
 * and tasks are not part of the CRI). Every call names the socket and the namespace.
 */
export class Containerd {
  /**
   * `root` is containerd's root directory (containerd's `root`; k3s: /var/lib/rancher/k3s/agent/containerd).
   * When its content store is on the work directory's file system, blobs are hard-linked
   * instead of streamed (they are content-addressed, and skopeo verifies them again).
   */
  constructor(
    readonly socket: string,
    readonly namespace = 'k8s.io',
    readonly root: string | null = null,
  ) {}

  private tasksClient: TasksClient | null = null;

  private argv(args: string[]): string[] {
    return ['ctr', '--address', this.socket, '--namespace', this.namespace, ...args];
  }

  private async ctr(args: string[], timeoutMs = 60_000): Promise<string> {
    try {
      return await run(this.argv(args), { timeoutMs });
    } catch (err) {
      const detail = err instanceof CommandError ? err.stderr.trim().split('\n').slice(-2).join(' | ') : String(err);
      throw new RuntimeError('SOURCE', `containerd (${this.socket}, namespace ${this.namespace}): ctr ${args.slice(0, 3).join(' ')} failed: ${detail}`, { cause: err });
    }
  }

  private requireSocket(): string {
    return socketPath(this.socket, '--containerd-socket', { name: 'containerd socket', daemon: 'containerd' });
  }

  async check(): Promise<string> {
    this.requireSocket();
    const out = await this.ctr(['version'], 10_000);
    return /Server:[\s\S]*?Version:\s*(\S+)/.exec(out)?.[1] ?? 'unknown';
  }

  async containerIds(): Promise<string[]> {
    return (await this.ctr(['containers', 'ls', '--quiet'])).split('\n').map((s) => s.trim()).filter(Boolean);
  }

  async info(id: string): Promise<CtrContainerInfo> {
    return JSON.parse(await this.ctr(['containers', 'info', id])) as CtrContainerInfo;
  }

  /** containerd's task service over gRPC, opened on first use (the socket is checked first). */
  private get t(): TasksClient {
    if (!this.tasksClient) {
      this.tasksClient = new TasksClient(this.requireSocket(), this.namespace);
    }
    return this.tasksClient;
  }

  async tasks(): Promise<Map<string, { pid: number; status: TaskStatus }>> {
    return this.t.list();
  }

  async pause(id: string): Promise<void> {
    await this.t.pause(id);
  }

  async resume(id: string): Promise<void> {
    await this.t.resume(id);
  }

  private async waitNotRunning(id: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && (await this.tasks()).get(id)?.status === 'RUNNING') await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops a plain containerd container's task (SIGTERM, then SIGKILL after the grace) and deletes the task. */
  async stopTask(id: string, graceMs = 10_000): Promise<void> {
    const status = (await this.tasks()).get(id)?.status;
    if (status && status !== 'STOPPED') {
      if (status === 'PAUSED' || status === 'PAUSING') await this.killFrozen(id);
      else {
        await this.t.kill(id, SIGTERM).catch(() => undefined);
        await this.waitNotRunning(id, graceMs);
        if ((await this.tasks()).get(id)?.status === 'RUNNING') await this.t.kill(id, SIGKILL, true).catch(() => undefined);
        await this.waitNotRunning(id, 5000);
      }
    }
    await this.t.delete(id).catch(() => undefined);
  }

  /**
   * Ends a frozen task without letting it run again: SIGKILL is queued while the cgroup is
   * frozen and taken on thaw before any user code runs. The container itself stays (exited).
   */
  async killFrozen(id: string, opts: { deleteTask?: boolean } = {}): Promise<void> {
    const t = (await this.tasks()).get(id);
    if (t && t.status !== 'STOPPED') {
      await this.t.kill(id, SIGKILL, true);
      if (t.status === 'PAUSED' || t.status === 'PAUSING') await this.t.resume(id).catch(() => undefined);
      await this.waitNotRunning(id, 5000);
    }
    // A CRI container's task is reaped by the CRI plugin, which records the exit; a plain one's by us.
    if (opts.deleteTask !== false) await this.t.delete(id).catch(() => undefined);
  }

  close(): void {
    this.tasksClient?.close();
    this.tasksClient = null;
  }

  /** The manifest or index digest and media type an image name points at. */
  async imageTarget(ref: string): Promise<{ digest: string; mediaType: string }> {
    const out = await this.ctr(['images', 'ls', `name==${ref}`]);
    const line = out.split('\n').slice(1).find((l) => l.startsWith(`${ref} `));
    const [, mediaType, digest] = line?.trim().split(/\s+/) ?? [];
    if (!mediaType || !digest) throw new RuntimeError('SOURCE', `image ${ref} is not in containerd's namespace ${this.namespace}; it may have been removed while the container runs: pull or import it again`);
    return { digest, mediaType };
  }

  async readContent(digest: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.argv(['content', 'get', digest])[0]!, this.argv(['content', 'get', digest]).slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new RuntimeError('SOURCE', `containerd content ${digest} could not be read: ${err.trim()}`))));
    });
  }

  /** A blob of the content store into an OCI layout: hard-linked when possible, else streamed and verified. */
  async copyContent(d: { digest: string; size: number }, layout: OciLayout): Promise<void> {
    if (this.root) {
      const hex = d.digest.split(':')[1] ?? '';
      if (/^[0-9a-f]{64}$/.test(hex) && layout.linkFrom(join(this.root, 'io.containerd.content.v1.content', 'blobs', 'sha256', hex), d)) return;
    }
    await this.streamInto(['content', 'get', d.digest], layout, d.digest);
  }

  /**
   * The diff of a container's writable layer against its image, as an uncompressed OCI layer
   * (deletions as whiteout files), written into the layout. Pause the task around it. With the
   * overlayfs snapshotter's upper directory (see upperDir) the layer is read from there
   * directly; otherwise, or when that directory holds something only containerd's differ can
   * express, containerd computes it.
   */
  async diff(snapshotKey: string, snapshotter: string, layout: OciLayout, upper: string | null = null): Promise<{ digest: string; size: number; via: 'upperdir' | 'containerd' }> {
    if (upper) {
      try {
        return { ...(await layout.putStream(overlayDiffStream(upper))), via: 'upperdir' };
      } catch (err) {
        if (!(err instanceof OverlayDiffUnsupported)) throw err;
      }
    }
    const r = await this.streamInto(['snapshots', '--snapshotter', snapshotter, 'diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar', snapshotKey], layout);
    return { ...r, via: 'containerd' };
  }

  /** The upper (writable) directory of an overlayfs snapshot, or null for other snapshotters. */
  async upperDir(snapshotKey: string, snapshotter: string): Promise<string | null> {
    if (snapshotter !== 'overlayfs') return null;
    const out = await this.ctr(['snapshots', '--snapshotter', snapshotter, 'mounts', '/infravisor-unused-target', snapshotKey]);
    const m = /upperdir=([^,\s]+)/.exec(out);
    return m?.[1] && existsSync(m[1]) ? m[1] : null;
  }

  /** Bytes used by each snapshot of a snapshotter (the writable layers of the containers among them), in one call. */
  async snapshotUsage(snapshotter: string): Promise<Map<string, number>> {
    const out = await this.ctr(['snapshots', '--snapshotter', snapshotter, 'usage']);
    const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
    const sizes = new Map<string, number>();
    for (const line of out.split('\n').slice(1)) {
      const m = /^(\S+)\s+([\d.]+)\s*([KMGT]?i?B)\s/.exec(line.trim() + ' ');
      if (m) sizes.set(m[1]!, Math.round(Number(m[2]) * (mult[m[3]!] ?? 1)));
    }
    return sizes;
  }

  private async streamInto(args: string[], layout: OciLayout, expect?: string): Promise<{ digest: string; size: number }> {
    const argv = this.argv(args);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const res = await layout.putStream(child.stdout, expect);
      const code = await exited;
      if (code !== 0) throw new RuntimeError('SOURCE', `ctr ${args.slice(0, 3).join(' ')} failed (exit ${code}): ${err.trim()}`);
      return res;
    } catch (e) {
      child.kill('SIGKILL');
      await exited;
      if (e instanceof RuntimeError && e.code === 'SOURCE' && err) throw new RuntimeError('SOURCE', `${e.message}: ${err.trim()}`);
      throw e;
    }
  }
}
