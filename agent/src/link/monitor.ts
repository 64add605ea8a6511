import type { LinkStatus } from '../contract/status.js';
import type { LinkEvent } from './types.js';

/**
 * Pure: follows one interface's events and decides when the host counts as cut off.
 * A loss (not up, or no carrier) counts only once it has lasted `graceMs`; a shorter flap is
 * debounced and counted. A return counts at once.
 */
export type LinkDecision = { type: 'link-lost'; reason: string } | { type: 'link-back' };

/** The watched interface as status shows it (contract/status.ts). */
export type LinkState = Omit<LinkStatus, 'backend'>;

export class LinkMonitor {
  readonly state: LinkState;
  private lossStartedAt: number | null = null;

  constructor(ifname: string, private readonly graceMs: number) {
    this.state = { ifname, known: false, up: true, carrier: true, operstate: 'unknown', since: null, lost: false, flapsDebounced: 0 };
  }

  onEvents(now: number, events: LinkEvent[]): LinkDecision[] {
    const out: LinkDecision[] = [];
    for (const e of events) {
      if (e.ifname !== this.state.ifname) continue;
      const usableBefore = this.state.up && this.state.carrier;
      const up = e.kind !== 'del' && e.up;
      const carrier = e.kind !== 'del' && e.carrier;
      if (this.state.known && up === this.state.up && carrier === this.state.carrier) continue;
      Object.assign(this.state, { known: true, up, carrier, operstate: e.kind === 'del' ? 'deleted' : e.operstate, since: now });
      const usable = up && carrier;
      if (usable && !usableBefore) {
        if (this.state.lost) {
          this.state.lost = false;
          out.push({ type: 'link-back' });
        } else if (this.lossStartedAt !== null) {
          this.state.flapsDebounced++;
        }
        this.lossStartedAt = null;
      } else if (!usable && (usableBefore || !this.state.lost) && this.lossStartedAt === null) {
        this.lossStartedAt = now;
      }
    }
    return [...out, ...this.tick(now)];
  }

  /** When a loss now under way will count, if one is (for a precise timer in the shell). */
  get lossMaturesAt(): number | null {
    return this.lossStartedAt === null || this.state.lost ? null : this.lossStartedAt + this.graceMs;
  }

  tick(now: number): LinkDecision[] {
    if (this.lossStartedAt === null || this.state.lost || now - this.lossStartedAt < this.graceMs) return [];
    this.state.lost = true;
    this.lossStartedAt = null;
    const reason = !this.state.up ? `${this.state.ifname} is administratively down` : `${this.state.ifname} has no carrier`;
    return [{ type: 'link-lost', reason }];
  }
}
