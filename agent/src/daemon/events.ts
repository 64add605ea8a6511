import type { AgentEvent } from '../contract/status.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

/** What the agent noticed, in order: the last `size` events, each logged as it happens. */
export class EventLog {
  private readonly events: AgentEvent[] = [];
  private readonly listeners: ((e: AgentEvent) => void)[] = [];

  constructor(private readonly clock: Clock, private readonly log: Logger, private readonly size = 100) {}

  record(name: string, fields: Record<string, unknown>): void {
    const e = { ts: this.clock.now(), name, fields };
    this.events.push(e);
    if (this.events.length > this.size) this.events.shift();
    const level = name === 'duplicate-host-name' ? 'error' : 'info';
    this.log[level]({ event: name, ...fields }, name);
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.warn({ event: name, err: (err as Error).message }, 'an event listener failed');
      }
    }
  }

  /** Every event from now on, as it is recorded. */
  subscribe(fn: (e: AgentEvent) => void): void {
    this.listeners.push(fn);
  }

  recent(n: number): AgentEvent[] {
    return this.events.slice(-n);
  }
}
