import type { AgentStatus } from '../contract/status.js';

/** What the metrics read: the status document, and the failovers the timeline measured. */
export interface MetricsSource {
  status(): AgentStatus;
  failovers(): { total: number; lastMs: number | null };
}

type PromClient = typeof import('prom-client');

/**
 * Prometheus metrics (prom-client), in the text format at GET /metrics. Named as Prometheus
 * documents it: base units (seconds), `_total` for counters, labels of low cardinality only
 * (a reason, an interface). The registry, and Node's default process metrics with it, is built
 * on the first scrape: an agent nobody scrapes loads none of it.
 */
export class Metrics {
  private registry: Promise<import('prom-client').Registry> | null = null;

  constructor(private readonly source: MetricsSource) {}

  async render(): Promise<{ contentType: string; body: string }> {
    this.registry ??= import('prom-client').then((p) => build(p, this.source));
    const r = await this.registry;
    return { contentType: r.contentType, body: await r.metrics() };
  }
}

function build(p: PromClient, src: MetricsSource) {
  const register = new p.Registry();
  p.collectDefaultMetrics({ register });
  const gauge = (name: string, help: string, value: (s: AgentStatus) => number) =>
    new p.Gauge({
      name,
      help,
      registers: [register],
      collect() {
        this.set(value(src.status()));
      },
    });
  const isCcpHost = (s: AgentStatus) => s.ccp.role === 'server' && s.cluster.ccp?.host === s.host;
  gauge('infravisor_up', 'The agent runs (always 1 when scraped).', () => 1);
  new p.Gauge({
    name: 'infravisor_build_info',
    help: 'The agent\'s release, as a label (always 1).',
    labelNames: ['version'],
    registers: [register],
    collect() {
      this.reset();
      this.set({ version: src.status().version }, 1);
    },
  });
  gauge('infravisor_is_primary', 'This host is the primary of its cluster.', (s) => (s.role === 'primary' ? 1 : 0));
  gauge('infravisor_is_ccp_host', 'This host runs its cluster\'s CCP server.', (s) => (isCcpHost(s) ? 1 : 0));
  gauge('infravisor_cluster_members', 'Members of this host\'s cluster (its view), itself included.', (s) => s.cluster.members.length);
  gauge('infravisor_ccp_ready', 'The cluster\'s CCP answers ready, as this host knows.', (s) => (s.cluster.ccp?.ready ? 1 : 0));
  gauge('infravisor_vip_held', 'This host holds the cluster\'s virtual address.', (s) => (s.ccp.vip ? 1 : 0));
  gauge('infravisor_ccp_ready_nodes', 'On the CCP host: the nodes its API lists as Ready (NaN elsewhere, or not read yet).', (s) => (s.ccp.nodes ? s.ccp.nodes.filter((n) => n.ready).length : NaN));
  gauge('infravisor_term', 'The election term of the claim this host follows.', (s) => s.cluster.term);
  gauge('infravisor_isolated', 'This host\'s own link is down.', (s) => (s.isolated ? 1 : 0));
  gauge('infravisor_host_load1', 'The host\'s 1-minute load average, as its agent last read it.', (s) => s.facts.load1);
  gauge('infravisor_host_temperature_celsius', 'The CPU temperature, as its agent last read it (NaN without a sensor).', (s) => s.facts.tempC ?? NaN);
  gauge('infravisor_heartbeat_peers_dead', 'Watched peers whose heartbeats stopped.', (s) => s.liveness.peers.filter((x) => x.state === 'down').length);
  new p.Counter({
    name: 'infravisor_failovers_total',
    help: 'Failovers this host saw complete: a CCP lost, another one ready.',
    registers: [register],
    collect() {
      this.reset();
      this.inc(src.failovers().total);
    },
  });
  new p.Gauge({
    name: 'infravisor_last_failover_seconds',
    help: 'How long the last failover took, from the lost CCP host\'s last heartbeat to the new CCP ready (NaN: none yet).',
    registers: [register],
    collect() {
      const ms = src.failovers().lastMs;
      this.set(ms === null ? Number.NaN : ms / 1000);
    },
  });
  const byLabel = (name: string, help: string, label: string, values: (s: AgentStatus) => Record<string, number>) =>
    new p.Counter({
      name,
      help,
      labelNames: [label],
      registers: [register],
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(values(src.status()))) this.inc({ [label]: k }, v);
      },
    });
  byLabel('infravisor_dropped_messages_total', 'MQTT messages dropped, by reason.', 'reason', (s) => ({ ...s.dropped }));
  byLabel('infravisor_heartbeats_dropped_total', 'Heartbeat datagrams dropped, by reason.', 'reason', (s) => ({ ...s.liveness.dropped }));
  byLabel('infravisor_broker_refused_total', 'What the embedded broker refused, by what.', 'what', (s) => ({
    connect: s.broker.refusedConnects,
    publish: s.broker.refusedPublishes,
    subscribe: s.broker.refusedSubscribes,
    handshake: s.broker.failedHandshakes,
    turned_away: s.broker.turnedAway,
    framing: s.broker.framingViolations,
  }));
  new p.Gauge({
    name: 'infravisor_link_carrier',
    help: 'Carrier of the watched cluster-facing interface.',
    labelNames: ['interface'],
    registers: [register],
    collect() {
      this.reset();
      const l = src.status().link;
      if (l) this.set({ interface: l.ifname }, l.carrier ? 1 : 0);
    },
  });
  return register;
}
