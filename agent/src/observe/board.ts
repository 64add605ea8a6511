import type { AgentEvent, AgentStatus } from '../contract/status.js';

/**
 * What the web page shows (agent/ui/app.js renders it; the same page serves an agent's own
 * view and the lab's): hosts with their link and role, clusters as groups with their CCP, and a
 * timeline. Pure projections of the status documents.
 */
export type BoardRole = 'primary' | 'ccp-host' | 'follower' | 'excluded' | 'cut-off' | 'away' | 'stopped';

export interface BoardHost {
  name: string;
  address: string;
  role: BoardRole;
  /** null: not known (not watched, or not reported). */
  carrier: boolean | null;
  /** The cluster it is in, as BoardCluster.id; null: none known. */
  cluster: string | null;
  /** Lab only: the cable at the switch, and whether its agent runs. */
  cable?: 'in' | 'out';
  agent?: 'running' | 'stopped';
}

export interface BoardCluster {
  id: string;
  members: string[];
  primary: string | null;
  term: number;
  ccp: { host: string; generation: number; ready: boolean } | null;
}

export interface BoardEvent {
  ts: number;
  host: string;
  name: string;
  fields: Record<string, unknown>;
}

export interface BoardModel {
  mode: 'agent' | 'lab';
  title: string;
  hosts: BoardHost[];
  clusters: BoardCluster[];
  events: BoardEvent[];
}

/** The role of `host` in an agent's status. */
export function roleIn(s: AgentStatus, host: string): BoardRole {
  const inView = s.cluster.members.includes(host);
  if (host === s.host && s.isolated) return 'cut-off';
  if (!inView) return host === s.host ? 'follower' : 'away';
  if (s.election.excluded.includes(host)) return 'excluded';
  if (s.cluster.primary === host) return 'primary';
  if (s.cluster.ccp?.host === host) return 'ccp-host';
  return 'follower';
}

export function clusterOf(s: AgentStatus): BoardCluster | null {
  if (!s.cluster.id) return null;
  const c = s.cluster.ccp;
  return { id: s.cluster.id, members: s.cluster.members, primary: s.cluster.primary, term: s.cluster.term, ccp: c ? { host: c.host, generation: c.generation, ready: c.ready } : null };
}

export const boardEvents = (host: string, events: AgentEvent[]): BoardEvent[] => events.map((e) => ({ ts: e.ts, host, name: e.name, fields: e.fields }));

/** One agent's page: its cluster, and every host it knows. */
export function agentBoard(s: AgentStatus): BoardModel {
  const cluster = clusterOf(s);
  const self: BoardHost = { name: s.host, address: s.address, role: roleIn(s, s.host), carrier: s.link ? s.link.carrier : null, cluster: cluster?.id ?? null };
  const others: BoardHost[] = s.members.map((m) => ({ name: m.host, address: m.address, role: roleIn(s, m.host), carrier: m.carrier, cluster: cluster && s.cluster.members.includes(m.host) ? cluster.id : null }));
  return { mode: 'agent', title: `${s.host} in ${s.cluster.name}`, hosts: [self, ...others].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })), clusters: cluster ? [cluster] : [], events: boardEvents(s.host, s.events) };
}
