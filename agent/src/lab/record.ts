import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { StateFile } from '../state/atomic-file.js';
import { LabError } from '../util/errors.js';
import { ProcSchema, procIdentity } from '../util/proc.js';

/**
 * The lab's own record on disk, written before anything is created and after every change,
 * so that `lab down` can remove everything even after the controlling process crashed.
 */
export const LAB_NAME_RE = /^[a-z][a-z0-9-]{0,11}$/;


const HostSchema = z.object({
  name: z.string(),
  ns: z.string(),
  address: z.string(),
  mac: z.string(),
  port: z.string(),
  cable: z.enum(['in', 'out']),
  loss: z.number().min(0).max(100),
  dir: z.string(),
  config: z.string(),
  socket: z.string(),
  log: z.string(),
  agent: ProcSchema.nullable(),
  /** VM hosts only: the QEMU process and its sockets (the agent runs inside the guest). */
  vm: z
    .object({
      qemu: ProcSchema.nullable(),
      qmp: z.string(),
      channel: z.string(),
      console: z.string(),
      initrd: z.string(),
    })
    .optional(),
});
export type LabHost = z.infer<typeof HostSchema>;

const RecordSchema = z.object({
  name: z.string(),
  /** netns: every host a network namespace of this machine; qemu: every host an emulated VM. */
  backend: z.enum(['netns', 'qemu']),
  arch: z.enum(['native', 'arm64']).default('native'),
  state: z.enum(['creating', 'up']),
  createdAt: z.number(),
  dir: z.string(),
  cluster: z.string(),
  switchNs: z.string(),
  bridge: z.string(),
  prefix: z.number(),
  hosts: z.array(HostSchema),
  partition: z.array(z.array(z.string())).nullable(),
  /** The lab's page (lab/dashboard.ts): its process and port. */
  dashboard: z.object({ proc: ProcSchema, port: z.number().int() }).nullable().default(null),
});
export type LabRecord = z.infer<typeof RecordSchema>;

export function labRoot(): string {
  return process.env.INFRAVISOR_LAB_ROOT ?? '/run/infravisor-lab';
}

export function labDir(name: string): string {
  return join(labRoot(), name);
}

export function checkLabName(name: string): void {
  if (!LAB_NAME_RE.test(name)) throw new LabError(`lab name ${JSON.stringify(name)} is invalid: use 1-12 lower-case letters, digits or '-', starting with a letter`, 'LAB_USAGE', 2);
}

export function recordFile(name: string): StateFile<LabRecord> {
  return new StateFile(join(labDir(name), 'lab.json'), 'infravisor.lab', 1, (b) => RecordSchema.parse(b));
}

export function loadRecord(name: string): LabRecord {
  checkLabName(name);
  const rec = recordFile(name).read();
  if (!rec) throw new LabError(`there is no lab named ${name}; start one with: infravisor lab up --name ${name} --hosts 5`, 'LAB_NOT_FOUND', 1);
  return rec;
}

export function saveRecord(rec: LabRecord): void {
  recordFile(rec.name).write(rec);
}

/** The host named, or a LabError that lists the lab's hosts (nothing is changed). */
export function hostOf(rec: LabRecord, name: string): LabHost {
  const h = rec.hosts.find((x) => x.name === name);
  if (!h) throw new LabError(`unknown host ${name}; this lab has ${rec.hosts.map((x) => x.name).join(', ')}. Nothing was changed.`, 'LAB_UNKNOWN_HOST', 2);
  return h;
}

/** A lock per lab, so that two lab commands do not change one lab at once. */
export function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = labDir(name);
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const deadline = Date.now() + 30_000;
  const acquire = async (): Promise<void> => {
    for (;;) {
      try {
        const fd = openSync(lock, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let holder = 0;
        try {
          holder = Number(readFileSync(lock, 'utf8'));
        } catch {
          continue;
        }
        if (!holder || !procIdentity(holder)) {
          try {
            unlinkSync(lock); // its holder died
          } catch {
            /* raced */
          }
          continue;
        }
        if (Date.now() > deadline) throw new LabError(`lab ${name} is locked by process ${holder}; wait for it, or end it`, 'LAB_LOCKED');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  return acquire().then(async () => {
    try {
      return await fn();
    } finally {
      try {
        unlinkSync(lock);
      } catch {
        /* lab removed */
      }
    }
  });
}
