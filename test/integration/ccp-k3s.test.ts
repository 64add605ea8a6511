import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CcpConfigSchema, CcpHostSchema, type CcpHost } from '../../agent/src/config/ccp.js';
import { deriveK3sToken } from '../../agent/src/ccp/config.js';
import { CcpStartError } from '../../agent/src/ccp/errors.js';
import { K3sDriver } from '../../agent/src/ccp/k3s/driver.js';
import { SupervisedServices } from '../../agent/src/ccp/service.js';
import { Secret } from '../../agent/src/config/secret.js';
import { K3S_BIN } from '../support/k3s.js';
import { waitFor } from '../support/wait.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

/**
 * The k3s CCP driver end to end on loopback addresses: the real driver, initialization script
 * and supervisor, with the k3s stand-in (or a real k3s given in K3S_BIN).
 */
const dir = mkdtempSync(join(tmpdir(), 'infravisor-ccp-'));
const token = deriveK3sToken(new Secret('ccp-integration-secret'), 'lab');
const port = 24000 + Math.floor(Math.random() * 1000);
const ccp = CcpConfigSchema.parse({ manifests: [{ name: 'web', content: 'kind: Namespace\nmetadata:\n  name: web\n' }] });

function hostEnv(name: string, address: string, bin = K3S_BIN) {
  const root = join(dir, name);
  const local: CcpHost = CcpHostSchema.parse({ bin, configRoot: join(root, 'etc'), dataDir: join(root, 'data'), port, service: 'supervisor', archiveDir: join(root, 'archive') });
  const services = new SupervisedServices(join(root, 'run'));
  mkdirSync(join(root, 'run'), { recursive: true });
  return { name, address, local, services, driver: new K3sDriver(local, services), endpoint: `https://${address}:${port}`, host: { name, addresses: [address] } };
}

const s1 = hostEnv('s1', '127.0.0.71');
const s2 = hostEnv('s2', '127.0.0.72');
const a1 = hostEnv('a1', '127.0.0.73');
const a2 = hostEnv('a2', '127.0.0.74');
const all = [s1, s2, a1, a2];
// Two servers share this network namespace here, as no two Pis would: each binds its own address.
const serverSpec = (h: typeof s1, generation: number) => ({ cluster: 'lab', generation, host: h.host, ccp: { ...ccp, k3s: { ...ccp.k3s, server: { 'bind-address': h.address } } }, local: h.local, token });
const agentSpec = (h: typeof s1, server: typeof s1) => ({ cluster: 'lab', host: h.host, serverUrl: server.endpoint, ccp, local: h.local, token });

afterAll(async () => {
  for (const h of all) {
    await h.services.stop('k3s').catch(() => undefined);
    await h.services.stop('k3s-agent').catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the k3s CCP driver with supervised processes', () => {
  beforeAll(() => {
    expect(existsSync(K3S_BIN)).toBe(true);
  });

  it('starts a server from its initialization script; it becomes ready over HTTPS with the cluster CA', async () => {
    const r = await s1.driver.startServer(serverSpec(s1, 1));
    expect(r.output).toMatch(/k3s server \(re\)started/);
    expect(r.output).not.toContain(token);
    await waitFor(async () => (await s1.driver.health(s1.endpoint)).ready, 15_000, 's1 ready');
    const p = join(s1.local.configRoot, 'infravisor-token');
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(statSync(join(s1.local.configRoot, 'infravisor-ccp-init.sh')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(s1.local.dataDir, 'server', 'manifests'))).toEqual(['infravisor-web.yaml']);
  });

  it('running the initialization script again changes nothing and restarts nothing', async () => {
    const pid = await s1.services.mainPid('k3s');
    const r = await s1.driver.startServer(serverSpec(s1, 1));
    expect(r.output).toMatch(/already running with this configuration/);
    expect(await s1.services.mainPid('k3s')).toBe(pid);
  });

  it('a crashed CCP is restarted in place by its supervisor', async () => {
    const pid = (await s1.services.mainPid('k3s'))!;
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => {
      const now = await s1.services.mainPid('k3s');
      return now !== null && now !== pid && (await s1.driver.health(s1.endpoint)).ready;
    }, 15_000, 'restarted and ready');
  });

  it('a fresh driver (an agent restarted) adopts the running CCP', async () => {
    const again = new K3sDriver(s1.local, new SupervisedServices(join(dir, 's1', 'run')));
    expect(await again.adopt()).toMatchObject({ cluster: 'lab', generation: 1, host: 's1', active: true });
    expect(await a1.driver.adopt()).toBeNull();
  });

  it('members follow the CCP: their k3s agents register; following again is a no-op', async () => {
    expect(await a1.driver.follow(agentSpec(a1, s1))).toBe(true);
    expect(await a2.driver.follow(agentSpec(a2, s1))).toBe(true);
    await waitFor(async () => (await s1.driver.nodes(s1.endpoint)).filter((n) => n.ready).map((n) => n.name).sort().join() === 'a1,a2,s1', 15_000, 'a1, a2 registered with s1');
    const pid = await a1.services.mainPid('k3s-agent');
    expect(await a1.driver.follow(agentSpec(a1, s1))).toBe(false);
    expect(await a1.services.mainPid('k3s-agent')).toBe(pid);
    expect(await a1.driver.following()).toBe(s1.endpoint);
  });

  it('re-pointed to a second CCP, they register there even though the first still runs (the cached server list is cleared)', async () => {
    await s2.driver.startServer(serverSpec(s2, 2));
    await waitFor(async () => (await s2.driver.health(s2.endpoint)).ready, 15_000, 's2 ready');
    expect(await a1.driver.follow(agentSpec(a1, s2))).toBe(true);
    expect(await a2.driver.follow(agentSpec(a2, s2))).toBe(true);
    await waitFor(async () => (await s2.driver.nodes(s2.endpoint)).filter((n) => n.ready).map((n) => n.name).sort().join() === 'a1,a2,s2', 15_000, 'a1, a2 registered with s2');
    const cache = JSON.parse(readFileSync(join(a1.local.dataDir, 'agent', 'etc', 'k3s-agent-load-balancer.json'), 'utf8'));
    expect(cache.ServerAddresses).toEqual([`127.0.0.72:${port}`]);
  });

  it('on a merge the losing CCP is stopped and its data archived, never deleted', async () => {
    const before = readdirSync(join(s1.local.dataDir, 'server')).sort();
    const dest = await s1.driver.archiveServer('merged into s2');
    expect(await s1.services.isActive('k3s')).toBe(false);
    expect(existsSync(join(s1.local.dataDir, 'server'))).toBe(false);
    expect(readdirSync(join(dest!, 'server')).sort()).toEqual(before);
    expect(JSON.parse(readFileSync(join(dest!, 'ARCHIVED.json'), 'utf8'))).toMatchObject({ reason: 'merged into s2', marker: { generation: 1, host: 's1' } });
    expect(await s1.driver.adopt()).toBeNull();
    expect((await s1.driver.health(s1.endpoint)).reachable).toBe(false);
  });

  it('a failing initialization script is reported as a failed start', async () => {
    const bad = hostEnv('bad', '127.0.0.75', join(dir, 'no-such-k3s'));
    all.push(bad);
    await expect(bad.driver.startServer(serverSpec(bad, 1))).rejects.toThrow(CcpStartError);
  });
});
