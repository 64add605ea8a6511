import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CommandError, run } from '../../util/exec.js';
import { RuntimeError } from '../errors.js';
import type { Workload } from '../inventory.js';
import { targetName, type Deployer, type TargetRef } from './deployer.js';
import type { ContainersStorage } from './store.js';

/**
 * podman on the same containers-storage + conmon + runc stack CRI-O uses: one container per
 * source container, from its state image, with the same bind mounts, labels and network mode.
 */
export class PodmanDeployer implements Deployer {
  readonly runtime = 'podman' as const;

  constructor(
    private readonly store: ContainersStorage,
    private readonly opts: { containersConf?: string; cgroupManager?: 'cgroupfs' | 'systemd' } = {},
  ) {}

  private async podman(args: string[], timeoutMs = 120_000): Promise<string> {
    const argv = ['podman', '--root', this.store.root, '--runroot', this.store.runroot, '--storage-driver', this.store.driver, ...(this.opts.cgroupManager ? ['--cgroup-manager', this.opts.cgroupManager] : []), ...args];
    const env = this.opts.containersConf ? ['env', `CONTAINERS_CONF=${this.opts.containersConf}`] : [];
    try {
      return await run([...env, ...argv], { timeoutMs });
    } catch (err) {
      const text = err instanceof CommandError ? err.stderr.trim().split('\n').slice(-2).join(' | ') : String(err);
      throw new RuntimeError('TARGET', `podman ${args[0]} failed: ${text}`, { cause: err });
    }
  }

  async check(): Promise<string> {
    return (await this.podman(['version', '--format', '{{.Client.Version}}'], 30_000)).trim();
  }

  async deploy(w: Workload, image: string, record: (ref: TargetRef) => void): Promise<TargetRef> {
    const name = targetName(w);
    const ref: TargetRef = { kind: 'podman', name };
    record(ref);
    // The container's pid, for a cheap liveness check (no podman process in the freeze window).
    const pidfile = join(this.store.runroot, 'infravisor-migrate', `${name}.pid`);
    mkdirSync(dirname(pidfile), { recursive: true });
    rmSync(pidfile, { force: true });
    const args = ['run', '--detach', '--name', name, '--pidfile', pidfile, '--label', `io.infravisor.migrated-from=${w.id}`];
    for (const [k, v] of Object.entries(w.labels)) args.push('--label', `${k}=${v}`);
    for (const m of w.mounts) args.push('--volume', `${m.source}:${m.destination}${m.readonly ? ':ro' : ''}`);
    if (w.hostNetwork) args.push('--network', 'host');
    args.push(image);
    const id = (await this.podman(args)).trim().split('\n').pop()!;
    const done: TargetRef = { ...ref, id, pidfile };
    record(done);
    return done;
  }

  async running(ref: TargetRef): Promise<boolean> {
    if (ref.kind !== 'podman') return false;
    if (ref.pidfile) {
      try {
        const pid = Number(readFileSync(ref.pidfile, 'utf8').trim());
        if (pid > 0) {
          process.kill(pid, 0);
          return true;
        }
      } catch {
        /* not written yet, or gone: ask podman */
      }
    }
    const out = await this.podman(['inspect', '--format', '{{.State.Status}}', ref.id ?? ref.name]).catch(() => '');
    return out.trim() === 'running';
  }

  async remove(ref: TargetRef): Promise<void> {
    if (ref.kind !== 'podman') return;
    await this.podman(['rm', '--force', '--time', '0', ref.name]).catch((err: RuntimeError) => {
      if (!/no such container|no container with name/i.test(err.message)) throw err;
    });
    if (ref.pidfile) rmSync(ref.pidfile, { force: true });
  }
}
