import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { StateFile, writeFileAtomic } from '../state/atomic-file.js';
import { nextBackoff } from './backoff.js';

/**
 * `infravisor ccp supervise`: the lab's stand-in for systemd. It runs one command (the k3s
 * server or agent), restarts it with backoff when it exits, and keeps its state in a file so
 * that an agent — restarted or not — can find and adopt it. It runs in its own session, so it
 * outlives the agent that started it, as a systemd unit would on a Pi.
 */
export const SupervisorStateSchema = z.object({
  unit: z.string(),
  pid: z.number().int(),
  startTime: z.string(),
  argv: z.array(z.string()),
  child: z.object({ pid: z.number().int(), startedAt: z.number() }).nullable(),
  restarts: z.number().int(),
  lastExit: z.object({ code: z.number().nullable(), signal: z.string().nullable(), at: z.number() }).nullable(),
  stopping: z.boolean(),
});
export type SupervisorState = z.infer<typeof SupervisorStateSchema>;

export function supervisorStateFile(path: string): StateFile<SupervisorState> {
  return new StateFile(path, 'infravisor.supervisor', 1, (b) => SupervisorStateSchema.parse(b));
}

export async function supervise(opts: { unit: string; statePath: string; logPath: string; argv: string[]; startTime: string }): Promise<void> {
  const file = supervisorStateFile(opts.statePath);
  const state: SupervisorState = { unit: opts.unit, pid: process.pid, startTime: opts.startTime, argv: opts.argv, child: null, restarts: 0, lastExit: null, stopping: false };
  let child: ChildProcess | null = null;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  // Besides the JSON state, "PID STARTTIME [CHILDPID]" in UNIT.pid, which the initialization
  // script reads with plain sh (no Node start-up for a status query).
  const pidFile = opts.statePath.replace(/\.supervisor\.json$/, '.pid');
  const save = () => {
    file.write(state);
    if (!state.stopping) writeFileAtomic(pidFile, `${process.pid} ${opts.startTime}${state.child ? ` ${state.child.pid}` : ''}\n`, 0o600);
  };
  save();

  const start = () => {
    const fd = openSync(opts.logPath, 'a', 0o600);
    const startedAt = Date.now();
    const c = spawn(opts.argv[0]!, opts.argv.slice(1), { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child = c;
    state.child = c.pid ? { pid: c.pid, startedAt } : null;
    save();
    c.on('exit', (code, signal) => {
      child = null;
      state.child = null;
      state.lastExit = { code, signal, at: Date.now() };
      if (state.stopping) return save();
      const b = nextBackoff(failures, Date.now() - startedAt);
      failures = b.failures;
      state.restarts++;
      save();
      timer = setTimeout(start, b.delayMs);
    });
    c.on('error', () => {
      /* reported through exit */
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    state.stopping = true;
    save();
    rmSync(pidFile, { force: true });
    if (timer) clearTimeout(timer);
    const c = child;
    if (!c) process.exit(0);
    const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(kill);
      process.exit(0);
    });
    c.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    /* detached: ignore the loss of a terminal */
  });
  start();
}
