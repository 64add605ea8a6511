import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig, validateConfig } from '../../agent/src/config/load.js';
import { ConfigError } from '../../agent/src/util/errors.js';
import { tempDir } from '../support/tmp.js';

const TLS = { ca: '/etc/infravisor/tls/ca.crt', cert: '/etc/infravisor/tls/pi1.crt', key: '/etc/infravisor/tls/pi1.key' };
const minimal = { cluster: 'home', host: { name: 'pi1', address: '10.0.0.11' }, secret: 'a-long-cluster-secret', tls: TLS };

function issuesOf(doc: unknown): { path: string; message: string }[] {
  try {
    validateConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected the config to be refused');
}

describe('configuration', () => {
  it('a minimal config gets safe defaults', () => {
    const c = validateConfig(minimal);
    expect(c.host.port).toBe(1883);
    expect(c.timings.keepaliveSec).toBe(5);
    expect(c.timings.heartbeatMs).toBe(100);
    expect(c.timings.deadAfterMs).toBe(1000);
    expect(c.timings.probeIntervalMs).toBe(1000);
    expect(c.stateDir).toBe('/var/lib/infravisor');
  });

  it('lists every problem at once, each with its path', () => {
    const issues = issuesOf({ cluster: 'Home!', host: { name: 'pi1', address: 'pi1.local', prot: 1 }, seeds: ['10.0.0.1:99999'], timings: { keepaliveSec: 0 } });
    const paths = issues.map((i) => i.path).sort();
    expect(paths).toEqual(['cluster', 'host.address', 'host.prot', 'seeds.0', 'timings.keepaliveSec', 'tls'].sort());
    expect(issues.find((i) => i.path === 'host.prot')!.message).toMatch(/unknown key/);
  });

  it('refuses timings that contradict each other', () => {
    expect(issuesOf({ ...minimal, timings: { probeTimeoutMs: 2000, probeIntervalMs: 1000 } }).map((i) => i.path)).toEqual(['timings.probeTimeoutMs']);
    expect(issuesOf({ ...minimal, timings: { heartbeatMs: 300, deadAfterMs: 1000 } }).map((i) => i.path)).toEqual(['timings.deadAfterMs']);
  });

  it('reads the secret from a file only when no one else can', () => {
    const dir = tempDir();
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'a-long-cluster-secret\n', { mode: 0o644 });
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `cluster: home\nhost: {name: pi1, address: 10.0.0.11}\nsecretFile: ${secret}\ntls: {ca: /c, cert: /c, key: /k}\n`);
    expect(() => loadConfig(file)).toThrow(/chmod 600/);
    writeFileSync(secret, 'a-long-cluster-secret\n', { mode: 0o600 });
    chmodSync(secret, 0o600);
    const cfg = loadConfig(file);
    expect(cfg.secret.reveal()).toBe('a-long-cluster-secret');
    expect(JSON.stringify(cfg)).not.toContain('a-long-cluster-secret');
    expect(cfg.statusSocket).toBe('/var/lib/infravisor/agent.sock');
  });

  it('reports YAML syntax errors with their line', () => {
    const dir = tempDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'cluster: home\nhost: {name: pi1\n');
    expect(() => loadConfig(file)).toThrow(/line/);
  });

  it('the agent exits with status 2 and names every problem, starting nothing', () => {
    const dir = tempDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'cluster: home\nhost: {name: PI, address: 10.0.0.1}\nsecret: short\nbogus: 1\n');
    const r = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'agent', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/host\.name/);
    expect(r.stderr).toMatch(/secret: the cluster secret must be at least 16/);
    expect(r.stderr).toMatch(/bogus: unknown key/);
  });
});

describe('configuration: bad input reported clearly', () => {
  it('a value of the wrong type says what it must be, not that it is missing', () => {
    const issues = issuesOf({ ...minimal, host: { name: 'pi1', address: '10.0.0.11', port: 'x' } });
    expect(issues).toEqual([{ path: 'host.port', message: expect.stringMatching(/^must be number/) }]);
    expect(issuesOf({ ...minimal, host: undefined }).find((i) => i.path === 'host')!.message).toMatch(/^is required/);
  });

  it('a YAML alias bomb is a configuration error (exit 2), not a crash', () => {
    const dir = tempDir();
    const file = join(dir, 'bomb.yaml');
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    writeFileSync(file, levels.join('\n') + '\n');
    const r = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'config', file], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/alias/i);
  });

  it('warns about an inline secret in a file others can read', () => {
    const dir = tempDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `cluster: home\nhost: {name: pi1, address: 10.0.0.11}\nsecret: a-long-cluster-secret\ntls: {ca: /c, cert: /c, key: /k}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(loadConfig(file).warnings.join()).toMatch(/holds the cluster secret inline and is readable by group or others/);
    chmodSync(file, 0o600);
    expect(loadConfig(file).warnings).toEqual([]);
  });
});
