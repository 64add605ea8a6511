import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CorruptStateError } from '../util/errors.js';
import { parseJsonBounded } from '../util/json.js';

/** No state file is larger (the election's holds the cluster configuration, ≤ 1 MiB). */
const MAX_STATE_BYTES = 8 << 20;

/**
 * State files: a JSON envelope with a format name, a version and a SHA-256 of the body.
 * Written atomically (temp file in the same directory, fsync, rename, fsync of the
 * directory), so a crash leaves either the old file or the new one. A file that fails its
 * checksum or does not parse is moved aside and reported, never used.
 */
interface Envelope {
  format: string;
  version: number;
  sha256: string;
  body: string;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes to `path` atomically with the given mode. */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dir);
}

export class StateFile<T> {
  constructor(
    readonly path: string,
    private readonly format: string,
    private readonly version: number,
    private readonly validate: (body: unknown) => T,
  ) {}

  write(value: T): void {
    const body = JSON.stringify(value);
    const env: Envelope = { format: this.format, version: this.version, sha256: sha(body), body };
    writeFileAtomic(this.path, JSON.stringify(env) + '\n', 0o600);
  }

  /**
   * Returns the stored value, or null when there is none. A corrupt, truncated, foreign or
   * newer-version file throws CorruptStateError after being moved aside.
   */
  read(): T | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const fail = (reason: string): never => {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      try {
        renameSync(this.path, aside);
      } catch {
        throw new CorruptStateError(this.path, reason);
      }
      throw new CorruptStateError(this.path, reason, aside);
    };
    const parsed = parseJsonBounded(Buffer.from(text), MAX_STATE_BYTES);
    if (!parsed.ok) return fail(`it is not valid JSON (${parsed.detail}: truncated or overwritten)`);
    if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) return fail('it is not a state file (not a JSON object)');
    const env = parsed.value as Partial<Envelope>;
    if (env.format !== this.format) return fail(`its format is ${JSON.stringify(env.format)}, expected ${this.format}`);
    if (env.version !== this.version) return fail(`its version is ${env.version}, this agent reads version ${this.version}`);
    if (typeof env.body !== 'string' || env.sha256 !== sha(env.body)) return fail('its checksum does not match its content');
    try {
      const body = parseJsonBounded(Buffer.from(env.body), MAX_STATE_BYTES, 32);
      if (!body.ok) return fail(`its content is not JSON (${body.detail})`);
      return this.validate(body.value);
    } catch (err) {
      return fail(`its content is invalid (${(err as Error).message})`);
    }
  }
}
