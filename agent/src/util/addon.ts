import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The addon's folder, found upwards from this module: `native/` with its sources (a checkout,
 * the npm package) or with its prebuilds only (an architecture bundle, agent/packaging/).
 */
export function nativeDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp')) || existsSync(join(dir, 'native', 'prebuilds'))) return join(dir, 'native');
    dir = dirname(dir);
  }
  throw new Error('native/ (binding.gyp or prebuilds) not found above the agent');
}

let cached: unknown = null;

/**
 * The project's N-API addon (native/: the netlink watcher, the heartbeat socket), a prebuild for
 * this platform or the local build, through node-gyp-build. Throws if neither exists. Each user
 * states the part it needs as `T` and checks that the part is there (an older build may lack it).
 */
export function loadAddon<T>(): T {
  if (cached) return cached as T;
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => unknown;
  cached = load(nativeDir());
  return cached as T;
}
