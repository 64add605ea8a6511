/**
 * Coalesces requests: the first request for a key starts a timer of that key's delay, later
 * ones until it fires are absorbed; then the action runs once.
 */
export class Debouncer<K extends string> {
  private readonly pending = new Map<K, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly delays: Record<K, number>) {}

  request(key: K, fn: () => void): void {
    if (this.stopped || this.pending.has(key)) return;
    const t = setTimeout(() => {
      this.pending.delete(key);
      fn();
    }, this.delays[key]);
    t.unref();
    this.pending.set(key, t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }
}

/** A notification without payload: raised by any part, heard by those that subscribed. */
export class Signal {
  private readonly listeners: (() => void)[] = [];
  on(fn: () => void): void {
    this.listeners.push(fn);
  }
  raise = (): void => {
    for (const fn of this.listeners) fn();
  };
}
