import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_PATH } from '../../agent/src/util/paths.js';

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, 'runtime', ...args], { encoding: 'utf8', timeout: 30_000 });

describe('infravisor runtime: bad input at the command line', () => {
  it('an unknown runtime exits 2 and lists the ones there are', () => {
    const r = cli('migrate', '--to', 'docker');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--to: unknown target runtime "docker": choose one of cri-o, podman');
    const f = cli('plan', '--from', 'dockerd');
    expect(f.status).toBe(2);
    expect(f.stderr).toContain('this version migrates from containerd');
  });

  it('a missing containerd socket names the option to fix', () => {
    const r = cli('plan', '--containerd-socket', '/nonexistent/containerd.sock', '--state-dir', '/tmp/infravisor-cli-test-none');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\/nonexistent\/containerd\.sock does not exist: is the runtime running\? Pass its socket with --containerd-socket/);
  });

  it('--only takes several names (the command gets as far as the socket)', () => {
    const r = cli('plan', '--only', 'web', 'db', '--containerd-socket', '/nonexistent/containerd.sock');
    expect(r.stderr).not.toMatch(/too many arguments|unknown/);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/nonexistent/containerd.sock does not exist');
  });

  it('migrate requires --to', () => {
    const r = cli('migrate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/required option '--to <runtime>'/);
  });
});
