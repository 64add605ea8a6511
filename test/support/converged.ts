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

/** What a settled lab must keep: its clusters, their primaries and CCPs, each host's broker and the CCPs running. */
export function shapeOf(st: LabStatus): string {
  return JSON.stringify({
    clusters: st.clusters.map((c) => ({ members: c.members, primary: c.primary, ccp: c.ccp && { host: c.ccp.host, generation: c.ccp.generation } })),
    brokers: st.hosts.map((h) => `${h.name}>${h.view?.rendezvous.host ?? '-'}${h.view?.rendezvous.connected ? '' : '?'}`),
    running: st.hosts.filter((h) => h.ccpRunning).map((h) => h.name),
  });
}

/**
 * Waits until lab `name` is converged and has stayed the same (shapeOf) for `quietMs`: after a
 * restart the members move back to the best-ranked broker one by one, and a lab that merely
 * converged may still be moving.
 */
export async function settled(name: string, what: string, o: ConvergeOptions & { quietMs: number }): Promise<LabStatus> {
  const t0 = Date.now();
  for (;;) {
    const st = await converged(name, what, { ...o, timeoutMs: Math.max(1000, o.timeoutMs - (Date.now() - t0)) });
    const shape = shapeOf(st);
    const since = Date.now();
    let moved = false;
    while (!moved && Date.now() - since < o.quietMs) {
      await new Promise((r) => setTimeout(r, o.everyMs ?? 200));
      moved = shapeOf(await lab.status(name)) !== shape;
    }
    if (!moved) return st;
    if (Date.now() - t0 > o.timeoutMs) throw new Error(`${what}: the lab kept changing for ${o.timeoutMs} ms`);
  }
}
