import * as lab from '../../agent/src/lab/lab.js';
import type { LabStatus } from '../../agent/src/lab/status.js';
import { violations } from '../../agent/src/lab/invariants.js';
import { waitFor } from './wait.js';

export interface ConvergeOptions {
  /** The fault has been acted on (default: always). */
  expected?: (st: LabStatus) => boolean;
  /** Which hosts reach each other, for the clique invariant. */
  reach?: (a: string, b: string) => boolean;
  timeoutMs: number;
  everyMs?: number;
}

/** Waits until lab `name` shows `expected` and the cluster invariants hold; logs how long it took. */
export async function converged(name: string, what: string, o: ConvergeOptions): Promise<LabStatus> {
  let last: string[] = [];
  const ms = await waitFor(
    async () => {
      const st = await lab.status(name);
      last = violations(st, o.reach);
      if (o.expected && !o.expected(st)) last.push('the expected change has not happened yet');
      return last.length === 0;
    },
    o.timeoutMs,
    what,
    o.everyMs ?? 200,
  ).catch((err) => {
    throw new Error(`${what}: invariants do not hold: ${last.join('; ')} (${(err as Error).message})`);
  });
  console.log(`${what}: converged in ${ms} ms`);
  return lab.status(name);
}
