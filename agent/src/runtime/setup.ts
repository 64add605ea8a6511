import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { CriClient } from './cri/client.js';
import { RuntimeError } from './errors.js';
import { journalFile } from './journal.js';
import { Migration } from './migrate.js';
import { OciLayout } from './oci/layout.js';
import { hostPlatform } from './oci/media.js';
import { Containerd } from './source/containerd.js';
import { CriDeployer } from './target/cri.js';
import type { Deployer } from './target/deployer.js';
import { PodmanDeployer } from './target/podman.js';
import { ContainerdStore, ContainersStorage, type ImageStore } from './target/store.js';
import { connect } from 'node:net';
import { copyFileSync, existsSync } from 'node:fs';
import { stringify } from 'yaml';
import { loadConfig } from '../config/load.js';
import { deriveK3sToken } from '../ccp/config.js';
import { loadCcpConfig } from '../ccp/load.js';
import { K3sDriver } from '../ccp/k3s/driver.js';
import { SupervisedServices, SystemdServices } from '../ccp/service.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { ControlPlaneHandover } from './control-plane.js';
import type { CcpConfig } from '../config/ccp.js';

/** True when something answers on the agent's status socket. */
export function agentAnswers(socket: string, timeoutMs = 1000): Promise<boolean> {
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect(socket);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), timeoutMs).unref();
  });
}

/**
 * Step 5's shell: the host's CCP settings, cluster and secret come from the agent's own
 * configuration; the new CCP configuration is written back to its cluster configuration file
 * (one revision up), which the agent replicates when it starts again.
 */
function controlPlaneFor(o: RuntimeOptions, log: Logger): { handover: ControlPlaneHandover; onPromoted: (c: CcpConfig) => void } {
  if (o.to !== 'cri-o') throw new RuntimeError('USAGE', '--control-plane needs --to cri-o: k3s runs on a CRI endpoint, which podman is not', { exitCode: 2 });
  const cfg = loadConfig(o.agentConfig);
  if (!cfg.clusterConfig) {
    throw new RuntimeError('USAGE', `--control-plane: ${o.agentConfig} sets no clusterConfig file; the new runtime endpoint must be recorded in the cluster's CCP configuration, so set clusterConfig (see docs/ccp.md) and run again`, { exitCode: 2 });
  }
  const clusterConfig = cfg.clusterConfig;
  const services = cfg.ccp.service === 'systemd' ? new SystemdServices() : new SupervisedServices(join(cfg.stateDir, 'ccp'));
  const handover = new ControlPlaneHandover({
    driverFor: (local, units) => new K3sDriver(local, services, units),
    local: cfg.ccp,
    cluster: cfg.cluster,
    host: { name: cfg.host.name, addresses: [cfg.host.address] },
    ccp: loadCcpConfig(clusterConfig),
    token: deriveK3sToken(cfg.secret, cfg.cluster),
    runtimeEndpoint: o.targetEndpoint,
    nextPort: o.ccpNextPort,
    log: log.child({ step: 'control-plane' }),
  });
  const onPromoted = (c: CcpConfig) => {
    if (existsSync(clusterConfig)) copyFileSync(clusterConfig, `${clusterConfig}.before-runtime-migration`);
    writeFileAtomic(clusterConfig, `# Written by infravisor runtime migrate (revision ${c.revision}: the CCP runs on ${o.targetEndpoint}).\n${stringify(c)}`, 0o644);
  };
  return { handover, onPromoted };
}

/** Refuses to run step 5 while the agent runs: its CCP controller would restart the first control plane. */
export async function checkAgentStopped(o: RuntimeOptions): Promise<void> {
  if (!o.controlPlane) return;
  const cfg = loadConfig(o.agentConfig);
  if (await agentAnswers(cfg.statusSocket)) {
    throw new RuntimeError('USAGE', `--control-plane: the agent on this host is running (${cfg.statusSocket} answers). Stop it first (systemctl stop infravisor): the CCP and the workloads keep running without it. Start it again after the migration; it adopts the promoted CCP.`, { exitCode: 2 });
  }
}

