import type { Workload } from './inventory.js';

/**
 * The plan: what will move and how long each container is expected to stay frozen. Pure.
 * The cost model's constants were measured on the lab machine (docs/runtime-migration.md):
 * pausing and resuming a task, streaming the diff, storing the state image (only its new
 * layer is written; the base is already there), and starting the container on the target.
 */
export interface PlanItem {
  name: string;
  id: string;
  kind: Workload['kind'];
  image: string;
  baseBytes: number;
  diffBytes: number;
  mounts: number;
  expectedFreezeMs: number;
  /** Why this container cannot move (its image is refused), when known before starting. */
  problem?: string;
}

export interface Plan {
  to: 'cri-o' | 'podman';
  items: PlanItem[];
  images: { ref: string; bytes: number }[];
  precopyBytes: number;
  expectedTotalMs: number;
}

export const COST = {
  pauseMs: 40,
  /** ctr snapshots diff + hashing, bytes per ms. */
  diffBytesPerMs: 150_000,
  /** skopeo into containers-storage (fixed part: process start, store lock). */
  storeFixedMs: { 'cri-o': 250, podman: 250 },
  storeBytesPerMs: 60_000,
  /** podman run -d / CRI CreateContainer+StartContainer. */
  startMs: { 'cri-o': 250, podman: 350 },
  /** Base image pre-copy, bytes per ms (content store → layout → containers-storage). */
  precopyBytesPerMs: 50_000,
} as const;

export function estimateFreezeMs(diffBytes: number, to: 'cri-o' | 'podman'): number {
  return Math.round(COST.pauseMs + diffBytes / COST.diffBytesPerMs + COST.storeFixedMs[to] + diffBytes / COST.storeBytesPerMs + COST.startMs[to]);
}

export function planMigration(
  to: 'cri-o' | 'podman',
  workloads: Workload[],
  sizes: { image: Map<string, number>; diff: Map<string, number>; problems?: Map<string, string> },
  parallel = 1,
): Plan {
  const items = workloads.map((w) => {
    const diffBytes = sizes.diff.get(w.id) ?? 0;
    const problem = sizes.problems?.get(w.image);
    return { name: w.name, id: w.id, kind: w.kind, image: w.image, baseBytes: sizes.image.get(w.image) ?? 0, diffBytes, mounts: w.mounts.length, expectedFreezeMs: estimateFreezeMs(diffBytes, to), ...(problem ? { problem } : {}) };
  });
  const images = [...new Set(workloads.map((w) => w.image))].map((ref) => ({ ref, bytes: sizes.image.get(ref) ?? 0 }));
  const precopyBytes = images.reduce((s, i) => s + i.bytes, 0);
  const freezeSum = items.reduce((s, i) => s + i.expectedFreezeMs, 0);
  return { to, items, images, precopyBytes, expectedTotalMs: Math.round(precopyBytes / COST.precopyBytesPerMs + freezeSum / Math.max(1, parallel)) };
}
