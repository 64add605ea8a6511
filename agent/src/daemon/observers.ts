import type { AgentConfig } from '../config/load.js';
import type { HostState } from '../contract/index.js';
import type { AgentEvent, AgentStatus } from '../contract/status.js';
import type { Logger } from '../log/logger.js';
import { agentBoard } from '../observe/board.js';
import { EventHook } from '../observe/hooks.js';
import { BoardLed, type LedRole } from '../observe/led.js';
import { Metrics } from '../observe/metrics.js';
import { Timeline, type Situation } from '../observe/timeline.js';
import type { StatusServer } from '../status/server.js';
import type { EventLog } from './events.js';
import type { Publisher, PublishSink } from './publisher.js';

/** What this host is (pure): cut off, excluded, primary, CCP host, or a follower. */
export function selfRole(s: Situation): HostState['role'] {
  if (s.isolated) return 'cut-off';
  if (s.excluded.includes(s.self)) return 'excluded';
  if (s.primary === s.self) return 'primary';
  if (s.ccp?.host === s.self) return 'ccp-host';
  return 'follower';
}

/** A host's state for its `state` topic (pure). */
export function hostState(s: Situation, cluster: string): HostState {
  return { v: 1, cluster, host: s.self, role: selfRole(s), primary: s.primary, term: s.term, members: s.members, ccp: s.ccp, carrier: s.carrier, ts: s.now };
}

const ledRole = (r: HostState['role']): LedRole => (r === 'excluded' ? 'follower' : r);

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

  tick(): void {
    const sit = this.o.situation();
    for (const e of this.timeline.step(sit)) this.o.events.record(e.name, e.fields);
    const st = hostState(sit, this.o.cfg.cluster);
    const key = `${st.role}|${st.primary}|${st.term}|${st.members.join()}|${st.ccp ? `${st.ccp.host}#${st.ccp.generation}${st.ccp.ready}` : ''}|${st.carrier}`;
    if (key !== this.lastState && this.o.session()) {
      this.lastState = key;
      void this.o.publisher.publish(this.o.session(), 'state', st);
    }
    this.led?.show(ledRole(st.role));
    // The page's model only while a page (or the lab's dashboard) watches.
    if (this.o.server().events.size > 0) {
      const { events: _e, ...model } = agentBoard(this.o.status());
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
