import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatenate, requireVmTools } from '../../agent/src/lab/vm/qemu.js';

describe('VM lab: missing tools are named with their package', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });
  it('names qemu-system-arm and cpio when they are not on PATH', () => {
    process.env.PATH = '/nonexistent';
    expect(() => requireVmTools('arm64')).toThrow(/qemu-system-aarch64 \(apt-get install qemu-system-arm\).*cpio \(apt-get install cpio\)/);
  });
});

describe('VM lab: initramfs parts are concatenated on 4-byte boundaries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iv-concat-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  it('pads each part with zeros so that the next starts aligned', async () => {
    const parts = [Buffer.from('abcde'), Buffer.from('0707'), Buffer.from('xyz')].map((b, i) => {
      const f = join(dir, `p${i}`);
      writeFileSync(f, b);
      return f;
    });
    const out = join(dir, 'out');
    await concatenate(parts, out);
    expect(readFileSync(out)).toEqual(Buffer.concat([Buffer.from('abcde'), Buffer.alloc(3), Buffer.from('0707'), Buffer.from('xyz'), Buffer.alloc(1)]));
  });
});
