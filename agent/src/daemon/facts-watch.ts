import type { AgentConfig } from '../config/load.js';
import type { Facts } from '../contract/index.js';
import type { FactsProvider } from '../facts/facts.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';

/**
 * Whether new facts are worth a presence, which every member receives and checks: what ranks or
 * identifies a host (model, cores, memory, architecture), a temperature sensor found or lost, or
 * a large move — temperature by 5 °C, load by 1 and by half. Load and temperature wander by the
 * minute (a Pi's sensor by ±0.5 °C at rest); their current values are in the status document and
 * /metrics (infravisor_host_load1, infravisor_host_temperature_celsius), and ride along with the
 * next presence that goes for another reason.
 */
export function factsChanged(a: Facts, b: Facts): boolean {
  if (a.model !== b.model || a.arch !== b.arch || a.cores !== b.cores || a.memMB !== b.memMB) return true;
  if ((a.tempC === null) !== (b.tempC === null)) return true;
  if (a.tempC !== null && b.tempC !== null && Math.abs(a.tempC - b.tempC) >= 5) return true;
  const dl = Math.abs(a.load1 - b.load1);
  return dl >= 1 && dl >= Math.max(a.load1, b.load1) / 2;
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
