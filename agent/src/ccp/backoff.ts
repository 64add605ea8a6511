/**
 * Restart backoff of a crashed CCP process (pure): 100 ms doubling to 5 s; a run of at least
 * `stableMs` resets the count. A crashed CCP is restarted in place this way before anyone
 * considers a failover.
 */
export const BACKOFF = { firstMs: 100, maxMs: 5000, stableMs: 10_000 } as const;

export function nextBackoff(consecutiveFailures: number, ranForMs: number): { delayMs: number; failures: number } {
  const failures = ranForMs >= BACKOFF.stableMs ? 1 : consecutiveFailures + 1;
  return { delayMs: Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** (failures - 1)), failures };
}

/** The delay before the `failures`-th retry of an operation: `firstMs`, doubling up to `maxMs`. */
export function retryDelay(failures: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}
