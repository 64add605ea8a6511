import type { Logger } from '../log/logger.js';
import { CommandError, run } from '../util/exec.js';

/**
 * The cluster's virtual address on this host (docs/ccp.md, "The cluster's virtual address"):
 * the CCP host holds it and announces it; a member forgets its neighbour entry for it when the
 * CCP moves, so that its next packet asks who holds it now.
 */
export interface VipPort {
  /** Adds the address to the cluster-facing interface (idempotent). */
  hold(address: string): Promise<void>;
  /** Removes it (idempotent: an address this host does not hold is no error). */
  release(address: string): Promise<void>;
  /** One gratuitous ARP: every neighbour that knows the address learns it is here now. */
  announce(address: string): Promise<void>;
  /** Drops this host's neighbour entry for the address (idempotent). */
  forget(address: string): Promise<void>;
}

/**
 * When the holder announces again (pure): at once when it takes the address, then 1 s, 2 s,
 * 4 s… later, up to every `vipAnnounceMs` (a burst, then a slow refresh, as keepalived repeats
 * its gratuitous ARPs). At a merge both sides' CCP hosts hold the address for a moment, so a
 * holder whose view has members that follow another CCP stays silent (the loser's
 * announcements would draw the winner's members to it), and starts the burst again once every
 * member follows it: the loser has given the address up by then (it does so first).
 */
export function announceDue(now: number, s: { since: number; last: number }, t: { vipAnnounceMs: number }): boolean {
  const gap = Math.min(t.vipAnnounceMs, Math.max(1000, s.last - s.since));
  return now - s.last >= gap;
}

/** iproute2's `ip` and iputils' (or busybox's) `arping`, on one interface. */
export class IpVip implements VipPort {
  private arpingMissing = false;

  /** `wrap` prefixes every command (the tests run them in a network namespace: `ip netns exec NS`). */
  constructor(private readonly iface: () => string | null, private readonly log: Logger, private readonly wrap: (argv: string[]) => string[] = (a) => a) {}

  private dev(): string {
    const d = this.iface();
    if (!d) throw new Error('no interface holds host.address, so the cluster address has nowhere to go; set link.interface');
    return d;
  }

  async hold(address: string): Promise<void> {
    await run(this.wrap(['ip', 'address', 'replace', `${address}/32`, 'dev', this.dev()]));
  }

  async release(address: string): Promise<void> {
    try {
      await run(this.wrap(['ip', 'address', 'del', `${address}/32`, 'dev', this.dev()]));
    } catch (err) {
      // "Cannot assign requested address": not held here.
      if (!(err instanceof CommandError && /Cannot assign requested address|not found/i.test(err.stderr))) throw err;
    }
  }

  async announce(address: string): Promise<void> {
    if (this.arpingMissing) return;
    try {
      // -U: an unsolicited (gratuitous) ARP request; -c 1: one, no waiting for replies.
      await run(this.wrap(['arping', '-q', '-U', '-c', '1', '-I', this.dev(), address]), { timeoutMs: 5000 });
    } catch (err) {
      if (err instanceof CommandError && ((err.code === null && /ENOENT/.test(err.stderr)) || /exec of "arping" failed|arping: not found/.test(err.stderr))) {
        this.arpingMissing = true;
        this.log.warn({ address }, 'arping is not installed (Debian: apt-get install iputils-arping), so the cluster address is not announced: members still find it (they ask again when the CCP moves), other machines only when their ARP entry expires');
        return;
      }
      throw err;
    }
  }

  async forget(address: string): Promise<void> {
    try {
      await run(this.wrap(['ip', 'neigh', 'del', address, 'dev', this.dev()]));
    } catch (err) {
      if (!(err instanceof CommandError && /No such file or directory|not found/i.test(err.stderr))) throw err;
    }
  }
}
