import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_PATH } from '../util/paths.js';
import { AGENT_NODE_FLAGS } from '../util/node-flags.js';
import { isSameProcess, procIdentity } from '../util/proc.js';
import { run, tryRun } from '../util/exec.js';
import { q, type ServiceCommands } from './k3s/render.js';
import { supervisorStateFile } from './supervisor.js';

/** k3s-next: the second control plane a runtime migration runs beside the first (agent/systemd/k3s-next.service). */
export type Unit = 'k3s' | 'k3s-agent' | 'k3s-next';

/** How k3s processes are started, stopped and checked. */
export interface ServiceManager {
  readonly kind: 'systemd' | 'supervisor';
  isActive(unit: Unit): Promise<boolean>;
  restart(unit: Unit, argv: string[]): Promise<void>;
  stop(unit: Unit): Promise<void>;
  /** The same operations as shell snippets, for the initialization script. */
  commands(unit: Unit, other: Unit, argv: string[]): ServiceCommands;
  /** The pid of the running k3s process, where the manager knows it. */
  mainPid(unit: Unit): Promise<number | null>;
}

/** systemd on a real host: units `k3s` and `k3s-agent` (agent/systemd/). */
export class SystemdServices implements ServiceManager {
  readonly kind = 'systemd' as const;
  isActive(unit: Unit): Promise<boolean> {
    return tryRun(['systemctl', 'is-active', '--quiet', unit]);
  }
  async restart(unit: Unit): Promise<void> {
    await run(['systemctl', 'enable', '--quiet', unit]);
    await run(['systemctl', 'restart', unit], { timeoutMs: 180_000 });
  }
  async stop(unit: Unit): Promise<void> {
    await tryRun(['systemctl', 'disable', '--now', '--quiet', unit]);
  }
  commands(unit: Unit, other: Unit): ServiceCommands {
    return {
      isActive: `systemctl is-active --quiet ${unit}`,
      restart: `systemctl enable --quiet ${unit} && systemctl restart ${unit}`,
      stopOther: `systemctl disable --now --quiet ${other} 2>/dev/null || true`,
    };
  }
  async mainPid(unit: Unit): Promise<number | null> {
    const out = await run(['systemctl', 'show', '--property=MainPID', '--value', unit]).catch(() => '0');
    const pid = Number(out.trim());
    return pid > 0 ? pid : null;
  }
}

const CLI = CLI_PATH;
const SUPERVISOR_START_MS = 60_000;

/**
 * The lab: each unit runs under `infravisor ccp supervise`, detached in its own session, with
 * its state in STATEDIR/UNIT.supervisor.json.
 */
export class SupervisedServices implements ServiceManager {
  readonly kind = 'supervisor' as const;
  constructor(readonly stateDir: string) {}

  private file(unit: Unit) {
    return supervisorStateFile(join(this.stateDir, `${unit}.supervisor.json`));
  }

  private state(unit: Unit) {
    try {
      const s = this.file(unit).read();
      return s && isSameProcess({ pid: s.pid, startTime: s.startTime }) ? s : null;
    } catch {
      return null;
    }
  }

  async isActive(unit: Unit): Promise<boolean> {
    const s = this.state(unit);
    return s !== null && !s.stopping;
  }

