import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StateFile } from '../../agent/src/state/atomic-file.js';
import { CorruptStateError } from '../../agent/src/util/errors.js';
import { tempDir } from '../support/tmp.js';

const schema = z.object({ n: z.number() });
const file = (dir: string) => new StateFile(join(dir, 's.json'), 'test.state', 1, (b) => schema.parse(b));

describe('state files', () => {
  it('round-trips and leaves no temporary file behind', () => {
    const dir = tempDir();
    const f = file(dir);
    expect(f.read()).toBeNull();
    f.write({ n: 1 });
    f.write({ n: 2 });
    expect(f.read()).toEqual({ n: 2 });
    expect(readdirSync(dir)).toEqual(['s.json']);
  });

  it.each([
    ['truncated', (t: string) => t.slice(0, t.length / 2)],
    ['edited without a new checksum', (t: string) => t.replace('{\\"n\\":2}', '{\\"n\\":3}')],
    ['of another format', (t: string) => t.replace('test.state', 'other')],
    ['of a newer version', (t: string) => t.replace('"version":1', '"version":2')],
    ['empty', () => ''],
  ])('a %s file is reported, moved aside and never used', (_what, mangle) => {
    const dir = tempDir();
    const f = file(dir);
    f.write({ n: 2 });
    writeFileSync(f.path, mangle(readFileSync(f.path, 'utf8')));
    expect(() => f.read()).toThrow(CorruptStateError);
    expect(existsSync(f.path)).toBe(false);
    expect(readdirSync(dir).some((n) => n.startsWith('s.json.corrupt-'))).toBe(true);
    expect(f.read()).toBeNull();
  });
});
