import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, run } from '../../util/exec.js';
import { RuntimeError } from '../errors.js';
import type { OciLayout } from '../oci/layout.js';
import type { Descriptor, Manifest } from '../oci/media.js';

/** Where the target runtime keeps its images. */
export interface ImageStore {
  readonly description: string;
  /** Copies an image named in the layout into the store under `name`; layers it already has are reused. */
  importImage(layout: OciLayout, layoutRef: string, name: string): Promise<void>;
  has(name: string): Promise<boolean>;
  remove(name: string): Promise<void>;
  /** Free bytes where the store writes, when known. */
  freeBytes(): number | null;
}

const noSpace = (text: string) => /no space left on device|ENOSPC|disk quota exceeded/i.test(text);

function failure(what: string, err: unknown, hint: string): RuntimeError {
  const text = err instanceof CommandError ? err.stderr : String(err);
  const last = text.trim().split('\n').slice(-2).join(' | ');
  if (noSpace(text)) return new RuntimeError('NO_SPACE', `${what}: no space left on the target's storage (${last}); free space there, then run the migration again with --resume`, { cause: err });
  return new RuntimeError('TARGET', `${what}: ${last}. ${hint}`, { cause: err });
}

/**
 * containers-storage, the store CRI-O and podman share, written with skopeo. `root`/`runroot`
 * select a private store (CRI-O's default is /var/lib/containers/storage + /run/containers/storage).
 */
export class ContainersStorage implements ImageStore {
  constructor(
    readonly root: string,
    readonly runroot: string,
    readonly driver = 'overlay',
  ) {}

  get description(): string {
    return `containers-storage ${this.root}`;
  }

  ref(name: string): string {
    return `containers-storage:[${this.driver}@${this.root}+${this.runroot}]${name}`;
  }

  async importImage(layout: OciLayout, layoutRef: string, name: string): Promise<void> {
    mkdirSync(this.root, { recursive: true });
    try {
      await run(['skopeo', '--insecure-policy', 'copy', '--quiet', `oci:${layout.dir}:${layoutRef}`, this.ref(name)], { timeoutMs: 3_600_000 });
    } catch (err) {
      throw failure(`copying ${name} into ${this.description}`, err, 'Check that skopeo is installed and the store is not used by another storage driver.');
    }
  }

  async has(name: string): Promise<boolean> {
    try {
      await run(['skopeo', '--insecure-policy', 'inspect', '--raw', this.ref(name)], { timeoutMs: 60_000 });
      return true;
    } catch {
      return false;
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await run(['skopeo', '--insecure-policy', 'delete', this.ref(name)], { timeoutMs: 120_000 });
    } catch (err) {
      if (/does not resolve|not known|no such image|identifier is not an image/i.test(String((err as CommandError).stderr ?? err))) return;
      throw failure(`removing ${name} from ${this.description}`, err, 'Remove it by hand with `podman rmi`.');
    }
  }

  freeBytes(): number | null {
    try {
      mkdirSync(this.root, { recursive: true });
      const s = statfsSync(this.root);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }
}

/**
 * Another containerd's image store (its CRI plugin serves what it imports). Used to move
 * workloads onto a containerd CRI endpoint — and by the tests, which stand one in for CRI-O.
 */
export class ContainerdStore implements ImageStore {
  constructor(
    readonly socket: string,
    readonly namespace = 'k8s.io',
  ) {}

  get description(): string {
    return `containerd ${this.socket} (namespace ${this.namespace})`;
  }

  private argv(args: string[]) {
    return ['ctr', '--address', this.socket, '--namespace', this.namespace, ...args];
  }

  async importImage(layout: OciLayout, layoutRef: string, name: string): Promise<void> {
    const desc = layout.index().find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === layoutRef);
    if (!desc) throw new RuntimeError('TARGET', `image ${layoutRef} is not in the work layout ${layout.dir}`);
    const manifest = JSON.parse(layout.readBlob(desc.digest).toString()) as Manifest;
    // A one-image view of the layout (symlinks to its blobs), archived on the fly into ctr.
    const view = mkdtempSync(join(layout.dir, '..', '.import-'));
    try {
      mkdirSync(join(view, 'blobs', 'sha256'), { recursive: true });
      for (const d of [desc, manifest.config, ...manifest.layers] as Descriptor[]) {
        const hex = d.digest.split(':')[1]!;
        try {
          symlinkSync(layout.blobPath(d.digest), join(view, 'blobs', 'sha256', hex));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      writeFileSync(join(view, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      const entry = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() ?? 'latest' } };
      writeFileSync(join(view, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
      await new Promise<void>((resolve, reject) => {
        const tar = spawn('tar', ['-C', view, '-chf', '-', 'oci-layout', 'index.json', 'blobs'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const [cmd, ...args] = this.argv(['images', 'import', '-']);
        const ctr = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        tar.stderr.on('data', (c: Buffer) => (err += c.toString()));
        ctr.stderr.on('data', (c: Buffer) => (err += c.toString()));
        tar.stdout.pipe(ctr.stdin);
        ctr.on('error', reject);
        ctr.on('close', (code) => (code === 0 ? resolve() : reject(new CommandError(this.argv(['images', 'import']), code, err))));
      });
    } catch (err) {
      throw failure(`importing ${name} into ${this.description}`, err, 'Check that the target containerd runs and has room.');
    } finally {
      rmSync(view, { recursive: true, force: true });
    }
  }

  async has(name: string): Promise<boolean> {
    const out = await run(this.argv(['images', 'ls', '--quiet', `name==${name}`])).catch(() => '');
    return out.split('\n').some((l) => l.trim() === name);
  }

  async remove(name: string): Promise<void> {
    await run(this.argv(['images', 'rm', name])).catch(() => undefined);
  }

  freeBytes(): number | null {
    return null;
  }
}
