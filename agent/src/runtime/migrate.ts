import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { StateFile } from '../state/atomic-file.js';
import { errorMessage } from '../util/errors.js';
import { RuntimeError } from './errors.js';
import { capture, precopy, resolveManifest, imageBytes, type BaseImage } from './image.js';
import { inventory, type Workload } from './inventory.js';
import { advance, finished, newEntry, recovery, type Entry, type Journal, type Phase } from './journal.js';
import type { OciLayout } from './oci/layout.js';
import type { Platform } from './oci/media.js';
import { planMigration, type Plan } from './plan.js';
import type { CriClient } from './cri/client.js';
import type { Containerd } from './source/containerd.js';
import { stateImageName, type Deployer, type TargetRef } from './target/deployer.js';
import type { ImageStore } from './target/store.js';
import type { ControlPlaneHandover } from './control-plane.js';
import type { CcpConfig } from '../config/ccp.js';
import { pool, type ContainerReport, type MigrateOptions, type MigrationReport } from './report.js';

export type { ContainerReport, MigrateOptions, MigrationReport };

export interface MigrationDeps {
  source: Containerd;
  /** The source's CRI endpoint (containerd's CRI plugin), for CRI pods; null for plain containers only. */
  sourceCri: CriClient | null;
  store: ImageStore;
  deployer: Deployer;
  layout: OciLayout;
  journal: StateFile<Journal>;
  platform: Platform;
  log: Logger;
  now?: () => number;
  /** Step 5, when the control plane moves too (`--control-plane`). */
  controlPlane?: ControlPlaneHandover;
  /** Called once the promoted control plane is ready, with the CCP configuration it runs (to persist it). */
  onPromoted?: (config: CcpConfig) => void;
}

/**
 * The migration: inventory, plan, pre-copy, then per container freeze → capture → store →
 * deploy → verify → stop the source, each step journalled first. A failure before the
 * target is verified rolls that container back (target removed, source resumed); other
 * containers carry on.
 */
export class Migration {
  private j!: Journal;
  private readonly now: () => number;
  private stopping: Promise<void>[] = [];

  constructor(private readonly d: MigrationDeps) {
    this.now = d.now ?? Date.now;
  }

  /** The plan only: nothing is written, nothing paused. */
  async plan(opts: Pick<MigrateOptions, 'to' | 'only' | 'parallel'>): Promise<{ plan: Plan; workloads: Workload[] }> {
    const workloads = await inventory(this.d.source, this.d.sourceCri, opts.only);
    const image = new Map<string, number>();
    const problems = new Map<string, string>();
    for (const ref of new Set(workloads.map((w) => w.image))) {
      // An image that cannot be migrated is reported per container when it is reached; the others still move.
      try {
        image.set(ref, imageBytes((await resolveManifest(this.d.source, ref, this.d.platform)).manifest));
      } catch (err) {
        problems.set(ref, errorMessage(err));
      }
    }
    const diff = new Map<string, number>();
    for (const snapshotter of new Set(workloads.map((w) => w.snapshotter))) {
      const usage = await this.d.source.snapshotUsage(snapshotter).catch(() => new Map<string, number>());
      for (const w of workloads.filter((x) => x.snapshotter === snapshotter)) diff.set(w.id, usage.get(w.snapshotKey) ?? 0);
    }
    return { plan: planMigration(opts.to, workloads, { image, diff, problems }, opts.parallel), workloads };
  }

  private save(): void {
    this.j.updatedAt = this.now();
    this.d.journal.write(this.j);
  }

  private set(i: number, to: Phase, patch: Partial<Omit<Entry, 'phase' | 'history' | 'workload'>> = {}): Entry {
    this.j.entries[i] = advance(this.j.entries[i]!, to, this.now(), patch);
    this.save();
    return this.j.entries[i]!;
  }

