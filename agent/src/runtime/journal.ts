import { join } from 'node:path';
import { z } from 'zod';
import { StateFile } from '../state/atomic-file.js';
import { RuntimeError } from './errors.js';
import type { Workload } from './inventory.js';
import type { TargetRef } from './target/deployer.js';

/**
 * The migration journal: one entry per container, advanced one phase at a time and written
 * (atomically, checksummed) before the step that depends on it. The phases, in order:
 *
 *   planned → precopied → frozen → captured → stored → deploying → verified → done
 *                 any phase before verified ──(failure)──→ rolled-back | failed
 *
 * `verified` is the point of no return: the target runs the container, so the source is
 * never resumed after it (it would write where nobody reads). Pure functions decide the
 * transitions and what a restart after a crash does; the file is the shell.
 */
export const PHASES = ['planned', 'precopied', 'frozen', 'captured', 'stored', 'deploying', 'verified', 'done', 'rolled-back', 'failed'] as const;
export type Phase = (typeof PHASES)[number];
export const CP_PHASES = ['second-starting', 'second-ready', 'first-archived', 'promoted', 'abandoned'] as const;
export type ControlPlanePhase = (typeof CP_PHASES)[number];

export interface Entry {
  workload: Workload;
  phase: Phase;
  /** The source was running and we paused it (a container found paused stays paused on rollback). */
  pausedByUs?: boolean;
  stateImage?: string;
  diff?: { digest: string; size: number };
  target?: TargetRef;
  pausedAt?: number;
  runningAt?: number;
  freezeMs?: number;
  error?: string;
  history: { phase: Phase; at: number }[];
}

export interface Journal {
  id: string;
  from: 'containerd';
  to: 'cri-o' | 'podman';
  createdAt: number;
  updatedAt: number;
  /** Target pod sandboxes made so far: source pod id → target pod id. */
  pods: Record<string, string>;
  entries: Entry[];
  /** Step 5: second server starting → ready → first archived → second promoted into the standard slot. */
  controlPlane?: { phase: ControlPlanePhase; generation: number | null; archivedTo?: string | null; endpoint?: string };
}

const NEXT: Record<Phase, Phase[]> = {
  planned: ['precopied', 'rolled-back', 'failed'],
  precopied: ['frozen', 'rolled-back', 'failed'],
  frozen: ['captured', 'rolled-back', 'failed'],
  captured: ['stored', 'rolled-back', 'failed'],
  stored: ['deploying', 'rolled-back', 'failed'],
  deploying: ['deploying', 'verified', 'rolled-back', 'failed'],
  verified: ['done'],
  done: [],
  'rolled-back': ['planned'],
  failed: ['rolled-back', 'failed'],
};

export function canAdvance(from: Phase, to: Phase): boolean {
  return NEXT[from].includes(to);
}

/** The entry moved to `to`, or an error when the journal would skip or reverse a step. */
export function advance(e: Entry, to: Phase, at: number, patch: Partial<Omit<Entry, 'phase' | 'history' | 'workload'>> = {}): Entry {
  if (!canAdvance(e.phase, to)) throw new RuntimeError('JOURNAL', `container ${e.workload.name}: the journal cannot go from ${e.phase} to ${to}`);
  return { ...e, ...patch, phase: to, history: [...e.history, { phase: to, at }] };
}

export type Recovery = 'start' | 'rollback' | 'finish' | 'none';

/**
 * What a run does with an entry it finds in a journal (after a crash, or on --resume):
 * nothing made yet → start; frozen but the target not verified → roll back (then start
 * again when resuming); verified → finish (stop the source); ended → none.
 */
export function recovery(phase: Phase): Recovery {
  switch (phase) {
    case 'planned':
    case 'precopied':
    case 'rolled-back':
      return 'start';
    case 'frozen':
    case 'captured':
    case 'stored':
    case 'deploying':
    case 'failed':
      return 'rollback';
    case 'verified':
      return 'finish';
    case 'done':
      return 'none';
  }
}

export function finished(j: Journal): boolean {
  const cpEnded = !j.controlPlane || j.controlPlane.phase === 'promoted' || j.controlPlane.phase === 'abandoned';
  return cpEnded && j.entries.every((e) => e.phase === 'done' || e.phase === 'rolled-back');
}

export function newEntry(workload: Workload, at: number): Entry {
  return { workload, phase: 'planned', history: [{ phase: 'planned', at }] };
}

const JournalSchema = z.object({
  id: z.string(),
  from: z.literal('containerd'),
  to: z.enum(['cri-o', 'podman']),
  createdAt: z.number(),
  updatedAt: z.number(),
  pods: z.record(z.string(), z.string()),
  entries: z.array(z.object({ workload: z.object({ id: z.string(), name: z.string() }).passthrough(), phase: z.enum(PHASES), history: z.array(z.object({ phase: z.enum(PHASES), at: z.number() })) }).passthrough()),
  controlPlane: z.object({ phase: z.enum(CP_PHASES), generation: z.number().int().nullable() }).passthrough().optional(),
});

export function journalFile(stateDir: string): StateFile<Journal> {
  return new StateFile<Journal>(join(stateDir, 'runtime', 'migration.json'), 'infravisor-runtime-migration', 1, (b) => JournalSchema.parse(b) as unknown as Journal);
}