  async restart(unit: Unit, argv: string[]): Promise<void> {
    await this.stop(unit);
    const fd = openSync(join(this.stateDir, `${unit}.log`), 'a', 0o600);
    const sup = spawn(process.execPath, [...AGENT_NODE_FLAGS, CLI, 'ccp', 'supervise', '--unit', unit, '--state-dir', this.stateDir, '--', ...argv], { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    sup.unref();
    const pid = sup.pid!;
    // The supervisor may take up to 60 s to start (Node on a Pi Zero or emulated); once it
    // runs, its process must be there within 5 s. A late supervisor is ours: it is ended, or
    // a retry would leave two supervisors of one unit.
    const log = join(this.stateDir, `${unit}.log`);
    const fail = (why: string): never => {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      throw new Error(`the supervisor of ${unit} ${why}; see ${log}`);
    };
    const startBy = Date.now() + SUPERVISOR_START_MS;
    let childBy = Infinity;
    for (;;) {
      const s = this.state(unit);
      if (s && s.pid === pid && s.child) return;
      if (!procIdentity(pid)) throw new Error(`the supervisor of ${unit} exited at once; see ${log}`);
      if (s && s.pid === pid && childBy === Infinity) childBy = Date.now() + 5000;
      if (Date.now() > childBy) fail(`did not start ${argv[0]} within 5 s`);
      if (childBy === Infinity && Date.now() > startBy) fail(`did not start within ${SUPERVISOR_START_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(unit: Unit): Promise<void> {
    const s = this.state(unit);
    if (!s) return;
    try {
      process.kill(s.pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 600 && isSameProcess({ pid: s.pid, startTime: s.startTime }); i++) await new Promise((r) => setTimeout(r, 25));
    if (isSameProcess({ pid: s.pid, startTime: s.startTime })) process.kill(s.pid, 'SIGKILL');
  }

  commands(unit: Unit, other: Unit, argv: string[]): ServiceCommands {
    const node = `${q(process.execPath)} ${AGENT_NODE_FLAGS.join(' ')} ${q(CLI)}`;
    const pidOf = (u: Unit) => q(join(this.stateDir, `${u}.pid`));
    // The process recorded as $p with start time $t runs (not a zombie): field 22 of
    // /proc/PID/stat is its start time, the state is field 3, both counted after the command
    // name in parentheses.
    const same = `{ [ -r /proc/$p/stat ] && set -- $(sed 's/^.*) //' /proc/$p/stat) && [ "\${1:-}" != Z ] && [ "\${20:-}" = "$t" ]; }`;
    const alive = (u: Unit) => `{ read p t c 2>/dev/null < ${pidOf(u)} && ${same}; }`;
    // As stop() does, in plain sh (no Node start-up on the way to a new server): SIGTERM to the
    // supervisor, which stops its k3s; SIGKILL after 15 s.
    const stop = (u: Unit) =>
      `if ${alive(u)}; then kill -TERM "$p" 2>/dev/null || true; i=0; while ${same}; do i=$((i+1)); if [ $i -ge 600 ]; then kill -KILL "$p" 2>/dev/null || true; break; fi; sleep 0.025; done; fi`;
    return {
      isActive: alive(unit),
      restart: [
        stop(unit),
        `  rm -f ${pidOf(unit)}`,
        `  setsid ${node} ccp supervise --unit ${unit} --state-dir ${q(this.stateDir)} -- ${argv.map(q).join(' ')} </dev/null >>${q(join(this.stateDir, `${unit}.log`))} 2>&1 &`,
        // The supervisor may take up to 60 s to start (Node starts in ~0.3 s on a Pi 4, in
        // seconds on a Pi Zero or emulated; a late one is ended, or a retry would leave two);
        // once it runs, its process must be there within 5 s.
        `  sup=$!; i=0; until read p t c 2>/dev/null < ${pidOf(unit)}; do i=$((i+1)); [ $i -gt 2400 ] && { kill "$sup" 2>/dev/null; echo "the supervisor of ${unit} did not start within 60 s" >&2; exit 1; }; kill -0 "$sup" 2>/dev/null || { echo "the supervisor of ${unit} exited; see ${join(this.stateDir, `${unit}.log`)}" >&2; exit 1; }; sleep 0.025; done`,
        `  i=0; until read p t c 2>/dev/null < ${pidOf(unit)} && [ -n "$c" ]; do i=$((i+1)); [ $i -gt 200 ] && { echo "the supervisor of ${unit} did not start ${argv[0]}" >&2; exit 1; }; sleep 0.025; done`,
      ].join('\n'),
      stopOther: stop(other),
    };
  }

  async mainPid(unit: Unit): Promise<number | null> {
    return this.state(unit)?.child?.pid ?? null;
  }
}
