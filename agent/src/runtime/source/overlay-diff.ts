import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pack, type Header, type Pack } from 'tar-stream';
import { call, libc } from '../../util/libc.js';

type Headers = Partial<Header> & Pick<Header, 'name'>;

/**
 * The diff of an overlayfs container straight from its upper directory, as an OCI layer:
 * the upper directory *is* the change set, so there is nothing to compare — files, links and
 * directories as they are; overlay whiteouts (0/0 character devices) become `.wh.NAME`;
 * opaque directories (xattr overlay.opaque=y) get `.wh..wh..opq`; extended attributes other
 * than overlay's own travel as PAX `SCHILY.xattr.*` records; hard links within the layer stay
 * links; sockets are skipped (tar cannot hold them; containerd's differ skips them too).
 * What this cannot represent faithfully — redirected or metacopy directories (containerd's
 * snapshotter does not enable them) and binary xattr values — throws OverlayDiffUnsupported,
 * and the caller uses containerd's differ instead.
 */
export class OverlayDiffUnsupported extends Error {}

const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

function listXattrs(path: string): string[] {
  const { DataType: T } = libc();
  const buf = Buffer.alloc(4096);
  const r = call('llistxattr', T.I64, [T.String, T.U8Array, T.I64], [path, buf, buf.length]);
  if (r.value < 0) {
    if (r.errnoCode === 95 /* EOPNOTSUPP */ || r.errnoCode === 61 /* ENODATA */) return [];
    if (r.errnoCode === 34 /* ERANGE */) throw new OverlayDiffUnsupported(`${path}: too many extended attributes`);
    throw new OverlayDiffUnsupported(`llistxattr ${path}: ${r.errnoMessage}`);
  }
  return buf.subarray(0, r.value).toString('utf8').split('\0').filter(Boolean);
}

function getXattr(path: string, name: string): Buffer | null {
  const { DataType: T } = libc();
  const buf = Buffer.alloc(65536);
  const r = call('lgetxattr', T.I64, [T.String, T.String, T.U8Array, T.I64], [path, name, buf, buf.length]);
  if (r.value < 0) return null;
  return Buffer.from(buf.subarray(0, r.value));
}

const major = (rdev: number) => Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
const minor = (rdev: number) => Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);

function entry(p: Pack, header: Headers, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => p.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
}

async function fileEntry(p: Pack, header: Headers, path: string): Promise<void> {
  let done!: () => void;
  let fail!: (e: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const sink = p.entry(header, (err) => (err ? fail(err) : done()));
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    if (!sink.write(chunk as Buffer)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
  }
  (sink as unknown as { end(): void }).end();
  await finished;
}

/** Writes the tar of `upperDir` to a pack stream (the caller consumes it). */
export async function writeOverlayDiff(upperDir: string, p: Pack): Promise<void> {
  const seen = new Map<string, string>(); // dev:ino → first name, for hard links
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(join(upperDir, rel)).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = join(upperDir, relPath);
      const st: Stats = lstatSync(abs);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isCharacterDevice() && st.rdev === 0) {
        await entry(p, { ...base, name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', size: 0 });
        continue;
      }
      if (st.isSocket()) continue;
      const pax: Record<string, string> = {};
      let opaque = false;
      for (const x of listXattrs(abs)) {
        if (OVERLAY_XATTR.test(x)) {
          const v = getXattr(abs, x)?.toString();
          if (/\.overlay\.opaque$/.test(x) && v === 'y') opaque = true;
          else if (/\.overlay\.(redirect|metacopy)$/.test(x)) throw new OverlayDiffUnsupported(`${relPath} carries ${x}`);
          continue;
        }
        const v = getXattr(abs, x);
        if (!v) continue;
        const text = v.toString('utf8');
        if (!Buffer.from(text, 'utf8').equals(v) || text.includes('\n')) throw new OverlayDiffUnsupported(`${relPath}: xattr ${x} is binary`);
        pax[`SCHILY.xattr.${x}`] = text;
      }
      const extra = Object.keys(pax).length ? { pax } : {};
      if (st.isDirectory()) {
        await entry(p, { ...base, ...extra, name: `${relPath}/`, type: 'directory' });
        if (opaque) await entry(p, { ...base, name: `${relPath}/.wh..wh..opq`, type: 'file', size: 0, mode: 0 });
        await walk(relPath);
      } else if (st.isSymbolicLink()) {
        await entry(p, { ...base, ...extra, name: relPath, type: 'symlink', linkname: readlinkSync(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first) await entry(p, { ...base, ...extra, name: relPath, type: 'link', linkname: first });
        else {
          if (st.nlink > 1) seen.set(key, relPath);
          await fileEntry(p, { ...base, ...extra, name: relPath, type: 'file', size: st.size }, abs);
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await entry(p, { ...base, ...extra, name: relPath, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major(st.rdev), devminor: minor(st.rdev) });
      } else if (st.isFIFO()) {
        await entry(p, { ...base, ...extra, name: relPath, type: 'fifo' });
      }
    }
  };
  await walk('');
  p.finalize();
}

/** A readable tar stream of the upper directory; errors (including OverlayDiffUnsupported) surface on it. */
export function overlayDiffStream(upperDir: string): Readable {
  const p = pack();
  const out = Readable.from(p as unknown as AsyncIterable<Buffer>);
  writeOverlayDiff(upperDir, p).catch((err: Error) => {
    out.destroy(err);
    p.destroy(err);
  });
  return out;
}
