import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured, levelled, namespaced logs (pino). One JSON object per line on stdout, which
 * journald and the lab's per-host log files keep as they are. Children carry `ns`.
 * Secrets never reach a log: the paths below are redacted wherever they appear.
 */
export function createLogger(opts: { level?: LevelWithSilent; host?: string; destination?: number } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.host ? { host: opts.host } : {},
      redact: { paths: ['secret', '*.secret', 'password', '*.password', 'token', '*.token'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: opts.destination ?? 1, sync: false }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Lets a repeated condition (a flood of malformed messages, say) reach the log once per
 * interval, with the count of what was suppressed in between.
 */
export class RateLimitedLog {
  private last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  /** Returns the number suppressed since the last emission when this one may be logged, else null. */
  admit(key: string): number | null {
    const t = this.now();
    const entry = this.last.get(key);
    if (!entry || t - entry.at >= this.intervalMs) {
      const suppressed = entry?.suppressed ?? 0;
      this.last.set(key, { at: t, suppressed: 0 });
      return suppressed;
    }
    entry.suppressed += 1;
    return null;
  }
}
