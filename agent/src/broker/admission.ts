/**
 * Who may start a TLS handshake with the broker, pure with time passed in: at most
 * `maxHandshakes` connections may be in their handshake at once, and a source address whose
 * handshakes failed `maxFailures` times within `windowMs` is turned away for `banMs`. Failed
 * connects are reported (with their source) at most once per `windowMs` per source.
 */
export interface AdmissionLimits {
  maxHandshakes: number;
  maxFailures: number;
  windowMs: number;
  banMs: number;
}

export class Admission {
  private handshaking = 0;
  private readonly failures = new Map<string, { times: number[]; bannedUntil: number; reportedAt: number; suppressed: number }>();

  constructor(private readonly l: AdmissionLimits) {}

  /** A new connection from `source`: may it start its handshake? */
  admit(now: number, source: string): 'ok' | 'busy' | 'banned' {
    if ((this.failures.get(source)?.bannedUntil ?? 0) > now) return 'banned';
    if (this.handshaking >= this.l.maxHandshakes) return 'busy';
    this.handshaking++;
    return 'ok';
  }

  /** An admitted handshake ended (either way). */
  done(): void {
    this.handshaking = Math.max(0, this.handshaking - 1);
  }

  /** A handshake from `source` failed; returns whether to log it now (and how many were not). */
  failed(now: number, source: string): { log: boolean; suppressed: number; banned: boolean } {
    let f = this.failures.get(source);
    if (!f) {
      if (this.failures.size > 4096) this.failures.clear();
      f = { times: [], bannedUntil: 0, reportedAt: -Infinity, suppressed: 0 };
      this.failures.set(source, f);
    }
    f.times = f.times.filter((t) => now - t < this.l.windowMs);
    f.times.push(now);
    const banned = f.times.length >= this.l.maxFailures;
    if (banned) f.bannedUntil = now + this.l.banMs;
    if (now - f.reportedAt >= this.l.windowMs) {
      const suppressed = f.suppressed;
      f.reportedAt = now;
      f.suppressed = 0;
      return { log: true, suppressed, banned };
    }
    f.suppressed++;
    return { log: false, suppressed: f.suppressed, banned };
  }

  get inHandshake(): number {
    return this.handshaking;
  }
}
