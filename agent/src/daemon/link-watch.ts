import { networkInterfaces } from 'node:os';
import type { AgentConfig } from '../config/load.js';
import type { LinkStatus } from '../contract/status.js';
import { LinkMonitor, type LinkDecision } from '../link/monitor.js';
import type { LinkWatcher } from '../link/types.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

/** The interface that holds `address`: the cluster-facing one. */
export function interfaceOf(address: string): string | null {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.address === address)) return name;
  }
  return null;
}

/**
 * This host's own cluster-facing link (link/): netlink events go through the pure LinkMonitor,
 * whose decisions (lost after the grace, back at once) go to `onDecision`.
 */
export class LinkWatch {
  private link: { watcher: LinkWatcher; monitor: LinkMonitor } | null = null;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly o: { link: AgentConfig['link']; address: string; clock: Clock; log: Logger; watcher?: LinkWatcher | null },
    private readonly onDecision: (d: LinkDecision) => void,
  ) {}

  async start(): Promise<void> {
    if (this.o.link.backend === 'off' || this.o.watcher === null) return;
    const ifname = this.o.link.interface ?? interfaceOf(this.o.address);
    if (!ifname) {
      this.o.log.warn({ address: this.o.address }, 'no interface holds host.address; link watching is off (set link.interface)');
      return;
    }
    let watcher = this.o.watcher;
    if (!watcher) {
      const { createLinkWatcher } = await import('../link/factory.js');
      watcher = await createLinkWatcher(this.o.link.backend, this.o.log);
    }
    const monitor = new LinkMonitor(ifname, this.o.link.graceMs);
    this.link = { watcher, monitor };
    watcher.start(
      (events) => {
        this.apply(monitor.onEvents(this.o.clock.now(), events));
        // A loss counts the moment its grace ends, not at the next tick.
        const at = monitor.lossMaturesAt;
        if (at !== null && !this.graceTimer) {
          this.graceTimer = setTimeout(() => {
            this.graceTimer = null;
            this.tick(this.o.clock.now());
          }, Math.max(0, at - this.o.clock.now()) + 1);
        }
      },
      (err) => this.o.log.warn({ err: err.message }, 'link watcher error'),
    );
  }

  tick(now: number): void {
    if (this.link) this.apply(this.link.monitor.tick(now));
  }

  private apply(decisions: LinkDecision[]): void {
    for (const d of decisions) this.onDecision(d);
  }

  status(): LinkStatus | null {
    return this.link ? { backend: this.link.watcher.backend, ...this.link.monitor.state } : null;
  }

  stop(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.link?.watcher.close();
  }
}
