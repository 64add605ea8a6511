import type { AgentEvent } from '../contract/status.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

/** What the agent noticed, in order: the last `size` events, each logged as it happens. */
export class EventLog {
  private readonly events: AgentEvent[] = [];

  constructor(private readonly clock: Clock, private readonly log: Logger, private readonly size = 100) {}

  record(name: string, fields: Record<string, unknown>): void {
    this.events.push({ ts: this.clock.now(), name, fields });
    if (this.events.length > this.size) this.events.shift();
    const level = name === 'duplicate-host-name' ? 'error' : 'info';
    this.log[level]({ event: name, ...fields }, name);
  }

  recent(n: number): AgentEvent[] {
    return this.events.slice(-n);
  }
}