  async migrate(opts: MigrateOptions): Promise<MigrationReport> {
    const t0 = this.now();
    const existing = this.d.journal.read();
    if (existing && !finished(existing) && !opts.resume) {
      throw new RuntimeError('JOURNAL', `an unfinished migration (${existing.id}, to ${existing.to}) is recorded in ${this.d.journal.path}: run again with --resume to finish it, or \`infravisor runtime rollback\` to undo it`, { exitCode: 2 });
    }
    if (opts.resume && !existing) throw new RuntimeError('JOURNAL', `--resume: no migration is recorded in ${this.d.journal.path}`, { exitCode: 2 });
    if (opts.resume && existing && existing.to !== opts.to) throw new RuntimeError('JOURNAL', `--resume: the recorded migration goes to ${existing.to}, not ${opts.to}`, { exitCode: 2 });

    await this.d.source.check();
    await this.d.deployer.check();

    const { plan, workloads } = opts.resume && existing ? { plan: this.planFor(existing, opts), workloads: existing.entries.map((e) => e.workload) } : await this.plan(opts);
    if (opts.dryRun) return this.report(plan, opts, t0, 0, workloads.map((w) => newEntry(w, t0)), 'dry');

    const free = this.d.store.freeBytes();
    const need = plan.precopyBytes + plan.items.reduce((s, i) => s + i.diffBytes, 0);
    if (free !== null && free < need) {
      throw new RuntimeError('NO_SPACE', `${this.d.store.description} has ${Math.round(free / 1e6)} MB free but the migration needs about ${Math.round(need / 1e6)} MB (base images ${Math.round(plan.precopyBytes / 1e6)} MB + writable layers); nothing was changed`);
    }

    this.j = opts.resume && existing ? existing : { id: randomUUID(), from: 'containerd', to: opts.to, createdAt: t0, updatedAt: t0, pods: {}, entries: workloads.map((w) => newEntry(w, t0)) };
    this.save();
    this.d.deployer.adopt?.(this.j.pods);

    // A resumed journal: undo what a crash left half-done, finish what was verified.
    for (let i = 0; i < this.j.entries.length; i++) {
      const action = recovery(this.j.entries[i]!.phase);
      if (action === 'rollback') await this.rollback(i, 'resumed after an interruption');
      if (action === 'finish') await this.stopSource(i);
      if (this.j.entries[i]!.phase === 'rolled-back' && opts.resume) this.set(i, 'planned', { error: undefined, target: undefined, freezeMs: undefined });
    }

    // Step 5, first half: the second control plane, for the new runtime, beside the first.
    const cp = this.d.controlPlane;
    if (cp && (!this.j.controlPlane || this.j.controlPlane.phase === 'second-starting' || this.j.controlPlane.phase === 'second-ready')) {
      this.j.controlPlane ??= { phase: 'second-starting', generation: null };
      this.save();
      const { endpoint, generation } = await cp.startSecond();
      this.j.controlPlane = { phase: 'second-ready', generation, endpoint };
      this.save();
    }

    // Step 2: pre-copy every base image while the containers run.
    const tp = this.now();
    const bases = new Map<string, BaseImage>();
    const baseErrors = new Map<string, string>();
    // (A resumed run also takes the entries a crash left pre-copied: pre-copy is idempotent.)
    const waiting = (e: Entry) => e.phase === 'planned' || e.phase === 'precopied';
    for (const ref of new Set(this.j.entries.filter(waiting).map((e) => e.workload.image))) {
      try {
        bases.set(ref, await precopy(this.d.source, this.d.layout, this.d.store, ref, this.d.platform));
        this.d.log.info({ image: ref }, 'base image pre-copied');
      } catch (err) {
        if (err instanceof RuntimeError && err.code === 'NO_SPACE') throw err;
        baseErrors.set(ref, errorMessage(err));
        this.d.log.error({ image: ref, err: errorMessage(err) }, 'base image could not be pre-copied');
      }
    }
    const precopyMs = this.now() - tp;

    const todo: number[] = [];
    this.j.entries.forEach((e, i) => {
      if (!waiting(e)) return;
      const failed = baseErrors.get(e.workload.image);
      if (failed) this.set(i, 'rolled-back', { error: `base image: ${failed}` });
      else {
        if (e.phase === 'planned') this.set(i, 'precopied');
        todo.push(i);
      }
    });

    // Steps 3 and 4, container by container (at most --parallel at once).
    await pool(todo, opts.parallel, (i) => this.moveOne(i, bases.get(this.j.entries[i]!.workload.image)!, opts.verifyTimeoutMs ?? 10_000));
    await Promise.all(this.stopping);
    this.stopping = [];
    await this.stopEmptySourcePods();
    // Step 5, second half: only when every container runs on the new runtime.
    if (cp && this.j.controlPlane && this.j.entries.every((e) => e.phase === 'done')) await this.finishControlPlane(cp);
    return this.report(plan, opts, t0, precopyMs, this.j.entries, 'run');
  }

  /** A resumed run's plan: the recorded containers (their sizes were measured by the first run). */
  private planFor(j: Journal, opts: MigrateOptions): Plan {
    return planMigration(opts.to, j.entries.map((e) => e.workload), { image: new Map(), diff: new Map() }, opts.parallel);
  }

