import type { AgentConfig } from '../config/load.js';
import { assignmentKey, type CcpAssignment, type MemberCard } from '../contract/index.js';
import { probeDeadline, probeDue } from '../election/reach.js';
import type { Clock } from '../util/clock.js';

export interface CcpProbePorts {
  /** The CCP this host runs or follows. */
  assignment(): CcpAssignment | null;
  /** Whether all is calm (see election/reach.ts probeDue), and the card of the CCP host while it is out of this view. */
  situation(a: CcpAssignment): { calm: boolean; outOfView: MemberCard | null; contested?: boolean; dead?: boolean; untilDeadMs?: number | null };
  probeCcp(a: CcpAssignment, contested: boolean, timeoutMs: number): Promise<boolean | null>;
  probeAgent(card: MemberCard): Promise<boolean>;
  onReach(key: string, ok: boolean | null, now: number): void;
  /** A probe of the CCP `key` starts (its answer goes to onReach). */
  onProbeStart?(key: string, now: number): void;
  onAgentProbe(host: string, ok: boolean, now: number): void;
}

/**
 * Probes the CCP this host runs or follows, and its host's agent while that host is out of the
 * view, when election/reach.ts `probeDue` says so. Checked every ccpFastProbeMs.
 */
export class CcpProbeLoop {
  private timer: NodeJS.Timeout | null = null;
  /** The probe in flight, and the assignment it was started for (see busy). */
  private inFlight: { key: string } | null = null;
  private lastCalmProbe = -Infinity;

  /** A probe with the short deadline (the CCP host is silent), which does not wait for a long one in flight. */
  private deadInFlight: { key: string } | null = null;

  constructor(private readonly t: Pick<AgentConfig['timings'], 'ccpProbeMs' | 'ccpFastProbeMs' | 'ccpProbeTimeoutMs' | 'ccpDeadProbeTimeoutMs'>, private readonly clock: Clock, private readonly p: CcpProbePorts) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.t.ccpFastProbeMs);
    this.timer.unref();
  }

  /**
   * A probe in flight counts only for the assignment it was started for: when the CCP moves
   * (this host now runs it, or follows another), the new one is probed at once rather than
   * after the old one's deadline (up to ccpProbeTimeoutMs: most of a new server's readiness
   * showing, measured). The old probe's answer, when it comes, is about a CCP no longer
   * assigned: it is dropped.
   */
  private busy(slot: { key: string } | null, key: string): boolean {
    return slot !== null && slot.key === key;
  }

  private report(key: string, ok: boolean | null): void {
    const a = this.p.assignment();
    if (a && assignmentKey(a) === key) this.p.onReach(key, ok, this.clock.now());
  }

  check(): void {
    const a = this.p.assignment();
    if (!a) return;
    const key = assignmentKey(a);
    const now = this.clock.now();
    const { calm, outOfView, contested = false, dead = false, untilDeadMs = null } = this.p.situation(a);
    const deadline = probeDeadline(dead, this.t, untilDeadMs);
    if (deadline.dead && this.busy(this.inFlight, key) && !this.busy(this.deadInFlight, key)) {
      const slot = { key };
      this.deadInFlight = slot;
      this.p.onProbeStart?.(key, now);
      void this.p
        .probeCcp(a, contested, deadline.timeoutMs)
        .then((ok) => this.report(key, ok))
        .catch(() => undefined) // a probe that throws is no verdict; it must not end the process
        .finally(() => {
          if (this.deadInFlight === slot) this.deadInFlight = null;
        });
      return;
    }
    if (!probeDue(now, { inFlight: this.busy(this.inFlight, key) || this.busy(this.deadInFlight, key), calm, lastCalmProbe: this.lastCalmProbe }, this.t)) return;
    if (calm) this.lastCalmProbe = now;
    const slot = { key };
    this.inFlight = slot;
    this.p.onProbeStart?.(key, now);
    void Promise.all([
      this.p.probeCcp(a, contested, deadline.timeoutMs).then((ok) => this.report(key, ok)),
      outOfView ? this.p.probeAgent(outOfView).then((ok) => this.p.onAgentProbe(a.host, ok, this.clock.now())) : undefined,
    ])
      .catch(() => undefined)
      .finally(() => {
        if (this.inFlight === slot) this.inFlight = null;
      });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
