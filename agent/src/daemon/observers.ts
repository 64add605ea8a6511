import type { AgentConfig } from '../config/load.js';
import type { HostState } from '../contract/index.js';
import type { AgentEvent, AgentStatus } from '../contract/status.js';
import type { Logger } from '../log/logger.js';
import { agentBoard, roleIn, type BoardRole } from '../observe/board.js';
import { EventHook } from '../observe/hooks.js';
import { BoardLed, type LedRole } from '../observe/led.js';
import { Metrics } from '../observe/metrics.js';
import { Timeline, type Situation } from '../observe/timeline.js';
import type { StatusServer } from '../status/server.js';
import type { EventLog } from './events.js';
import type { Publisher, PublishSink } from './publisher.js';

/** A host's state for its `state` topic (pure). */
export function hostState(s: AgentStatus, now: number): HostState {
  const r = roleIn(s, s.host);
  const role: HostState['role'] = r === 'primary' || r === 'ccp-host' || r === 'excluded' || r === 'cut-off' ? r : 'follower';
  const c = s.cluster.ccp;
  return { v: 1, cluster: s.cluster.name, host: s.host, role, primary: s.cluster.primary, term: s.cluster.term, members: s.cluster.members, ccp: c ? { host: c.host, generation: c.generation, ready: c.ready } : null, carrier: s.link ? s.link.carrier : null, ts: now };
}

const ledRole = (r: BoardRole): LedRole => (r === 'primary' ? 'primary' : r === 'ccp-host' ? 'ccp-host' : r === 'cut-off' ? 'cut-off' : 'follower');

/**
 * What lets people see the cluster (docs/observability.md): the timeline fed every tick, each
 * event sent to the web view's streams, published on the `event` topic and handed to the hook;
 * the `state` topic republished when it changes; the board LED; the metrics' failover figures.
 * Nothing is computed for a view nobody watches.
 */
export class Observers {
  readonly metrics: Metrics;
  private readonly timeline = new Timeline();
  private readonly led: BoardLed | null;
  private readonly hook: EventHook | null;
  private lastState = '';
  private lastModel = '';
  private failovers = { total: 0, lastMs: null as number | null };

  constructor(
    private readonly o: {
      cfg: Pick<AgentConfig, 'led' | 'hooks' | 'cluster' | 'host'>;
      log: Logger;
      events: EventLog;
      publisher: Publisher;
      session: () => PublishSink | null;
      status: () => AgentStatus;
      situation: () => Situation;
      server: () => StatusServer;
    },
  ) {
    this.metrics = new Metrics({ status: o.status, failovers: () => this.failovers });
    this.led = o.cfg.led.enabled ? BoardLed.at(o.cfg.led.root, o.cfg.led.name, (err) => o.log.warn({ err: err.message, led: o.cfg.led.name }, 'the board LED cannot be set; leaving it alone')) : null;
    const h = o.cfg.hooks.onEvent;
    this.hook = h ? new EventHook(h.command, h.timeoutMs, (msg) => o.log.warn({ hook: h.command[0], msg }, 'hooks.onEvent failed')) : null;
    o.events.subscribe((e) => this.onEvent(e));
  }

  private onEvent(e: AgentEvent): void {
    if (e.name === 'failover') {
      this.failovers = { total: this.failovers.total + 1, lastMs: typeof e.fields.durationMs === 'number' ? e.fields.durationMs : null };
    }
    const msg = { v: 1 as const, cluster: this.o.cfg.cluster, host: this.o.cfg.host.name, name: e.name, fields: e.fields, ts: e.ts };
    void this.o.publisher.publish(this.o.session(), 'event', msg);
    this.hook?.push(msg);
    this.o.server().events.send('event', { ts: e.ts, host: this.o.cfg.host.name, name: e.name, fields: e.fields });
  }

  /** What a new browser stream starts with. */
  initial(): { event: string; data: unknown }[] {
    return [{ event: 'model', data: agentBoard(this.o.status()) }];
  }

  tick(now: number): void {
    for (const e of this.timeline.step(this.o.situation())) this.o.events.record(e.name, e.fields);
    const watching = this.o.server().events.size > 0;
    if (!this.led && !watching && !this.o.session()) return;
    const s = this.o.status();
    const st = hostState(s, now);
    const key = JSON.stringify({ ...st, ts: 0 });
    if (key !== this.lastState && this.o.session()) {
      this.lastState = key;
      void this.o.publisher.publish(this.o.session(), 'state', st);
    }
    this.led?.show(ledRole(roleIn(s, s.host)));
    if (watching) {
      const { events: _e, ...model } = agentBoard(s);
      const m = JSON.stringify(model);
      if (m !== this.lastModel) {
        this.lastModel = m;
        this.o.server().events.send('model', { ...model, events: [] });
      }
    }
  }

  stop(): void {
    this.hook?.stop();
  }
}
