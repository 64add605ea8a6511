import { readFileSync } from 'node:fs';
import { arch, availableParallelism, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { Facts } from '../contract/index.js';
import { StateFile } from '../state/atomic-file.js';

/**
 * Host facts. The keys that rank hosts (cores, memory) come from the kernel through node:os
 * at once, so an agent can join before anything else is known. Model and CPU temperature
 * come from systeminformation, read in the background after start (its probes fork tools
 * such as dmidecode and lscpu, which on a busy or small host take a while), and the static
 * part is cached per boot in the state directory. A host without a temperature sensor is
 * not asked again.
 */
export interface FactsProvider {
  initial(): Facts;
  enrich(): Promise<Facts>;
  refresh(): Promise<Facts>;
}

const CacheSchema = z.object({ bootId: z.string(), model: z.string(), hasSensor: z.boolean() });

async function bounded<T>(p: Promise<T>, fallback: T, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((res) => {
    timer = setTimeout(() => res(fallback), ms);
  });
  try {
    return await Promise.race([p.catch(() => fallback), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export class FactsSource implements FactsProvider {
  private model = 'unknown';
  private hasSensor: boolean | null = null;
  private tempC: number | null = null;
  private readonly cache: StateFile<z.infer<typeof CacheSchema>> | null;

  constructor(stateDir?: string) {
    this.cache = stateDir ? new StateFile(join(stateDir, 'facts.json'), 'infravisor.facts', 1, (b) => CacheSchema.parse(b)) : null;
    try {
      const c = this.cache?.read();
      if (c && c.bootId === bootId()) {
        this.model = c.model;
        this.hasSensor = c.hasSensor;
      }
    } catch {
      /* a corrupt cache is moved aside by StateFile and rebuilt */
    }
  }

  initial(): Facts {
    return { model: this.model, arch: arch(), cores: availableParallelism(), memMB: Math.round(totalmem() / 1048576), tempC: this.tempC, load1: round2(loadavg()[0] ?? 0) };
  }

  async enrich(): Promise<Facts> {
    const si = (await import('systeminformation')).default;
    if (this.model === 'unknown' || this.hasSensor === null) {
      const [system, cpu] = await Promise.all([bounded(si.system(), null), bounded(si.cpu(), null)]);
      const model = [system?.manufacturer, system?.model].filter((s) => s && s !== 'Default string').join(' ').trim();
      this.model = (model || cpu?.brand || 'unknown').slice(0, 200);
      await this.readTemperature();
      try {
        this.cache?.write({ bootId: bootId(), model: this.model, hasSensor: this.hasSensor ?? false });
      } catch {
        /* the cache is an optimisation */
      }
    } else {
      await this.readTemperature();
    }
    return this.initial();
  }

  async refresh(): Promise<Facts> {
    if (this.hasSensor) await this.readTemperature();
    return this.initial();
  }

  private async readTemperature(): Promise<void> {
    if (this.hasSensor === false) return;
    const si = (await import('systeminformation')).default;
    const t = await bounded(si.cpuTemperature(), null);
    const main = t?.main;
    const ok = typeof main === 'number' && Number.isFinite(main) && main > -100;
    this.hasSensor = ok;
    this.tempC = ok ? main : null;
  }
}
