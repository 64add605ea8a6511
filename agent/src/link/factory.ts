import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';
import type { LinkBackend, LinkWatcher } from './types.js';

export type LinkBackendChoice = 'auto' | LinkBackend;

/**
 * Chooses the link watcher: the native addon when it loads, else the ffi fallback. Logs one
 * line saying which and why. A forced backend that cannot load is an error.
 */
export async function createLinkWatcher(choice: LinkBackendChoice, log?: Logger): Promise<LinkWatcher> {
  if (choice === 'mock') {
    const { MockLinkWatcher } = await import('./mock.js');
    return new MockLinkWatcher();
  }
  if (choice === 'auto' || choice === 'native') {
    try {
      const { NativeLinkWatcher } = await import('./native.js');
      const w = new NativeLinkWatcher();
      log?.info({ backend: 'native', why: choice === 'native' ? 'forced by configuration' : 'the netlink addon loaded' }, 'link watcher: native');
      return w;
    } catch (err) {
      if (choice === 'native') throw new Error(`the native netlink addon did not load (${errorMessage(err)}); rebuild it with npm rebuild, or use the ffi backend`);
      const { FfiLinkWatcher } = await import('./ffi.js');
      log?.info({ backend: 'ffi', why: `the netlink addon did not load: ${errorMessage(err).split('\n')[0]}` }, 'link watcher: ffi fallback');
      return new FfiLinkWatcher();
    }
  }
  const { FfiLinkWatcher } = await import('./ffi.js');
  log?.info({ backend: 'ffi', why: 'forced by configuration' }, 'link watcher: ffi');
  return new FfiLinkWatcher();
}
