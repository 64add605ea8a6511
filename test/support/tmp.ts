import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A temporary directory for the running test, removed when it finishes, passed or failed. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'infravisor-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