export const SOURCES = ['containerd'] as const;
export const TARGETS = ['cri-o', 'podman'] as const;

const oneOf = (names: readonly string[], what: string, hint: string) =>
  z.string().superRefine((v, ctx) => {
    if (!names.includes(v)) ctx.addIssue({ code: 'custom', message: `unknown ${what} "${v}": ${hint} ${names.join(', ')}` });
  });

/** The command line of `runtime plan|migrate|rollback`, checked at the edge. */
export const RuntimeOptionsSchema = z.object({
  from: oneOf(SOURCES, 'source runtime', 'this version migrates from'),
  to: oneOf(TARGETS, 'target runtime', 'choose one of'),
  containerdSocket: z.string().min(1),
  containerdRoot: z.string().startsWith('/', 'must be an absolute path'),
  containerdNamespace: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a containerd namespace: letters, digits, . _ -'),
  cri: z.boolean(),
  storageRoot: z.string().startsWith('/', 'must be an absolute path'),
  storageRunroot: z.string().startsWith('/', 'must be an absolute path'),
  storageDriver: z.enum(['overlay', 'vfs']),
  targetEndpoint: z.string().min(1),
  targetStore: z.string().regex(/^(containers-storage|containerd:\/.+)$/, 'containers-storage, or containerd:SOCKET for a containerd CRI target'),
  containersConf: z.string().optional(),
  only: z.array(z.string().min(1)),
  parallel: z.coerce.number().int().min(1).max(16),
  stateDir: z.string().startsWith('/', 'must be an absolute path'),
  workDir: z.string().optional(),
  controlPlane: z.boolean().default(false),
  agentConfig: z.string().min(1).default('/etc/infravisor/agent.yaml'),
  ccpNextPort: z.coerce.number().int().min(1).max(65535).optional(),
});
export type RuntimeOptions = z.infer<typeof RuntimeOptionsSchema> & { to: (typeof TARGETS)[number]; from: 'containerd' };

export function parseRuntimeOptions(raw: Record<string, unknown>): RuntimeOptions {
  const r = RuntimeOptionsSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  --${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`);
    throw new RuntimeError('USAGE', `invalid options:\n${lines.join('\n')}`, { exitCode: 2 });
  }
  return r.data as RuntimeOptions;
}

/** Wires a Migration from the options (the shell around the migration core). */
export function createMigration(o: RuntimeOptions, log: Logger): { migration: Migration; close: () => void } {
  const source = new Containerd(o.containerdSocket, o.containerdNamespace, o.containerdRoot);
  const clients: CriClient[] = [];
  const sourceCri = o.cri ? new CriClient(o.containerdSocket, 30_000, '--containerd-socket') : null;
  if (sourceCri) clients.push(sourceCri);
  const storage = new ContainersStorage(o.storageRoot, o.storageRunroot, o.storageDriver);
  let store: ImageStore = storage;
  if (o.targetStore.startsWith('containerd:')) store = new ContainerdStore(o.targetStore.slice('containerd:'.length));
  let deployer: Deployer;
  if (o.to === 'podman') {
    if (store !== storage) throw new RuntimeError('USAGE', '--to podman runs from containers-storage; drop --target-store', { exitCode: 2 });
    deployer = new PodmanDeployer(storage, { containersConf: o.containersConf });
  } else {
    const cri = new CriClient(o.targetEndpoint);
    clients.push(cri);
    deployer = new CriDeployer(cri);
  }
  const cp = o.controlPlane ? controlPlaneFor(o, log) : null;
  const migration = new Migration({
    ...(cp ? { controlPlane: cp.handover, onPromoted: cp.onPromoted } : {}),
    source,
    sourceCri,
    store,
    deployer,
    layout: new OciLayout(o.workDir ?? join(o.stateDir, 'runtime', 'layout')),
    journal: journalFile(o.stateDir),
    platform: hostPlatform(),
    log,
  });
  return {
    migration,
    close: () => {
      clients.forEach((c) => c.close());
      source.close();
    },
  };
}
