import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CcpConfigSchema, CcpHostSchema } from '../../agent/src/config/ccp.js';
import { deriveK3sToken } from '../../agent/src/ccp/config.js';
import { K3sDriver } from '../../agent/src/ccp/k3s/driver.js';
import { SupervisedServices } from '../../agent/src/ccp/service.js';
import { Secret } from '../../agent/src/config/secret.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { ControlPlaneHandover, nextSlot, withRuntime } from '../../agent/src/runtime/control-plane.js';
import { K3S_BIN } from '../support/k3s.js';
import { waitFor } from '../support/wait.js';

/**
 * Step 5 of the runtime migration with the real k3s driver, initialization scripts and
 * supervisor, and the k3s stand-in (or a real k3s given in K3S_BIN): a second server for the
 * new runtime beside the first, the first archived, the second promoted.
 */
const dir = mkdtempSync(join(tmpdir(), 'infravisor-cp-'));
const port = 26000 + Math.floor(Math.random() * 1000);
const address = '127.0.0.91';
const local = CcpHostSchema.parse({ bin: K3S_BIN, configRoot: join(dir, 'etc'), dataDir: join(dir, 'data'), port, service: 'supervisor', archiveDir: join(dir, 'archive') });
const services = new SupervisedServices(join(dir, 'run'));
mkdirSync(join(dir, 'run'), { recursive: true });
const token = deriveK3sToken(new Secret('control-plane-handover-secret'), 'lab');
const ccp = CcpConfigSchema.parse({ revision: 4, manifests: [{ name: 'web', content: 'kind: Namespace\nmetadata:\n  name: web\n' }] });
const host = { name: 'cp1', addresses: [address] };
const CRIO = '/var/run/crio/crio.sock';

afterAll(async () => {
  for (const u of ['k3s', 'k3s-next', 'k3s-agent'] as const) await services.stop(u).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('control plane handover to the new runtime', () => {
  it('derives the second slot and the configuration without touching the first', () => {
    expect(nextSlot(local)).toMatchObject({ configRoot: join(dir, 'etc', 'next'), dataDir: join(dir, 'data-next'), port: port + 1 });
    const moved = withRuntime(ccp, CRIO);
    expect(moved.revision).toBe(5);
    expect(moved.k3s.containerRuntimeEndpoint).toBe(CRIO);
    expect(ccp.k3s.containerRuntimeEndpoint).toBeUndefined();
    expect(withRuntime(moved, CRIO)).toBe(moved);
  });

  it('starts the second beside the first, archives the first, promotes the second into the standard slot', async () => {
    const first = new K3sDriver(local, services);
    await first.startServer({ cluster: 'lab', generation: 3, host, ccp, local, token });
    await waitFor(async () => (await first.health(`https://${address}:${port}`)).ready, 20_000, 'first CCP ready');
    writeFileSync(join(local.dataDir, 'server', 'state-of-first'), 'first\n');

    const h = new ControlPlaneHandover({ driverFor: (l, u) => new K3sDriver(l, services, u), local, cluster: 'lab', host, ccp, token, runtimeEndpoint: CRIO, readyTimeoutMs: 20_000, log: silentLogger() });
    const second = await h.startSecond();
    expect(second).toEqual({ endpoint: `https://${address}:${port + 1}`, generation: 3 });
    expect(readFileSync(join(dir, 'etc', 'next', 'config.yaml'), 'utf8')).toContain(`container-runtime-endpoint: ${CRIO}`);
    expect(readFileSync(join(local.configRoot, 'config.yaml'), 'utf8')).not.toContain('container-runtime-endpoint');
    expect((await first.health(`https://${address}:${port}`)).ready).toBe(true);
    expect(await services.isActive('k3s-next')).toBe(true);
    // Idempotent: a resumed run finds it running and changes nothing.
    const pid = await services.mainPid('k3s-next');
    await h.startSecond();
    expect(await services.mainPid('k3s-next')).toBe(pid);
    writeFileSync(join(dir, 'data-next', 'server', 'state-of-second'), 'second\n');

    const archived = await h.archiveFirst();
    expect(archived).not.toBeNull();
    expect(readFileSync(join(archived!, 'server', 'state-of-first'), 'utf8')).toBe('first\n');
    expect(JSON.parse(readFileSync(join(archived!, 'ARCHIVED.json'), 'utf8')).reason).toContain(CRIO);
    expect((await first.health(`https://${address}:${port}`)).reachable).toBe(false);

    const endpoint = await h.promote(archived, 3);
    expect(endpoint).toBe(`https://${address}:${port}`);
    expect((await first.health(endpoint)).ready).toBe(true);
    expect(await services.isActive('k3s-next')).toBe(false);
    expect(await services.isActive('k3s')).toBe(true);
    expect(readFileSync(join(local.configRoot, 'config.yaml'), 'utf8')).toContain(`container-runtime-endpoint: ${CRIO}`);
    expect(readFileSync(join(local.dataDir, 'server', 'state-of-second'), 'utf8')).toBe('second\n');
    expect(existsSync(join(dir, 'etc', 'next'))).toBe(false);
    expect(existsSync(join(dir, 'data-next'))).toBe(false);
    expect(await first.adopt()).toMatchObject({ cluster: 'lab', generation: 3, active: true });
  }, 90_000);

  it('refuses to start on a host that does not run the CCP of the cluster', async () => {
    const h = new ControlPlaneHandover({ driverFor: (l, u) => new K3sDriver(l, services, u), local, cluster: 'other', host, ccp, token, runtimeEndpoint: CRIO, log: silentLogger() });
    await expect(h.startSecond()).rejects.toThrow(/does not run the CCP of cluster other \(found lab, running\)/);
  });
});
