import { loadAddon as loadNativeAddon } from '../util/addon.js';
import type { LinkEvent, LinkWatcher } from './types.js';

interface Addon {
  Watcher: new (cb: (events: LinkEvent[], err?: Error) => void) => { close(): void; fd(): number };
  parse(buf: Buffer): { links: LinkEvent[]; done: boolean; error: number; truncated: boolean };
}

/** The netlink part of the addon (native/src/addon.cc). */
export function loadAddon(): Addon {
  return loadNativeAddon<Addon>();
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
