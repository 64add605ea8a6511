import type { Journal, Phase } from './journal.js';
import type { Plan } from './plan.js';
import type { TargetRef } from './target/deployer.js';

/** What `runtime migrate` is asked to do, and what it reports (docs/runtime-migration.md). */
export interface MigrateOptions {
  to: 'cri-o' | 'podman';
  only: string[];
  parallel: number;
  dryRun: boolean;
  resume: boolean;
  /** How long the target gets to report the container running. */
  verifyTimeoutMs?: number;
}

export interface ContainerReport {
  name: string;
  id: string;
  image: string;
  phase: Phase;
  freezeMs: number | null;
  diffBytes: number | null;
  stateImage: string | null;
  target: TargetRef | null;
  error: string | null;
}

export interface MigrationReport {
  id: string;
  from: 'containerd';
  to: 'cri-o' | 'podman';
  dryRun: boolean;
  ok: boolean;
  totalMs: number;
  precopyMs: number;
  plan: Plan;
  controlPlane: Journal['controlPlane'] | null;
  containers: ContainerReport[];
}

/** Runs `fn` on the items with at most `limit` at a time. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
