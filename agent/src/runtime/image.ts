import type { ImageStore } from './target/store.js';
import type { Containerd } from './source/containerd.js';
import type { OciLayout } from './oci/layout.js';
import { classify, MT, parseManifest, selectPlatform, toOciManifest, type Index, type Manifest, type Platform } from './oci/media.js';
import { buildStateImage } from './oci/state-image.js';
import type { Workload } from './inventory.js';

/** A base image resolved for this host's platform, and copied into the work layout. */
export interface BaseImage {
  ref: string;
  layoutRef: string;
  manifest: Manifest;
  config: Record<string, unknown>;
  bytes: number;
  /** A Docker schema 2 manifest rewritten with OCI media types (blobs and their digests unchanged). */
  converted: boolean;
}

/** The platform manifest an image name resolves to, without copying anything. */
export async function resolveManifest(src: Containerd, ref: string, platform: Platform): Promise<{ raw: Buffer; manifest: Manifest }> {
  const target = await src.imageTarget(ref);
  let desc = { digest: target.digest, mediaType: target.mediaType };
  if (classify(target.mediaType, ref) === 'index') {
    const index = JSON.parse((await src.readContent(target.digest)).toString()) as Index;
    desc = selectPlatform(index, platform, ref);
    classify(desc.mediaType, ref);
  }
  const raw = await src.readContent(desc.digest);
  return { raw, manifest: parseManifest(raw, ref, desc.mediaType) };
}

export const imageBytes = (m: Manifest) => m.layers.reduce((s, l) => s + l.size, 0) + m.config.size;

/**
 * Step 2, while the containers keep running: the base image's blobs go from containerd's
 * content store into the work layout (digests verified), then into the target's store under
 * the same name. Idempotent: blobs and images already there are reused.
 */
export async function precopy(src: Containerd, layout: OciLayout, store: ImageStore, ref: string, platform: Platform): Promise<BaseImage> {
  const { raw, manifest } = await resolveManifest(src, ref, platform);
  for (const d of [manifest.config, ...manifest.layers]) if (!layout.has(d)) await src.copyContent(d, layout);
  const { manifest: oci, converted } = toOciManifest(manifest);
  const bytes = converted ? Buffer.from(JSON.stringify(oci)) : raw;
  const digest = layout.putBytes(bytes);
  const layoutRef = `base-${digest.slice(7, 23)}`;
  layout.tag(layoutRef, { mediaType: MT.ociManifest, digest, size: bytes.length });
  if (!(await store.has(ref))) await store.importImage(layout, layoutRef, ref);
  const config = JSON.parse(layout.readBlob(manifest.config.digest).toString()) as Record<string, unknown>;
  return { ref, layoutRef, manifest: oci, config, bytes: imageBytes(manifest), converted };
}

/**
 * Step 3, with the container paused: the diff of its writable layer becomes one more layer on
 * its base image, with its effective process configuration. Returns the layout name of the
 * state image.
 */
export async function capture(src: Containerd, layout: OciLayout, base: BaseImage, w: Workload, at: Date, upper: string | null): Promise<{ layoutRef: string; diff: { digest: string; size: number; via: string } }> {
  const diff = await src.diff(w.snapshotKey, w.snapshotter, layout, upper);
  const layoutRef = `state-${w.id.slice(0, 16)}`;
  const img = buildStateImage({
    base: base.manifest,
    baseConfig: base.config,
    diff,
    process: { args: w.process.args, env: w.process.env, cwd: w.process.cwd, user: w.process.user, labels: {} },
    source: { runtime: 'containerd', container: w.name, at: at.toISOString() },
    refName: layoutRef,
  });
  layout.putBytes(img.config);
  layout.putBytes(img.manifest);
  layout.tag(layoutRef, img.manifestDescriptor);
  return { layoutRef, diff };
}
