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
  const source = new Containerd(o.containerdSocket, o.containerdNamespace);
  const clients: CriClient[] = [];
  const sourceCri = o.cri ? new CriClient(o.containerdSocket) : null;
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
  const migration = new Migration({
    source,
    sourceCri,
    store,
    deployer,
    layout: new OciLayout(o.workDir ?? join(o.stateDir, 'runtime', 'layout')),
    journal: journalFile(o.stateDir),
    platform: hostPlatform(),
    log,
  });
  return { migration, close: () => clients.forEach((c) => c.close()) };
}
