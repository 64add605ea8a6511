import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LinkEvent, LinkWatcher } from './types.js';

interface Addon {
  Watcher: new (cb: (events: LinkEvent[], err?: Error) => void) => { close(): void; fd(): number };
  parse(buf: Buffer): { links: LinkEvent[]; done: boolean; error: number; truncated: boolean };
}

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

let cached: Addon | null = null;

/** Loads the addon (a prebuild for this platform, or the local build) through node-gyp-build. Throws if neither exists. */
export function loadAddon(): Addon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => Addon;
  cached = load(nativeDir());
  return cached;
}

export class NativeLinkWatcher implements LinkWatcher {
  readonly backend = 'native' as const;
  private handle: { close(): void } | null = null;
  constructor(private readonly addon: Addon = loadAddon()) {}

  start(onEvents: (events: LinkEvent[]) => void, onError?: (err: Error) => void): void {
    this.handle = new this.addon.Watcher((events, err) => {
      if (err) onError?.(err);
      if (events.length) onEvents(events);
    });
  }

  close(): void {
    this.handle?.close();
    this.handle = null;
  }
}
