import type { AgentConfig } from '../config/load.js';
import type { Facts } from '../contract/index.js';
import type { FactsProvider } from '../facts/facts.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';

/**
 * Whether new facts are worth a presence: model or temperature changed, or load moved by ½.
 * (Sending them only on large moves saves CPU on every member, but the periodic presence also
 * mends a stale view after a host is revoked — test/lab/security.test.ts failed 3 times in 4
 * without it: docs/benchmarks.md, "Idle". Keep it until that is fixed at its cause.)
 */
export function factsChanged(a: Facts, b: Facts): boolean {
  return a.model !== b.model || a.tempC !== b.tempC || Math.abs(a.load1 - b.load1) >= 0.5;
}

/**
 * This host's facts: the quick ones at once, the slow ones (model, temperature) once at a random
 * time within factsJitterMs, load and temperature every factsIntervalMs. A change worth telling
 * calls `onChange`.
 */
export class FactsWatch {
  current: Facts;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly source: FactsProvider, private readonly t: Pick<AgentConfig['timings'], 'factsIntervalMs' | 'factsJitterMs'>, private readonly log: Logger) {
    this.current = { model: 'unknown', arch: process.arch, cores: 1, memMB: 0, tempC: null, load1: 0 };
  }

  start(onChange: () => void): void {
    this.current = this.source.initial();
    const refresh = async (read: () => Promise<Facts>) => {
      const f = await read().catch((err) => {
        this.log.warn({ err: errorMessage(err) }, 'reading host facts failed');
        return null;
      });
      if (!f || this.stopped) return;
      const changed = factsChanged(f, this.current);
      this.current = f;
      if (changed) onChange();
    };
    this.timers.push(setInterval(() => void refresh(() => this.source.refresh()), this.t.factsIntervalMs));
    this.timers.push(setTimeout(() => void refresh(() => this.source.enrich()), Math.floor(Math.random() * this.t.factsJitterMs)));
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }
}
