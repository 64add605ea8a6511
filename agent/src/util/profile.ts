import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A CPU profile of this process for benchmarks (`INFRAVISOR_CPU_PROFILE=DIR`, and
 * `INFRAVISOR_CPU_PROFILE_ONLY=h1,h9` to profile some hosts of a lab only, and
 * `INFRAVISOR_CPU_PROFILE_AFTER=MS` to leave out the start: where the idle CPU
 * goes, docs/benchmarks.md): V8's sampling profiler (a sample every 10 ms, light enough not to
 * disturb the heartbeats) through node:inspector, written to DIR/NAME-PID.cpuprofile (Chrome
 * DevTools' format) when `stop` runs. Off unless asked for.
 */
export async function startCpuProfile(dir: string | undefined, name: string, host: string): Promise<(() => Promise<void>) | null> {
  const only = process.env.INFRAVISOR_CPU_PROFILE_ONLY?.split(',');
  if (!dir || (only && !only.includes(host))) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 10_000 });
  // INFRAVISOR_CPU_PROFILE_AFTER=MS: start late, to profile the idle agent without its start.
  const after = Number(process.env.INFRAVISOR_CPU_PROFILE_AFTER ?? 0);
  const started = after > 0 ? new Promise<void>((r) => setTimeout(() => void session.post('Profiler.start').then(() => r()), after).unref()) : session.post('Profiler.start').then(() => undefined);
  return async () => {
    await Promise.race([started, new Promise((r) => setTimeout(r, 10))]);
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
