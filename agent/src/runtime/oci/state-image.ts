import { createHash } from 'node:crypto';
import { MT, type Descriptor, type Manifest } from './media.js';

/**
 * The state image of a container: its base image plus one layer, the diff of its writable
 * layer, with the container's effective process configuration written into the image config
 * (so that whatever runs it next starts the same program the same way). Pure: bytes in,
 * bytes out; the digests are the identity of the result.
 */
export interface ProcessConfig {
  /** The full argv the container runs (entrypoint + cmd). */
  args: string[];
  /** The image's entrypoint and cmd split as the source knew them, when it did. */
  entrypoint?: string[];
  cmd?: string[];
  env: string[];
  cwd: string;
  user?: string;
  labels: Record<string, string>;
}

export interface StateImage {
  config: Buffer;
  configDescriptor: Descriptor;
  manifest: Buffer;
  manifestDescriptor: Descriptor;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Env entries the runtime sets itself for each container; carrying them over would pin stale values. */
const RUNTIME_ENV = new Set(['HOSTNAME']);

export function buildStateImage(opts: {
  base: Manifest;
  baseConfig: Record<string, unknown>;
  diff: { digest: string; size: number; mediaType?: string };
  process: ProcessConfig;
  source: { runtime: string; container: string; at: string };
  refName: string;
}): StateImage {
  const { base, baseConfig, diff, process: p } = opts;
  const rootfs = (baseConfig.rootfs ?? { type: 'layers', diff_ids: [] }) as { type: string; diff_ids: string[] };
  const old = (baseConfig.config ?? {}) as Record<string, unknown>;
  const entrypoint = p.entrypoint ?? p.args;
  const cmd = p.entrypoint ? (p.cmd ?? []) : [];
  const config = {
    ...baseConfig,
    created: opts.source.at,
    config: {
      ...old,
      Env: p.env.filter((e) => !RUNTIME_ENV.has(e.split('=')[0] ?? '')),
      Entrypoint: entrypoint.length ? entrypoint : null,
      Cmd: cmd.length ? cmd : null,
      WorkingDir: p.cwd || '/',
      ...(p.user ? { User: p.user } : {}),
      Labels: { ...((old.Labels as Record<string, string> | undefined) ?? {}), ...p.labels },
    },
    rootfs: { type: rootfs.type ?? 'layers', diff_ids: [...(rootfs.diff_ids ?? []), diff.digest] },
    history: [
      ...(((baseConfig.history as unknown[]) ?? []) as unknown[]),
      { created: opts.source.at, created_by: `infravisor runtime migrate: state of ${opts.source.runtime} container ${opts.source.container}`, comment: 'writable layer captured while the container was paused' },
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: MT.ociConfig, digest: digestOf(configBytes), size: configBytes.length };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: configDescriptor,
    layers: [...base.layers, { mediaType: diff.mediaType ?? MT.ociLayer, digest: diff.digest, size: diff.size }],
    annotations: { 'org.opencontainers.image.ref.name': opts.refName, 'io.infravisor.migrated-from': `${opts.source.runtime}/${opts.source.container}` },
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return { config: configBytes, configDescriptor, manifest: manifestBytes, manifestDescriptor: { mediaType: MT.ociManifest, digest: digestOf(manifestBytes), size: manifestBytes.length } };
}
