import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, read, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AGENT_NODE_FLAGS } from '../../util/node-flags.js';
import { SupervisedServices } from '../../ccp/service.js';
import { fetchStatus } from '../../status/server.js';
import { CLI_PATH } from '../../util/paths.js';
import { tailOf } from '../../util/tail.js';
import { isSameProcess, procIdentity, type ProcIdentity } from '../../util/proc.js';
import { CHANNEL_NAME, GUEST, LineReader, parseLine, RequestSchema, type ExecResult, type GuestStatus, type Request, type Response } from './protocol.js';

/**
 * The lab helper inside an emulated VM host (started and kept running by busybox init, see
 * agent/guest/inittab). It starts the agent as systemd would on a Pi, and answers the lab
 * controller over the virtio-serial channel: status, kill, start, exec, log.
 */
const say = (msg: string) => process.stdout.write(`lab-helper: ${msg}\n`);
const MAX_OUTPUT = 256 * 1024;

function findPort(): string | null {
  const dir = '/sys/class/virtio-ports';
  if (!existsSync(dir)) return null;
  for (const p of readdirSync(dir)) {
    try {
      if (readFileSync(join(dir, p, 'name'), 'utf8').trim() === CHANNEL_NAME) return `/dev/${p}`;
    } catch {
      /* not ready */
    }
  }
  return null;
}

function agentProc(): ProcIdentity | null {
  try {
    const p = JSON.parse(readFileSync(GUEST.pidFile, 'utf8')) as ProcIdentity;
    return isSameProcess(p) ? p : null;
  } catch {
    return null;
  }
}

const logTail = (lines: number) => tailOf(GUEST.log, lines, '(no agent log)');

function startAgent(): ProcIdentity {
  const running = agentProc();
  if (running) return running;
  mkdirSync(dirname(GUEST.log), { recursive: true });
  mkdirSync(dirname(GUEST.pidFile), { recursive: true });
  const fd = openSync(GUEST.log, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, CLI_PATH, 'agent', '--config', GUEST.config], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    const id = child.pid ? procIdentity(child.pid) : null;
    if (!id) throw new Error(`the agent exited at once; its log ends with:\n${logTail(10)}`);
    writeFileSync(GUEST.pidFile, JSON.stringify(id));
    say(`agent started as ${id.pid}`);
    return id;
  } finally {
    closeSync(fd);
  }
}

async function status(): Promise<GuestStatus> {
  const p = agentProc();
  const view = p ? await fetchStatus(GUEST.socket, 1500).catch(() => null) : null;
  const ccpRunning = (await new SupervisedServices(join(GUEST.stateDir, 'ccp')).mainPid('k3s')) !== null;
  return { running: p !== null, pid: p?.pid ?? null, ccpRunning, view, uptimeS: Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) };
}

async function start(waitMs: number): Promise<{ pid: number }> {
  const id = startAgent();
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (!isSameProcess(id)) throw new Error(`the agent exited during start-up; its log ends with:\n${logTail(10)}`);
    if (await fetchStatus(GUEST.socket, 1000).then(() => true, () => false)) return { pid: id.pid };
    if (Date.now() > deadline) throw new Error(`the agent did not answer within ${waitMs} ms; its log ends with:\n${logTail(10)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function kill(): Promise<{ pid: number }> {
  const p = agentProc();
  if (!p) throw Object.assign(new Error('the agent is not running'), { code: 'LAB_STATE' });
  process.kill(p.pid, 'SIGKILL');
  for (let i = 0; i < 100 && isSameProcess(p); i++) await new Promise((r) => setTimeout(r, 20));
  return { pid: p.pid };
}

function exec(argv: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    const out = { stdout: '', stderr: '' };
    const take = (k: 'stdout' | 'stderr') => (d: Buffer) => {
      if (out[k].length < MAX_OUTPUT) out[k] += d.toString('utf8').slice(0, MAX_OUTPUT - out[k].length);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    child.on('error', (e) => resolve({ code: 127, stdout: out.stdout, stderr: `${out.stderr}${e.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), ...out }));
  });
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'status':
      return status();
    case 'start':
      return start(req.waitMs);
    case 'kill':
      return kill();
    case 'exec':
      return exec(req.argv, req.timeoutMs);
    case 'log':
      return { text: logTail(req.lines) };
  }
}

async function serve(port: string): Promise<void> {
  const fd = openSync(port, 'r+');
  const reply = (r: Response) => {
    try {
      writeSync(fd, JSON.stringify(r) + '\n');
    } catch (err) {
      say(`could not answer request ${r.id}: ${(err as Error).message}`); // the controller went away
    }
  };
  const reader = new LineReader();
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    // A read returns 0 while no controller is connected; then poll.
    const n = await new Promise<number>((resolve) => read(fd, buf, 0, buf.length, null, (err, bytes) => resolve(err ? 0 : bytes)));
    if (n === 0) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    for (const line of reader.push(buf.subarray(0, n))) {
      const req = parseLine(line, RequestSchema);
      if (!req) {
        say(`ignored a malformed request (${line.length} bytes)`);
        continue;
      }
      handle(req).then(
        (result) => reply({ id: req.id, ok: true, result }),
        (err: Error & { code?: string }) => reply({ id: req.id, ok: false, error: err.message, ...(err.code ? { code: err.code } : {}) }),
      );
    }
  }
}

async function main(): Promise<void> {
  let port = findPort();
  for (let i = 0; !port && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    port = findPort();
  }
  if (!port) throw new Error(`no virtio-serial port named ${CHANNEL_NAME}: the VM needs -device virtserialport,name=${CHANNEL_NAME}`);
  try {
    startAgent();
  } catch (err) {
    say((err as Error).message);
  }
  say(`serving the lab on ${port}`);
  await serve(port);
}

main().catch((err: Error) => {
  say(`failed: ${err.message}`);
  process.exit(1);
});
