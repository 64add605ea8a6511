import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { announceDue, type VipPort } from './vip.js';

export interface VipHolderOptions {
  port?: VipPort;
  /** The address this host should hold now: the configured one while it runs the CCP server, else null. */
  wanted: () => string | null;
  /** The configured address, whatever this host runs (given up before a follow, also after a restart). */
  configured: () => string | null;
  ownAddresses: readonly string[];
  clock: Clock;
  timings: { vipAnnounceMs: number };
  log: Logger;
  onEvent?: (name: string, fields: Record<string, unknown>) => void;
}

/**
 * The cluster's virtual address on this host (docs/ccp.md, "The cluster's virtual address"):
 * takes and gives it up one operation at a time, announces it on announceDue's schedule, holds
 * the announcements back while a merge is contested, and on a member forgets the neighbour
 * entry when the CCP moves. The CCP controller says when.
 */
export class VipHolder {
  private held: { address: string; since: number; last: number; contested: boolean } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private lastSync = -Infinity;

  constructor(private readonly o: VipHolderOptions) {}

  /** The address this host holds (null: none). */
  get address(): string | null {
    return this.held?.address ?? null;
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Holds the wanted address (and gives up one no longer wanted). */
  take(): Promise<void> {
    return this.serial(() => this.takeNow());
  }

  /** Gives the address up: the one held and the configured one (a restarted agent may not know it held it). */
  giveUp(): Promise<void> {
    return this.serial(() => this.giveUpNow());
  }

  private async takeNow(): Promise<void> {
    const want = this.o.wanted();
    if (this.held && this.held.address !== want) await this.giveUpNow();
    if (!want || this.held || !this.o.port) return;
    if (this.o.ownAddresses.includes(want)) throw new Error(`the cluster address ${want} is this host's own address; choose a free one on the hosts' subnet for vip.address`);
    await this.o.port.hold(want);
    const now = this.o.clock.now();
    this.held = { address: want, since: now, last: now, contested: false };
    this.o.log.info({ address: want }, 'holding the cluster address');
    this.o.onEvent?.('vip-held', { address: want });
    await this.o.port.announce(want).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'could not announce the cluster address'));
  }

  private async giveUpNow(): Promise<void> {
    if (!this.o.port) return;
    const held = this.held?.address ?? null;
    if (held) await this.o.port.release(held); // must go: a failure is retried with the follow
    const configured = this.o.configured();
    // The configured one too, in case a previous process held it; that may fail (the interface
    // not found while the cable is out) without holding the follow back.
    if (configured && configured !== held) await this.o.port.release(configured).catch((err) => this.o.log.warn({ err: errorMessage(err), address: configured }, 'could not make sure the cluster address is not held here'));
    if (this.held) {
      this.o.log.info({ address: this.held.address }, 'gave up the cluster address');
      this.o.onEvent?.('vip-released', { address: this.held.address });
    }
    this.held = null;
  }

  /**
   * At each probe of a ready server: announce when due — not while the merge is `contested`
   * (members of the view follow another CCP), and at once, with a new burst, when it no longer
   * is. An address wanted but not held (configured later, or refused) is tried again at most
   * every vipAnnounceMs.
   */
  tick(contested: boolean): void {
    const held = this.held;
    const now = this.o.clock.now();
    const want = this.o.wanted();
    if (!held || held.address !== want) {
      if ((held || want) && now - this.lastSync >= this.o.timings.vipAnnounceMs) {
        this.lastSync = now;
        void this.take().catch((err) => this.o.log.error({ err: errorMessage(err) }, 'could not take the cluster address'));
      }
      return;
    }
    if (contested) {
      held.contested = true;
      return;
    }
    if (held.contested) {
      held.contested = false;
      held.since = now;
    } else if (!announceDue(now, held, this.o.timings)) return;
    held.last = now;
    void this.o.port?.announce(held.address).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'could not announce the cluster address'));
  }

  /**
   * A member whose CCP moved: its neighbour entry names the old holder. Forgotten, so that the
   * k3s agent's next packet asks who holds the address now — and once more 1.5 s later, in
   * case the loser of a merge still answered.
   */
  async forgetNeighbour(address: string): Promise<void> {
    const port = this.o.port;
    if (!port) return;
    await port.forget(address).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'could not forget the cluster address'));
    setTimeout(() => void port.forget(address).catch(() => undefined), 1500).unref();
  }
}
