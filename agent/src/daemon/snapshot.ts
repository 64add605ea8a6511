import type { AgentConfig } from '../config/load.js';
import type { AgentStatus, LinkStatus, LivenessStatus } from '../contract/status.js';
import type { DropCounters } from '../contract/codec.js';
import type { CcpController } from '../ccp/controller.js';
import type { ElectionShell } from '../election/shell.js';
import type { MembershipCore } from '../membership/core.js';
import type { EventLog } from './events.js';
import type { FactsWatch } from './facts-watch.js';
import type { PeerWatch } from './peers.js';
import { AGENT_VERSION } from '../util/paths.js';

/** The status document (contract/status.ts), assembled from each part's own section. */
export function snapshot(p: {
  cfg: Pick<AgentConfig, 'cluster' | 'host'>;
  now: number;
  startedAt: number;
  incarnation: number;
  core: MembershipCore;
  election: ElectionShell;
  ccp: CcpController;
  link: { status(): LinkStatus | null };
  facts: FactsWatch;
  broker: { connectedClients: number; counters: AgentStatus['broker'] extends infer B ? Omit<B, 'clients'> : never };
  liveness: { snapshot(): Omit<LivenessStatus, 'unreachable' | 'exclusion'> };
  peers: PeerWatch;
  drops: DropCounters;
  events: EventLog;
}): AgentStatus {
  const core = p.core.snapshot(p.now);
  const el = p.election.snapshot();
  const ccpHost = el.ccp?.host;
  const ready = ccpReady(el.ccp, p.cfg.host.name, { report: p.ccp.report, ready: p.ccp.status.ready }, ccpHost ? p.core.members.get(ccpHost)?.ccp : null);
  return {
    v: 1,
    host: p.cfg.host.name,
    address: p.cfg.host.address,
    version: AGENT_VERSION,
    incarnation: p.incarnation,
    uptimeMs: p.now - p.startedAt,
    rendezvous: core.rendezvous,
    view: core.view,
    members: core.members,
    rankOrder: core.rankOrder,
    isolated: core.isolated,
    link: p.link.status(),
    cluster: {
      name: p.cfg.cluster,
      id: clusterId(p.cfg.cluster, p.cfg.host.name, core.rendezvous, core.view),
      term: el.term,
      primary: el.primary,
      members: core.view,
      ccp: el.ccp ? { ...el.ccp, ready, placement: el.placement } : null,
    },
    role: el.role,
    election: el,
    ccp: p.ccp.status,
    following: p.ccp.status.following,
    facts: p.facts.current,
    broker: { clients: p.broker.connectedClients, ...p.broker.counters },
    liveness: { ...p.liveness.snapshot(), ...p.peers.snapshot() },
    dropped: { ...p.drops },
    events: p.events.recent(20),
  };
}

/**
 * CLUSTER@RENDEZVOUS. A host with no session that sees nobody else (every broker refuses it, its
 * own included: a revoked host) is a cluster of its own, not of the broker it last had.
 */
export function clusterId(cluster: string, self: string, rendezvous: { host: string | null; connected: boolean }, view: readonly string[]): string | null {
  if (!rendezvous.host) return null;
  return `${cluster}@${rendezvous.connected || view.some((h) => h !== self) ? rendezvous.host : self}`;
}

type Report = { role: string; generation: number | null; state: string | null } | null | undefined;

/**
 * Whether the assigned CCP is ready: its generation's server says so — this host's own probe
 * when it is the CCP host, else the CCP host's report. Not a follower's probe result left over
 * on the host just chosen, nor an older generation's report.
 */
export function ccpReady(a: { host: string; generation: number } | null, self: string, own: { report: Report; ready: boolean }, hostReport: Report): boolean {
  if (!a) return false;
  const serving = (r: Report) => r?.role === 'server' && r.generation === a.generation;
  return a.host === self ? serving(own.report) && own.report?.state === 'ready' && own.ready : serving(hostReport) && hostReport?.state === 'ready';
}
