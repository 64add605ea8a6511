import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A process as recorded: its pid and its start time (field 22 of /proc/PID/stat), so that a
 * reused pid is never mistaken for it. */
export const ProcSchema = z.object({ pid: z.number().int(), startTime: z.string() });
export type ProcIdentity = z.infer<typeof ProcSchema>;

/** Identity of a process, so that we only ever signal the very process we started. */
export function procIdentity(pid: number): ProcIdentity | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (state === 'Z' || state === 'X') return null;
    return { pid, startTime: fields[19] ?? '' };
  } catch {
    return null;
  }
}

export function isSameProcess(p: ProcIdentity | null): boolean {
  if (!p) return false;
  const now = procIdentity(p.pid);
  return now !== null && now.startTime === p.startTime;
}
