import type { LinkEvent, LinkWatcher } from './types.js';

/** A watcher for unit tests: links are set by the test, events delivered synchronously. */
export class MockLinkWatcher implements LinkWatcher {
  readonly backend = 'mock' as const;
  private links = new Map<string, LinkEvent>();
  private onEvents: ((e: LinkEvent[]) => void) | null = null;
  constructor(initial: Partial<LinkEvent>[] = [{ ifname: 'eth0' }]) {
    initial.forEach((l, i) => {
      const ev = { ...MockLinkWatcher.link(l.ifname ?? `eth${i}`, i + 2), ...l };
      this.links.set(ev.ifname!, ev);
    });
  }

  static link(ifname: string, ifindex: number): LinkEvent {
    return { ts: 0, kind: 'dump', ifindex, ifname, flags: 0x11043, up: true, carrier: true, operstate: 'up', changes: 0, mtu: 1500, mac: '02:00:00:00:00:01' };
  }

  start(onEvents: (events: LinkEvent[]) => void): void {
    this.onEvents = onEvents;
    const now = Date.now();
    onEvents([...this.links.values()].map((l) => ({ ...l, ts: now, kind: 'dump' })));
  }

  /** Changes a link as the kernel would report it. */
  set(ifname: string, change: Partial<Pick<LinkEvent, 'up' | 'carrier'>>): void {
    const cur = this.links.get(ifname);
    if (!cur) throw new Error(`mock: no link ${ifname}`);
    const carrier = change.carrier ?? cur.carrier;
    const up = change.up ?? cur.up;
    const next: LinkEvent = {
      ...cur,
      ...change,
      ts: Date.now(),
      kind: 'new',
      operstate: up && carrier ? 'up' : 'down',
      changes: (cur.changes ?? 0) + (carrier !== cur.carrier ? 1 : 0),
    };
    this.links.set(ifname, next);
    this.onEvents?.([next]);
  }

  close(): void {
    this.onEvents = null;
  }
}
