import type { AgentConfig } from '../config/load.js';
import { assignmentKey, type CcpAssignment, type MemberCard } from '../contract/index.js';
import { probeDeadline, probeDue } from '../election/reach.js';
import type { Clock } from '../util/clock.js';

export interface CcpProbePorts {
  /** The CCP this host runs or follows. */
  assignment(): CcpAssignment | null;
  /** Whether all is calm (see election/reach.ts probeDue), and the card of the CCP host while it is out of this view. */
  situation(a: CcpAssignment): { calm: boolean; outOfView: MemberCard | null; contested?: boolean; dead?: boolean };
  probeCcp(a: CcpAssignment, contested: boolean, timeoutMs: number): Promise<boolean | null>;
  probeAgent(card: MemberCard): Promise<boolean>;
  onReach(key: string, ok: boolean | null, now: number): void;
  onAgentProbe(host: string, ok: boolean, now: number): void;
}

/**
 * Probes the CCP this host runs or follows, and its host's agent while that host is out of the
 * view, when election/reach.ts `probeDue` says so. Checked every ccpFastProbeMs.
 */
export class CcpProbeLoop {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private lastCalmProbe = -Infinity;

  /** A probe with the short deadline (the CCP host is silent), which does not wait for a long one in flight. */
  private deadInFlight = false;

  constructor(private readonly t: Pick<AgentConfig['timings'], 'ccpProbeMs' | 'ccpFastProbeMs' | 'ccpProbeTimeoutMs' | 'ccpDeadProbeTimeoutMs'>, private readonly clock: Clock, private readonly p: CcpProbePorts) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.t.ccpFastProbeMs);
    this.timer.unref();
  }

  check(): void {
    const a = this.p.assignment();
    if (!a) return;
    const now = this.clock.now();
    const { calm, outOfView, contested = false, dead = false } = this.p.situation(a);
    const deadline = probeDeadline(dead, this.t);
    if (deadline.dead && this.inFlight && !this.deadInFlight) {
      this.deadInFlight = true;
      void this.p
        .probeCcp(a, contested, deadline.timeoutMs)
        .then((ok) => this.p.onReach(assignmentKey(a), ok, this.clock.now()))
        .catch(() => undefined) // a probe that throws is no verdict; it must not end the process
        .finally(() => (this.deadInFlight = false));
      return;
    }
    if (!probeDue(now, { inFlight: this.inFlight || this.deadInFlight, calm, lastCalmProbe: this.lastCalmProbe }, this.t)) return;
    if (calm) this.lastCalmProbe = now;
    this.inFlight = true;
    void Promise.all([
      this.p.probeCcp(a, contested, deadline.timeoutMs).then((ok) => this.p.onReach(assignmentKey(a), ok, this.clock.now())),
      outOfView ? this.p.probeAgent(outOfView).then((ok) => this.p.onAgentProbe(a.host, ok, this.clock.now())) : undefined,
    ])
      .catch(() => undefined)
      .finally(() => (this.inFlight = false));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