  private async moveOne(i: number, base: BaseImage, verifyTimeoutMs: number): Promise<void> {
    const w = this.j.entries[i]!.workload;
    const log = this.d.log.child({ container: w.name });
    let stage = 'prepare';
    try {
      if (this.d.deployer.prepare) await this.d.deployer.prepare(w, (r) => this.recordTarget(i, r, false));
      stage = 'pause';
      const task = (await this.d.source.tasks()).get(w.id);
      if (!task || (task.status !== 'RUNNING' && task.status !== 'PAUSED')) {
        throw new RuntimeError('CONTAINER_GONE', `container ${w.name} is no longer running (task ${task?.status ?? 'gone'}); nothing was migrated for it`);
      }
      // Where the writable layer lives (overlayfs), found before the freeze.
      const upper = await this.d.source.upperDir(w.snapshotKey, w.snapshotter).catch(() => null);
      const pausedByUs = task.status === 'RUNNING';
      // Sources still being ended would compete for the CPU during this freeze: let them finish first.
      await Promise.all(this.stopping);
      const pausedAt = this.now();
      if (pausedByUs) await this.d.source.pause(w.id);
      this.set(i, 'frozen', { pausedByUs, pausedAt });
      stage = 'capture';
      const { layoutRef, diff } = await capture(this.d.source, this.d.layout, base, w, new Date(this.now()), upper);
      const stateImage = stateImageName(w);
      this.set(i, 'captured', { diff: { digest: diff.digest, size: diff.size }, stateImage });
      stage = 'store';
      await this.d.store.importImage(this.d.layout, layoutRef, stateImage);
      this.set(i, 'stored');
      stage = 'deploy';
      const ref = await this.d.deployer.deploy(w, stateImage, (r) => this.recordTarget(i, r, true));
      stage = 'verify';
      const until = this.now() + verifyTimeoutMs;
      while (!(await this.d.deployer.running(ref))) {
        if (this.now() > until) throw new RuntimeError('TARGET', `the ${this.d.deployer.runtime} container of ${w.name} did not report running within ${verifyTimeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const runningAt = this.now();
      this.set(i, 'verified', { target: ref, runningAt, freezeMs: runningAt - pausedAt });
      log.info({ freezeMs: runningAt - pausedAt, diffBytes: diff.size, diffVia: diff.via }, 'container runs under the target runtime');
    } catch (err) {
      log.error({ stage, err: errorMessage(err) }, 'container migration failed; rolling it back');
      await this.rollback(i, `${stage}: ${errorMessage(err)}`);
      return;
    }
    // Ending the frozen source does not hold up the next container (it is awaited before the run ends).
    this.stopping.push(this.stopSource(i).catch((err) => log.error({ err: errorMessage(err) }, 'the source container could not be ended; --resume ends it')));
  }

  /** Journals what the target made, before the next step (a pod sandbox is shared by its pod's containers). */
  private recordTarget(i: number, ref: TargetRef, deploying: boolean): void {
    const w = this.j.entries[i]!.workload;
    if (ref.kind === 'cri' && ref.createdPod && ref.podSandboxId) this.j.pods[w.cri?.podSandboxId ?? `plain:${w.id}`] = ref.podSandboxId;
    if (deploying) this.set(i, 'deploying', { target: ref });
    else {
      this.j.entries[i] = { ...this.j.entries[i]!, target: ref };
      this.save();
    }
  }

  /** Undo for one container that was not verified on the target: remove what was made, resume the source. */
  private async rollback(i: number, reason: string): Promise<void> {
    const e = this.j.entries[i]!;
    const problems: string[] = [];
    if (e.target) {
      await this.d.deployer.remove(e.target).catch((err) => problems.push(`removing the target container: ${errorMessage(err)}`));
      if (e.target.kind === 'cri' && e.target.createdPod) for (const [k, v] of Object.entries(this.j.pods)) if (v === e.target.podSandboxId) delete this.j.pods[k];
    }
    if (e.stateImage) await this.d.store.remove(e.stateImage).catch((err) => problems.push(`removing the state image: ${errorMessage(err)}`));
    if (e.pausedByUs) {
      const status = (await this.d.source.tasks().catch(() => new Map()))?.get(e.workload.id)?.status;
      if (status === 'PAUSED') await this.d.source.resume(e.workload.id).catch((err) => problems.push(`resuming the source: ${errorMessage(err)}`));
    }
    if (problems.length) {
      this.set(i, 'failed', { error: `${reason}; rollback incomplete: ${problems.join('; ')} (run \`infravisor runtime rollback\` again)` });
      return;
    }
    this.set(i, 'rolled-back', { error: reason, target: undefined });
  }

  /** After verification: the source container is killed while still frozen (it never runs again) and marked exited. */
  private async stopSource(i: number): Promise<void> {
    const w = this.j.entries[i]!.workload;
    await this.d.source.killFrozen(w.id, { deleteTask: w.kind === 'plain' });
    if (w.kind === 'cri' && this.d.sourceCri) await this.d.sourceCri.stopContainer(w.id, 0).catch(() => undefined);
    this.set(i, 'done');
  }

  private async finishControlPlane(cp: ControlPlaneHandover): Promise<void> {
    const state = this.j.controlPlane!;
    if (state.phase === 'second-ready') {
      const archivedTo = await cp.archiveFirst();
      this.j.controlPlane = { ...state, phase: 'first-archived', archivedTo };
      this.save();
    }
    if (this.j.controlPlane!.phase === 'first-archived') {
      const endpoint = await cp.promote(this.j.controlPlane!.archivedTo ?? null, state.generation!);
      this.d.onPromoted?.(cp.config);
      this.j.controlPlane = { ...this.j.controlPlane!, phase: 'promoted', endpoint };
      this.save();
    }
  }

  /** A source pod whose containers all moved keeps only its sandbox (pause) process: stop it (it is not removed). */
  private async stopEmptySourcePods(): Promise<void> {
    const cri = this.d.sourceCri;
    if (!cri) return;
    const moved = new Set(this.j.entries.filter((e) => e.phase === 'done').map((e) => e.workload.id));
    const pods = new Set(this.j.entries.filter((e) => e.phase === 'done' && e.workload.cri).map((e) => e.workload.cri!.podSandboxId));
    for (const pod of pods) {
      // Moved containers count as gone even if the runtime has not recorded their exit yet.
      const running = (await cri.listContainers(pod).catch(() => [])).filter((c) => !moved.has(c.id) && (c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED'));
      if (running.length === 0) await cri.stopPodSandbox(pod).catch((err) => this.d.log.warn({ pod, err: errorMessage(err) }, 'could not stop the emptied source pod sandbox'));
    }
  }

  /** Rolls back every unfinished container of the recorded migration (the `runtime rollback` command). */
  async rollbackAll(): Promise<Journal | null> {
    const existing = this.d.journal.read();
    if (!existing) return null;
    this.j = existing;
    for (let i = 0; i < this.j.entries.length; i++) {
      const action = recovery(this.j.entries[i]!.phase);
      if (action === 'rollback') await this.rollback(i, 'rolled back on request');
      else if (action === 'finish') await this.stopSource(i);
      else if (this.j.entries[i]!.phase === 'planned' || this.j.entries[i]!.phase === 'precopied') this.set(i, 'rolled-back', { error: 'not started; rolled back on request' });
    }
    // The second control plane goes too, as long as the first still runs (archived, not deleted).
    const cpPhase = this.j.controlPlane?.phase;
    if (this.d.controlPlane && (cpPhase === 'second-starting' || cpPhase === 'second-ready') && !this.j.entries.some((e) => e.phase === 'done')) {
      const archivedTo = await this.d.controlPlane.abandonSecond();
      this.j.controlPlane = { ...this.j.controlPlane!, phase: 'abandoned', archivedTo };
      this.save();
    }
    return this.j;
  }

  private report(plan: Plan, opts: MigrateOptions, t0: number, precopyMs: number, entries: Entry[], mode: 'dry' | 'run'): MigrationReport {
    const containers = entries.map((e) => ({
      name: e.workload.name,
      id: e.workload.id,
      image: e.workload.image,
      phase: e.phase,
      freezeMs: e.freezeMs ?? null,
      diffBytes: e.diff?.size ?? null,
      stateImage: e.stateImage ?? null,
      target: e.target ?? null,
      error: e.error ?? null,
    }));
    return {
      id: mode === 'dry' ? 'dry-run' : this.j.id,
      from: 'containerd',
      to: opts.to,
      dryRun: mode === 'dry',
      ok: mode === 'dry' || (containers.every((c) => c.phase === 'done') && (!this.d.controlPlane || this.j.controlPlane?.phase === 'promoted')),
      totalMs: this.now() - t0,
      precopyMs,
      plan,
      containers,
      controlPlane: mode === 'dry' ? null : (this.j.controlPlane ?? null),
    };
  }
}
