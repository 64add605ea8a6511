import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { OciLayout } from '../../agent/src/runtime/oci/layout.js';
import { hostPlatform } from '../../agent/src/runtime/oci/media.js';
import { resolveManifest } from '../../agent/src/runtime/image.js';
import { Containerd } from '../../agent/src/runtime/source/containerd.js';
import { buildImages, containerPrerequisites, TestContainerd } from '../support/containerd.js';
import { describeIf } from '../support/native.js';

/**
 * The writable-layer diff read straight from overlayfs's upper directory must mean the same as
 * containerd's own differ: applied on the image, both give the same tree (types, modes, owners,
 * contents, link targets), whatever the container did — new, changed and deleted files, a
 * directory replaced (opaque), symlinks, hard links, a fifo, a chmod, a chown.
 */
interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  sha?: string;
  linkname?: string;
}
type Tree = Map<string, Node>;

const norm = (name: string) => name.replace(/^\.\//, '').replace(/\/$/, '');

async function apply(tree: Tree, tarPath: string): Promise<void> {
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.on('entry', (h, stream, next) => {
    const hash = createHash('sha256');
    stream.on('data', (c: unknown) => hash.update(c as Buffer));
    stream.on('end', () => {
      const name = norm(h.name);
      const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
      const base = name.slice(name.lastIndexOf('/') + 1);
      if (base === '.wh..wh..opq') {
        for (const k of [...tree.keys()]) if (k.startsWith(`${dir}/`) && !(tree.get(k) as Node & { fromThisLayer?: boolean }).fromThisLayer) tree.delete(k);
      } else if (base.startsWith('.wh.')) {
        const gone = (dir ? `${dir}/` : '') + base.slice(4);
        for (const k of [...tree.keys()]) if (k === gone || k.startsWith(`${gone}/`)) tree.delete(k);
      } else if (name) {
        const node: Node & { fromThisLayer?: boolean } = { type: h.type ?? 'file', mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, fromThisLayer: true };
        if (h.type === 'file') node.sha = hash.digest('hex');
        if (h.type === 'symlink') node.linkname = h.linkname ?? '';
        if (h.type === 'link') Object.assign(node, { type: 'file', sha: tree.get(norm(h.linkname ?? ''))?.sha });
        tree.set(name, node);
      }
      next();
    });
    stream.resume();
  });
  createReadStream(tarPath).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  for (const n of tree.values()) delete (n as Node & { fromThisLayer?: boolean }).fromThisLayer;
}

let base = '';
let src: TestContainerd;

describeIf(containerPrerequisites(), 'overlay upper directory diff vs containerd differ', () => {
  beforeAll(async () => {
    base = mkdtempSync('/tmp/ivr-ovl-');
    src = await TestContainerd.start(join(base, 'src'));
    await src.importLayout(await buildImages(join(base, 'images'), [{ name: 'localhost/infravisor-test/busybox:1' }]));
  }, 120_000);

  afterAll(async () => {
    await src?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it('gives the same tree once applied on the image', async () => {
    await src.ctr(['run', '--detach', '--net-host', 'localhost/infravisor-test/busybox:1', 'changes', '/bin/sleep', '1000000']);
    const script = [
      'echo new > /data/new',
      'echo appended >> /etc/motd',
      'rm /etc/deleteme',
      'rm -rf /srv/old && mkdir /srv/old && echo fresh > /srv/old/c',
      'ln -s /data/new /data/symlink',
      'ln /data/new /data/hard',
      'mkdir -p /var/lib/deep/er && echo deep > /var/lib/deep/er/file',
      'mkfifo /data/fifo',
      'chmod 0640 /data/new',
      'chown 1234:5678 /var/lib/deep/er/file',
      'dd if=/dev/urandom of=/data/blob bs=64k count=20 2>/dev/null',
    ].join(' && ');
    await src.ctr(['tasks', 'exec', '--exec-id', 'chg', 'changes', '/bin/sh', '-c', script]);
    const source = new Containerd(src.socket);
    const info = await source.info('changes');
    const upper = await source.upperDir(info.SnapshotKey, info.Snapshotter);
    expect(upper).toMatch(/\/fs$/);
    const layout = new OciLayout(join(base, 'layout'));
    await source.pause('changes');
    const ours = await source.diff(info.SnapshotKey, info.Snapshotter, layout, upper);
    const theirs = await source.diff(info.SnapshotKey, info.Snapshotter, layout, null);
    await source.resume('changes');
    expect(ours.via).toBe('upperdir');
    expect(theirs.via).toBe('containerd');

    const { manifest } = await resolveManifest(source, 'localhost/infravisor-test/busybox:1', hostPlatform());
    await source.copyContent(manifest.layers[0]!, layout);
    const lower = () => {
      const t: Tree = new Map();
      return apply(t, layout.blobPath(manifest.layers[0]!.digest)).then(() => t);
    };
    const a = await lower();
    const b = await lower();
    await apply(a, layout.blobPath(ours.digest));
    await apply(b, layout.blobPath(theirs.digest));
    const sorted = (t: Tree) => [...t.entries()].sort(([x], [y]) => x.localeCompare(y));
    expect(sorted(a)).toEqual(sorted(b));
    // And the changes are really there (the comparison is not between two empty diffs).
    expect(a.has('etc/deleteme')).toBe(false);
    expect(a.has('srv/old/a')).toBe(false);
    expect(a.get('srv/old/c')?.type).toBe('file');
    expect(a.get('data/symlink')).toMatchObject({ type: 'symlink', linkname: '/data/new' });
    expect(a.get('data/hard')?.sha).toBe(a.get('data/new')?.sha);
    expect(a.get('data/new')?.mode).toBe(0o640);
    expect(a.get('data/fifo')?.type).toBe('fifo');
    expect(a.get('var/lib/deep/er/file')).toMatchObject({ uid: 1234, gid: 5678 });
  }, 120_000);
});
