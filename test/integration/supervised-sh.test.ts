import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SupervisedServices } from '../../agent/src/ccp/service.js';
import { procIdentity } from '../../agent/src/util/proc.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

/**
 * The lab's service manager as the initialization script uses it (ccp/service.ts `commands`):
 * plain sh that checks, stops and starts supervised units, with real supervisors and children.
 */
describe('supervised units from the initialization script (sh)', () => {
  const sh = (script: string) => execFileSync('sh', ['-eu', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  function lab() {
    const dir = tempDir();
    const s = new SupervisedServices(dir);
    // What the supervisor records for sh: "PID STARTTIME CHILDPID" in UNIT.pid.
    const pids = (unit: string) => {
      const [pid, , child] = readFileSync(join(dir, `${unit}.pid`), 'utf8').trim().split(' ').map(Number);
      return { pid: pid!, child: child! };
    };
    onTestFinished(async () => {
      await s.stop('k3s');
      await s.stop('k3s-agent');
    });
    const server = s.commands('k3s', 'k3s-agent', ['/bin/sleep', '300']);
    const agent = s.commands('k3s-agent', 'k3s', ['/bin/sleep', '301']);
    const active = (c: typeof server) => sh(`if ${c.isActive}; then echo yes; else echo no; fi`).trim();
    return { s, server, agent, active, pids };
  }

  it('stopOther ends the other unit (its supervisor and its child) before the server starts, and says nothing when it is not running', async () => {
    const { s, server, agent, active, pids } = lab();
    expect(active(agent)).toBe('no');
    expect(sh(server.stopOther), 'nothing to stop: no output, exit 0').toBe('');
    sh(agent.restart);
    expect(active(agent)).toBe('yes');
    const sup = pids('k3s-agent');
    const child = sup.child;
    expect(procIdentity(child)).not.toBeNull();
    sh(server.stopOther);
    expect(active(agent)).toBe('no');
    await waitFor(() => procIdentity(sup.pid) === null && procIdentity(child) === null, 5000, 'the supervisor and its child are gone');
    expect(await s.isActive('k3s-agent'), 'the Node side agrees').toBe(false);
  });

  it('restart replaces a running unit: a new supervisor and a new child, the old ones gone', async () => {
    const { s, server, active, pids } = lab();
    sh(server.restart);
    const first = pids('k3s');
    sh(server.restart);
    const second = pids('k3s');
    expect(second.pid).not.toBe(first.pid);
    expect(second.child).not.toBe(first.child);
    expect(procIdentity(first.pid)).toBeNull();
    await waitFor(() => procIdentity(first.child) === null, 5000, 'the old child is gone');
    expect(active(server)).toBe('yes');
    expect(await s.mainPid('k3s')).toBe(second.child);
  });
});
