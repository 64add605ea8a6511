import { RuntimeError } from '../errors.js';

/**
 * Image manifests as the OCI image spec and Docker's schema 2 define them, and the pure
 * choices the migration makes about them: which platform of an index, whether a media type
 * is understood, and how a Docker manifest becomes an OCI one (same config and layer blobs,
 * same digests; only the manifest is rewritten).
 */
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The OCI platform of this host (Node's arch names mapped to GOARCH names). */
export function hostPlatform(arch: string = process.arch): Platform {
  const map: Record<string, Platform> = {
    x64: { os: 'linux', architecture: 'amd64' },
    arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
    ia32: { os: 'linux', architecture: '386' },
    ppc64: { os: 'linux', architecture: 'ppc64le' },
    s390x: { os: 'linux', architecture: 's390x' },
    riscv64: { os: 'linux', architecture: 'riscv64' },
  };
  return map[arch] ?? { os: 'linux', architecture: arch };
}

const LAYER_TYPES = new Set<string>([MT.ociLayer, MT.ociLayerGzip, MT.ociLayerZstd, MT.dockerLayerGzip, MT.dockerForeignGzip, 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'application/vnd.oci.image.layer.nondistributable.v1.tar']);
const DOCKER_TO_OCI: Record<string, string> = {
  [MT.dockerManifest]: MT.ociManifest,
  [MT.dockerConfig]: MT.ociConfig,
  [MT.dockerLayerGzip]: MT.ociLayerGzip,
  [MT.dockerForeignGzip]: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};

export type ManifestKind = 'index' | 'manifest';

/** What a top-level media type is; anything else is refused with the reason. */
export function classify(mediaType: string | undefined, ref: string): ManifestKind {
  switch (mediaType) {
    case MT.ociIndex:
    case MT.dockerList:
      return 'index';
    case MT.ociManifest:
    case MT.dockerManifest:
      return 'manifest';
    case MT.dockerSchema1:
    case MT.dockerSchema1Signed:
      throw new RuntimeError('IMAGE_UNSUPPORTED', `image ${ref} is a Docker schema 1 manifest, which has no content-addressed config; convert it with a registry tool (for example by pushing it again with a current Docker) before migrating`);
    default:
      throw new RuntimeError('IMAGE_UNSUPPORTED', `image ${ref} has media type ${mediaType ?? '(none)'}, which is neither an OCI nor a Docker schema 2 manifest or index; it cannot be migrated`);
  }
}

/** Parses a manifest blob, checking the parts the migration relies on. */
export function parseManifest(bytes: Buffer | string, ref: string, declaredType?: string): Manifest {
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(bytes.toString()) as Partial<Manifest>;
  } catch {
    throw new RuntimeError('IMAGE_UNSUPPORTED', `image ${ref}: its manifest is not JSON`);
  }
  const type = m.mediaType ?? declaredType;
  if (classify(type, ref) !== 'manifest' || m.schemaVersion !== 2 || !m.config || !Array.isArray(m.layers)) {
    throw new RuntimeError('IMAGE_UNSUPPORTED', `image ${ref}: not a schema 2 image manifest`);
  }
  for (const l of m.layers) {
    if (!LAYER_TYPES.has(l.mediaType)) throw new RuntimeError('IMAGE_UNSUPPORTED', `image ${ref}: layer ${l.digest} has media type ${l.mediaType}, which is not an image layer this migration can apply (plain, gzip or zstd tar)`);
  }
  return { ...m, mediaType: type } as Manifest;
}

/** The manifest of an index for a platform: exact variant first, then any variant of the architecture. */
export function selectPlatform(index: Index, want: Platform, ref: string): Descriptor {
  const candidates = index.manifests.filter((d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture);
  const exact = candidates.find((d) => !want.variant || !d.platform?.variant || d.platform.variant === want.variant);
  const chosen = exact ?? candidates[0];
  if (!chosen) {
    const have = index.manifests.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}${d.platform.variant ? `/${d.platform.variant}` : ''}` : 'unknown')).join(', ');
    throw new RuntimeError('IMAGE_UNSUPPORTED', `image ${ref} has no manifest for ${want.os}/${want.architecture} (it has: ${have || 'none'})`);
  }
  return chosen;
}

/**
 * The OCI form of a manifest. OCI manifests come back unchanged (same bytes, same digest);
 * a Docker schema 2 manifest gets OCI media types for itself, its config and its layers —
 * the blobs are byte-identical under both names, so their digests stay.
 */
export function toOciManifest(m: Manifest): { manifest: Manifest; converted: boolean } {
  if ((m.mediaType ?? MT.ociManifest) === MT.ociManifest) return { manifest: m, converted: false };
  const conv = (d: Descriptor): Descriptor => ({ ...d, mediaType: DOCKER_TO_OCI[d.mediaType] ?? d.mediaType });
  return { manifest: { ...m, mediaType: MT.ociManifest, config: conv(m.config), layers: m.layers.map(conv) }, converted: true };
}
