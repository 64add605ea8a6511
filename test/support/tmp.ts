import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A temporary directory removed after the test, whether it passed or failed. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'infravisor-test-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
