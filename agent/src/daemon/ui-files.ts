import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { UiFiles } from '../status/server.js';
import { REPO_ROOT } from '../util/paths.js';

/** The page's files (agent/ui) and the ES modules it imports (preact, its hooks, htm), or null
 * when this installation has no page. */
export function uiFiles(): UiFiles | null {
  const dir = join(REPO_ROOT, 'agent', 'ui');
  if (!existsSync(join(dir, 'index.html'))) return null;
  try {
    // The packages' roots, from their entry points (their package.json is not exported).
    const req = createRequire(join(REPO_ROOT, 'package.json'));
    const root = (name: string) => {
      const entry = req.resolve(name);
      return entry.slice(0, entry.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}`.length);
    };
    const vendor = { 'preact.mjs': join(root('preact'), 'dist', 'preact.mjs'), 'hooks.mjs': join(root('preact'), 'hooks', 'dist', 'hooks.mjs'), 'htm.mjs': join(root('htm'), 'dist', 'htm.mjs') };
    return Object.values(vendor).every((f) => existsSync(f)) ? { dir, vendor } : null;
  } catch {
    return null;
  }
}
