import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CommandError, run } from '../../util/exec.js';
import { RuntimeError } from '../errors.js';
import type { OciLayout } from '../oci/layout.js';

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

export type TaskStatus = 'RUNNING' | 'PAUSED' | 'PAUSING' | 'STOPPED' | 'CREATED' | 'UNKNOWN';

/**
 * The source runtime: containerd, through its own client `ctr` (the content store, snapshots
 * and tasks are not part of the CRI). Every call names the socket and the namespace.
 */
export class Containerd {
  constructor(
    readonly socket: string,
    readonly namespace = 'k8s.io',
  ) {}

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

  async check(): Promise<string> {
    if (!existsSync(this.socket)) throw new RuntimeError('CRI_UNREACHABLE', `containerd socket ${this.socket} does not exist: is containerd running? Pass its socket with --containerd-socket.`);
    const out = await this.ctr(['version'], 10_000);
    return /Server:[\s\S]*?Version:\s*(\S+)/.exec(out)?.[1] ?? 'unknown';
  }

  async containerIds(): Promise<string[]> {
    return (await this.ctr(['containers', 'ls', '--quiet'])).split('\n').map((s) => s.trim()).filter(Boolean);
  }

  async info(id: string): Promise<CtrContainerInfo> {
    return JSON.parse(await this.ctr(['containers', 'info', id])) as CtrContainerInfo;
  }

  async tasks(): Promise<Map<string, { pid: number; status: TaskStatus }>> {
    const out = await this.ctr(['tasks', 'ls']);
    const map = new Map<string, { pid: number; status: TaskStatus }>();
    for (const line of out.split('\n').slice(1)) {
      const [id, pid, status] = line.trim().split(/\s+/);
      if (id && pid) map.set(id, { pid: Number(pid), status: (status ?? 'UNKNOWN') as TaskStatus });
    }
    return map;
  }

  async pause(id: string): Promise<void> {
    await this.ctr(['tasks', 'pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.ctr(['tasks', 'resume', id]);
  }

  /** Stops a plain containerd container's task (SIGTERM, then SIGKILL after the grace) and deletes the task. */
  async stopTask(id: string, graceMs = 10_000): Promise<void> {
    const status = (await this.tasks()).get(id)?.status;
    if (!status || status === 'STOPPED') {
      await this.ctr(['tasks', 'delete', id]).catch(() => undefined);
      return;
    }
    if (status === 'PAUSED') await this.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => undefined);
    else await this.ctr(['tasks', 'kill', '--signal', 'SIGTERM', id]).catch(() => undefined);
    const until = Date.now() + graceMs;
    while (Date.now() < until && (await this.tasks()).get(id)?.status === 'RUNNING') await new Promise((r) => setTimeout(r, 100));
    if ((await this.tasks()).get(id)?.status === 'RUNNING') await this.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => undefined);
    await this.ctr(['tasks', 'delete', '--force', id]).catch(() => undefined);
  }

  /**
   * Ends a frozen task without letting it run again: SIGKILL is queued while the cgroup is
   * frozen and taken on thaw before any user code runs. The container itself stays (exited).
   */
  async killFrozen(id: string, opts: { deleteTask?: boolean } = {}): Promise<void> {
    const t = (await this.tasks()).get(id);
    if (!t || t.status === 'STOPPED') {
      await this.ctr(['tasks', 'delete', id]).catch(() => undefined);
      return;
    }
    await this.ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', id]);
    if (t.status === 'PAUSED' || t.status === 'PAUSING') await this.ctr(['tasks', 'resume', id]).catch(() => undefined);
    for (let i = 0; i < 100 && (await this.tasks()).get(id)?.status === 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 50));
    // A CRI container's task is reaped by the CRI plugin, which records the exit; a plain one's by us.
    if (opts.deleteTask !== false) await this.ctr(['tasks', 'delete', '--force', id]).catch(() => undefined);
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

  /** Streams a blob of the content store into an OCI layout, verifying its digest. */
  async copyContent(digest: string, layout: OciLayout): Promise<void> {
    await this.streamInto(['content', 'get', digest], layout, digest);
  }

  /**
   * The diff of a container's writable layer against its image, as an uncompressed OCI layer
   * (deletions as whiteout files), written into the layout. Pause the task around it.
   */
  async diff(snapshotKey: string, snapshotter: string, layout: OciLayout): Promise<{ digest: string; size: number }> {
    return this.streamInto(['snapshots', '--snapshotter', snapshotter, 'diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar', snapshotKey], layout);
  }

  /** Bytes used by a snapshot (the writable layer of a container), from the snapshotter. */
  async snapshotUsage(snapshotKey: string, snapshotter: string): Promise<number> {
    const out = await this.ctr(['snapshots', '--snapshotter', snapshotter, 'usage', snapshotKey]);
    const m = /\s([\d.]+)\s*([KMGT]?i?B)\s/.exec(out.split('\n')[1] ?? '');
    if (!m) return 0;
    const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
    return Math.round(Number(m[1]) * (mult[m[2]!] ?? 1));
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
