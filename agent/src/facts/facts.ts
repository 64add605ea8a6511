import { arch, loadavg } from 'node:os';
import si from 'systeminformation';
import type { Facts } from '../contract/index.js';

/**
 * Host facts from systeminformation: model, cores, memory and CPU temperature (null where
 * the hardware has no sensor). The static part is read once; load and temperature are
 * re-read on refresh. Each probe is bounded so a slow system tool cannot stall the agent.
 */
async function bounded<T>(p: Promise<T>, fallback: T, ms = 3000): Promise<T> {
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

export class FactsSource {
  private static_: Omit<Facts, 'tempC' | 'load1'> | null = null;

  async read(): Promise<Facts> {
    if (!this.static_) {
      const [system, cpu, mem] = await Promise.all([
        bounded(si.system(), null),
        bounded(si.cpu(), null),
        bounded(si.mem(), null),
      ]);
      const model = [system?.manufacturer, system?.model].filter((s) => s && s !== 'Default string').join(' ').trim();
      this.static_ = {
        model: (model || cpu?.brand || 'unknown').slice(0, 200),
        arch: arch(),
        cores: Math.max(1, cpu?.cores ?? 1),
        memMB: Math.round((mem?.total ?? 0) / 1048576),
      };
    }
    const temp = await bounded(si.cpuTemperature(), null);
    const main = temp?.main;
    return {
      ...this.static_,
      tempC: typeof main === 'number' && Number.isFinite(main) && main > -100 ? main : null,
      load1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    };
  }
}
