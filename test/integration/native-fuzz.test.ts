import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { describeIf } from '../support/native.js';

const gcc = spawnSync('gcc', ['--version']).status === 0 ? null : 'needs gcc';

describeIf(gcc, 'the C netlink parser under AddressSanitizer, UBSan and valgrind', () => {
  it('parses random, truncated and mutated buffers without a memory error', () => {
    const r = spawnSync('bash', ['native/fuzz/run.sh', '50000'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toMatch(/ERROR: AddressSanitizer|runtime error|Invalid read|uninitialised/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/50000 inputs and \d+ truncations parsed without a memory error/);
  });
});
