import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CcpConfig, CcpHost } from '../config/ccp.js';
import type { CcpDriver } from '../ccp/driver.js';
import type { HostIdentity, ServerSpec } from '../ccp/k3s/render.js';
import type { Unit } from '../ccp/service.js';
import type { Logger } from '../log/logger.js';
import { RuntimeError } from './errors.js';

/**
 * Step 5 of the runtime migration: the control plane moves to the new runtime with the
 * workloads. A second k3s server (service k3s-next, the next port, its own config root and
 * data directory) starts from the cluster's CCP configuration with container-runtime-endpoint
 * set to the new runtime; once every container runs there, the first server is stopped and
 * archived (never deleted), and the second is promoted into the standard slot (k3s.service,
 * the standard port and paths) so that the agent adopts it as this host's CCP.
 */
export interface HandoverContext {
  driverFor(local: CcpHost, units: { server: Unit; agent: Unit }): CcpDriver;
  local: CcpHost;
  cluster: string;
  host: HostIdentity;
  ccp: CcpConfig;
  token: string;
  runtimeEndpoint: string;
  nextPort?: number;
  readyTimeoutMs?: number;
  log: Logger;
}

/** The second server's slot: beside the first, never on top of it. */
export function nextSlot(local: CcpHost, port = local.port + 1): CcpHost {
  return { ...local, configRoot: join(local.configRoot, 'next'), dataDir: `${local.dataDir}-next`, port };
}

/** The CCP configuration for the new runtime: one revision up, so the cluster replicates it. */
export function withRuntime(ccp: CcpConfig, endpoint: string): CcpConfig {
  if (ccp.k3s.containerRuntimeEndpoint === endpoint) return ccp;
  return { ...ccp, revision: ccp.revision + 1, k3s: { ...ccp.k3s, containerRuntimeEndpoint: endpoint } };
}

const STANDARD = { server: 'k3s', agent: 'k3s-agent' } as const;
const NEXT = { server: 'k3s-next', agent: 'k3s-agent' } as const;

export class ControlPlaneHandover {
  private readonly first: CcpDriver;
  private readonly second: CcpDriver;
  private readonly next: CcpHost;
  readonly config: CcpConfig;

  constructor(private readonly c: HandoverContext) {
    this.next = nextSlot(c.local, c.nextPort);
    this.first = c.driverFor(c.local, STANDARD);
    this.second = c.driverFor(this.next, NEXT);
    this.config = withRuntime(c.ccp, c.runtimeEndpoint);
  }

  private endpoint(port: number): string {
    return `https://${this.c.host.addresses[0] ?? '127.0.0.1'}:${port}`;
  }

  private spec(local: CcpHost, generation: number): ServerSpec {
    return { cluster: this.c.cluster, generation, host: this.c.host, ccp: this.config, local, token: this.c.token };
  }

  private async waitReady(driver: CcpDriver, endpoint: string, what: string): Promise<void> {
    const until = Date.now() + (this.c.readyTimeoutMs ?? 120_000);
    let last = '';
    while (Date.now() < until) {
      const h = await driver.health(endpoint);
      if (h.ready) return;
      last = h.detail ?? '';
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new RuntimeError('CONTROL_PLANE', `${what} at ${endpoint} did not become ready within ${Math.round((this.c.readyTimeoutMs ?? 120_000) / 1000)} s${last ? ` (${last})` : ''}; its log is with its service`);
  }

  /** The generation of the CCP this host runs now: the second server keeps it (same cluster, same CCP, new runtime). */
  private async running(): Promise<number> {
    const r = await this.first.adopt();
    if (!r || !r.active || r.cluster !== this.c.cluster) {
      throw new RuntimeError('CONTROL_PLANE', `--control-plane: this host does not run the CCP of cluster ${this.c.cluster} (${r ? `found ${r.cluster}, ${r.active ? 'running' : 'stopped'}` : 'no CCP marker'}); run the migration on the CCP host, or without --control-plane`);
    }
    return r.generation;
  }

  /** Starts the second server for the new runtime and waits until it is ready. Idempotent. */
  async startSecond(): Promise<{ endpoint: string; generation: number }> {
    const generation = await this.running();
    await this.second.startServer(this.spec(this.next, generation));
    const endpoint = this.endpoint(this.next.port);
    await this.waitReady(this.second, endpoint, 'the second control plane');
    this.c.log.info({ endpoint, generation }, 'second control plane ready for the new runtime');
    return { endpoint, generation };
  }

  /** Stops the first server and archives its data. */
  async archiveFirst(): Promise<string | null> {
    const to = await this.first.archiveServer(`container runtime migration to ${this.c.runtimeEndpoint}`);
    this.c.log.info({ archivedTo: to }, 'first control plane stopped and archived');
    return to;
  }

  /**
   * Moves the second server into the standard slot: its data directory's entries replace the
   * first's (whatever is still there moves into the archive), then k3s.service starts it on the
   * standard port. The second slot's generated files go; no data is deleted.
   */
  async promote(archivedTo: string | null, generation: number): Promise<string> {
    await this.second.stopServer();
    if (existsSync(this.next.dataDir)) {
      mkdirSync(this.c.local.dataDir, { recursive: true });
      const aside = archivedTo ?? join(this.c.local.archiveDir, `pre-promotion-${Date.now()}`);
      for (const name of readdirSync(this.next.dataDir)) {
        const dest = join(this.c.local.dataDir, name);
        if (existsSync(dest)) {
          mkdirSync(aside, { recursive: true });
          renameSync(dest, join(aside, `${name}.before-runtime-migration`));
        }
        renameSync(join(this.next.dataDir, name), dest);
      }
      rmSync(this.next.dataDir, { recursive: true, force: true }); // empty by now
    }
    await this.first.startServer(this.spec(this.c.local, generation));
    const endpoint = this.endpoint(this.c.local.port);
    await this.waitReady(this.first, endpoint, 'the promoted control plane');
    rmSync(this.next.configRoot, { recursive: true, force: true });
    this.c.log.info({ endpoint }, 'control plane promoted: the new runtime is the CCP host runtime');
    return endpoint;
  }

  /** Undo of startSecond (rollback before any container moved for good): stop it, archive its data. */
  async abandonSecond(): Promise<string | null> {
    const to = await this.second.archiveServer('runtime migration rolled back');
    rmSync(this.next.configRoot, { recursive: true, force: true });
    return to;
  }
}
