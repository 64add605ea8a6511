import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { Agent } from '../daemon/agent.js';
import { Identity } from '../trust/identity.js';
import { startCpuProfile } from '../util/profile.js';
import { errorMessage } from '../util/errors.js';

/** `infravisor agent --config FILE`: validate, start, run until SIGTERM/SIGINT. */
export async function runAgent(file: string): Promise<void> {
  const cfg = loadConfig(file); // throws ConfigError (exit 2) before anything starts
  const identity = Identity.load(cfg.tls, { name: cfg.host.name }, file); // likewise
  const log = createLogger({ level: cfg.logLevel, host: cfg.host.name });
  for (const w of cfg.warnings) log.warn(w);
  const agent = new Agent(cfg, { log, identity });
  const profile = await startCpuProfile(process.env.INFRAVISOR_CPU_PROFILE, `agent-${cfg.host.name}`, cfg.host.name);
  let exitCode = 0;
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'stopping');
    try {
      await agent.stop();
      await profile?.();
    } catch (err) {
      exitCode = 1;
      log.error({ err: errorMessage(err) }, 'error while stopping');
    }
    log.flush();
    process.exit(exitCode);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'agent failed to start');
    await agent.stop().catch(() => {});
    log.flush();
    throw err;
  }
}
