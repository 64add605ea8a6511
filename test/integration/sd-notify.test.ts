import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, expect, it } from 'vitest';
import type { Agent } from '../../agent/src/daemon/agent.js';
import { LoopbackAgents } from '../support/agents.js';
import { SdNotify } from '../../agent/src/notify/sd-notify.js';
import { describeIf } from '../support/native.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

/** A real AF_UNIX datagram socket, bound by python3 (Node cannot), printing what it receives. */
function listener(address: string): { lines: string[]; proc: ChildProcess; ready: Promise<void> } {
  const py = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\na=sys.argv[1]\ns.bind(('\\0'+a[1:]) if a.startswith('@') else a)\nprint('READY',flush=True)\nwhile True:\n  d=s.recv(4096)\n  for l in d.decode().split('\\n'): print(l,flush=True)\n`;
  const proc = spawn('python3', ['-c', py, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let resolveReady: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  createInterface({ input: proc.stdout! }).on('line', (l) => (l === 'READY' ? resolveReady() : lines.push(l)));
  return { lines, proc, ready };
}

const procs: ChildProcess[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  for (const p of procs.splice(0)) p.kill();
});

const python = (await import('node:child_process')).spawnSync('python3', ['--version']).status === 0 ? null : 'needs python3';

describeIf(python, 'sd_notify through ffi-rs to a real datagram socket', () => {
  it.each([['a socket path', (dir: string) => join(dir, 'notify.sock')], ['an abstract socket', () => `@infravisor-test-${process.pid}`]])('delivers to %s', async (_w, addr) => {
    const dir = tempDir();
    const l = listener(addr(dir));
    procs.push(l.proc);
    await l.ready;
    const n = SdNotify.fromEnv({ NOTIFY_SOCKET: addr(dir) })!;
    n.send('READY=1\nSTATUS=testing');
    n.close();
    await waitFor(() => l.lines.includes('READY=1') && l.lines.includes('STATUS=testing'), 5000, 'notification received');
  });

  it('the agent says READY=1 once up, STATUS= with its role, WATCHDOG=1 when asked, STOPPING=1 at the end', async () => {
    const dir = tempDir();
    const sock = join(dir, 'notify.sock');
    const l = listener(sock);
    procs.push(l.proc);
    await l.ready;
    const c = await new LoopbackAgents(dir, 'sd', 60).init(1);
    const agent = c.make(1, { deps: { env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' } } });
    agents.push(agent);
    await agent.start();
    await waitFor(() => l.lines.includes('READY=1'), 5000, 'READY=1');
    await waitFor(() => l.lines.some((x) => /^STATUS=member of sd, rendezvous n1, 1 seen$/.test(x)), 5000, 'STATUS');
    await waitFor(() => l.lines.filter((x) => x === 'WATCHDOG=1').length >= 2, 5000, 'WATCHDOG=1 twice');
    await agent.stop();
    agents.length = 0;
    await waitFor(() => l.lines.includes('STOPPING=1'), 5000, 'STOPPING=1');
  });

  it('watchdog pings only for this process, at half the interval', () => {
    expect(SdNotify.watchdogIntervalMs({ WATCHDOG_USEC: '10000000' }, 5)).toBe(5000);
    expect(SdNotify.watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '6' }, 5)).toBeNull();
    expect(SdNotify.watchdogIntervalMs({}, 5)).toBeNull();
  });
});
