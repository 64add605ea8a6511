import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: found from this module, whether it runs built (dist/) or from source (tests). */
export const REPO_ROOT = (() => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? resolve(dirname(here), '../../..') : resolve(dirname(here), '../../../..');
})();

/** The built CLI that agents and supervisors run. */
export const CLI_PATH = join(REPO_ROOT, 'dist/agent/src/cli/main.js');

/** This release's version: the `version` of the package.json at its root (a bundle ships it). */
export const AGENT_VERSION: string = (() => {
  try {
    const v = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
})();
