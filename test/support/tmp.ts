import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';

/** A temporary directory for the running test, removed when it finishes, passed or failed. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'infravisor-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Temporary directories for a whole file's `beforeAll` (where no test runs yet): call at the top
 * of the file; each call of the returned function makes one, and all are removed after the file.
 */
export function suiteTempDirs(): () => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), 'infravisor-test-'));
    dirs.push(d);
    return d;
  };
}
