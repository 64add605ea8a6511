import { isReadyNode, type AgentStatus, type CcpNode } from '../contract/status.js';
import type { LabRecord } from './record.js';

/**
 * The `lab status --json` contract (docs/lab.md). Clusters come from the agents' own views;
 * a host whose agent is stopped is in no cluster.
 */
export interface LabHostStatus {
  name: string;
  address: string;
  cable: 'in' | 'out';
  loss: number;
  agent: 'running' | 'stopped';
  pid: number | null;
  following: string | null;
  /** Whether the CCP of its cluster lists it as a Ready node (read from that CCP's API by the agent on the CCP host; null: not known). */
  readyNode: boolean | null;
  ccpRunning: boolean;
  /** Its agent's /metrics, through the lab's dashboard (with the token). */
  metrics: string | null;
  view: AgentStatus | null;
}

export interface LabCluster {
  id: string;
  term: number;
  primary: string | null;
  members: string[];
  ccp: { host: string; endpoint: string; ready: boolean; generation: number; nodes: CcpNode[] | null } | null;
  /** Whether every agent in this cluster reports the same member list. */
  agreed: boolean;
}

export interface LabStatus {
  name: string;
  /** The lab's page, with its token (null: no dashboard runs). */
  dashboard: string | null;
  partition: string[][] | null;
  hosts: LabHostStatus[];
  clusters: LabCluster[];
}

export function aggregate(rec: LabRecord, probe: Map<string, { running: boolean; pid?: number | null; view: AgentStatus | null; ccpRunning?: boolean }>, urls: { page: string; metrics: (host: string) => string } | null = null): LabStatus {
  const hosts: LabHostStatus[] = rec.hosts.map((h) => {
    const p = probe.get(h.name);
    return {
      name: h.name,
      address: h.address,
      cable: h.cable,
      loss: h.loss,
      agent: p?.running ? 'running' : 'stopped',
      pid: p?.running ? (p.pid ?? h.agent?.pid ?? null) : null,
      following: p?.running ? (p.view?.following ?? null) : null,
      readyNode: null,
      ccpRunning: p?.ccpRunning ?? false,
      metrics: urls ? urls.metrics(h.name) : null,
      view: p?.running ? p.view : null,
    };
  });
  const byId = new Map<string, { views: AgentStatus[] }>();
  for (const h of hosts) {
    const id = h.view?.cluster.id;
    if (!h.view || !id) continue;
    const entry = byId.get(id) ?? { views: [] };
    entry.views.push(h.view);
    byId.set(id, entry);
  }
  const clusters: LabCluster[] = [...byId.entries()].map(([id, { views }]) => {
    const lists = views.map((v) => [...v.cluster.members].sort().join(','));
    const members = [...new Set(views.flatMap((v) => v.cluster.members))].sort();
    // The primary's view speaks for the cluster where there is one.
    const first = views.find((v) => v.role === 'primary') ?? views[0]!;
    const a = first.cluster.ccp;
    // The nodes as the CCP host's agent last read them from its server's API.
    const server = a ? hosts.find((h) => h.name === a.host)?.view?.ccp : undefined;
    const nodes = a && server?.role === 'server' && server.generation === a.generation ? (server.nodes ?? null) : null;
    const ccp = a ? { host: a.host, endpoint: a.endpoint, ready: a.ready, generation: a.generation, nodes } : null;
    const agreed = lists.every((l) => l === lists[0]) && views.every((v) => v.cluster.term === first.cluster.term && v.cluster.primary === first.cluster.primary);
    return { id, term: first.cluster.term, primary: first.cluster.primary, members, ccp, agreed };
  });
  clusters.sort((a, b) => a.id.localeCompare(b.id));
  for (const c of clusters) {
    if (!c.ccp?.nodes) continue;
    for (const h of hosts) if (c.members.includes(h.name)) h.readyNode = isReadyNode(c.ccp.nodes, h.name);
  }
  return { name: rec.name, dashboard: urls?.page ?? null, partition: rec.partition, hosts, clusters };
}
