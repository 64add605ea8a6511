import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../../state/atomic-file.js';
import { RuntimeError } from '../errors.js';
import type { Descriptor } from './media.js';

/**
 * An OCI image layout directory (oci-layout, index.json, blobs/sha256/…), written here: blobs
 * are verified against their digest as they arrive and renamed into place, index.json is
 * replaced atomically, so a crash leaves a valid layout with or without the new image.
 */
export class OciLayout {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    if (!existsSync(join(dir, 'oci-layout'))) writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }) + '\n');
    if (!existsSync(join(dir, 'index.json'))) this.writeIndex([]);
  }

  blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    if (alg !== 'sha256' || !hex || !/^[0-9a-f]{64}$/.test(hex)) throw new RuntimeError('IMAGE_UNSUPPORTED', `digest ${digest} is not a sha256 digest`);
    return join(this.dir, 'blobs', 'sha256', hex);
  }

  has(d: { digest: string; size: number }): boolean {
    try {
      return statSync(this.blobPath(d.digest)).size === d.size;
    } catch {
      return false;
    }
  }

  putBytes(bytes: Buffer): string {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (!this.has({ digest, size: bytes.length })) writeFileAtomic(this.blobPath(digest), bytes);
    return digest;
  }

  /** Streams a blob in, hashing it; refuses it when the digest (if given) does not match. */
  async putStream(stream: Readable, expect?: string): Promise<{ digest: string; size: number }> {
    const tmp = join(this.dir, 'blobs', `.incoming-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const hash = createHash('sha256');
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    try {
      await pipeline(stream, createWriteStream(tmp, { mode: 0o644 }));
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        /* never created */
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new RuntimeError('NO_SPACE', `no space left on the device of ${this.dir}; free space or pass a --work-dir on a larger file system`, { cause: err });
      throw err;
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (expect && expect !== digest) {
      unlinkSync(tmp);
      throw new RuntimeError('SOURCE', `blob ${expect} read back as ${digest}: the source store is corrupt or changed underneath`);
    }
    renameSync(tmp, this.blobPath(digest));
    return { digest, size };
  }

  /** Hard-links a blob from another directory when it is on the same file system; false otherwise. */
  linkFrom(path: string, d: { digest: string; size: number }): boolean {
    if (this.has(d)) return true;
    try {
      if (statSync(path).size !== d.size) return false;
      linkSync(path, this.blobPath(d.digest));
      return true;
    } catch {
      return false;
    }
  }

  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }

  index(): Descriptor[] {
    try {
      return (JSON.parse(readFileSync(join(this.dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] }).manifests ?? [];
    } catch {
      return [];
    }
  }

  private writeIndex(manifests: Descriptor[]): void {
    writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }) + '\n');
  }

  /** Names a manifest in index.json (org.opencontainers.image.ref.name), replacing an older entry of that name. */
  tag(name: string, d: Descriptor): void {
    const rest = this.index().filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== name);
    this.writeIndex([...rest, { mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: { 'org.opencontainers.image.ref.name': name } }]);
  }
}
