import { describe } from 'vitest';

/** The native addon, or the reason it is not there. Under CI a missing addon fails the suite. */
export async function nativeAddon(): Promise<{ addon: ReturnType<typeof import('../../agent/src/link/native.js').loadAddon> | null; why: string | null }> {
  try {
    const { loadAddon } = await import('../../agent/src/link/native.js');
    return { addon: loadAddon(), why: null };
  } catch (err) {
    return { addon: null, why: `native addon not built: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** describe() that is skipped with its reason outside CI, and runs (and fails) under CI. */
export function describeIf(reason: string | null, title: string, fn: () => void): void {
  if (reason && process.env.CI !== 'true') describe.skip(`${title} (skipped: ${reason})`, fn);
  else describe(title, fn);
}
