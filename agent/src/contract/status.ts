import type { CcpAssignment, CcpReport, Facts } from './messages.js';
import type { DropCounters } from './codec.js';

/**
 * The status document an agent serves (GET /status on its socket; docs/status.md): what the
 * CLI, the lab and the dashboard read. Stated here, in the contract, so that none of them
 * depends on the daemon; each part of the agent returns its own section.
 */
export interface MembershipSnapshot {
  rendezvous: { host: string | null; connected: boolean; since: number | null; connecting: string | null };
  view: string[];
  members: {
    host: string;
    address: string;
    status: 'online' | 'pending' | 'offline';
    lastSeenMsAgo: number | null;
    priority: number;
    facts: Facts | null;
    movedTo: string | null;
    /** What it runs of the CCP, from its presence. */
    ccpRole: 'server' | 'agent' | 'none' | null;
    carrier: boolean | null;
  }[];
  rankOrder: string[];
  isolated: boolean;
  barred: string[];
}

export interface ElectionSnapshot {
  role: 'primary' | 'follower';
  /** What the primary is doing or waiting for. */
  reason: string | null;
  term: number;
  highestTerm: number;
  highestGeneration: number;
  primary: string | null;
  members: string[];
  /** Members of the view the claim leaves out (they do not reach every member). */
  excluded: string[];
  ccp: CcpAssignment | null;
  placement: string | null;
  configRevision: number;
  rejectedClaims: { signer: number; staleTerm: number; configNotFromPrimary: number };
  /** The last probes of the CCP and of its host's agent, as the decision uses them. */
  probes: {
    ccp: { key: string; ok: boolean; at: number; failures: number; failingSince: number | null } | null;
    agent: { host: string; ok: boolean; at: number; elsewhereSince: number | null } | null;
  };
}

/** A node as a CCP's API lists it. */
export interface CcpNode {
  name: string;
  /** Its Ready condition is True. */
  ready: boolean;
}

/** Whether `host` is a Ready node in a CCP's node list. */
export const isReadyNode = (nodes: readonly CcpNode[], host: string): boolean => nodes.some((n) => n.name === host && n.ready);

export interface CcpStatus extends CcpReport {
  following: string | null;
  ready: boolean;
  lastError: string | null;
  /** The cluster's virtual address, while this host holds it. */
  vip: string | null;
  /** The CCP host: the nodes its API lists (null: not the CCP host, or not read yet). */
  nodes: CcpNode[] | null;
}

/** This host's cluster-facing link (link/monitor.ts keeps it). */
export interface LinkStatus {
  backend: string;
  ifname: string;
  known: boolean;
  up: boolean;
  carrier: boolean;
  operstate: string;
  since: number | null;
  lost: boolean;
  flapsDebounced: number;
}

export interface LivenessStatus {
  enabled: boolean;
  error: string | null;
  peers: { host: string; state: 'waiting' | 'up' | 'down'; kind: 'watch' | 'mesh' | null; silentMs: number | null }[];
  dropped: Record<string, number>;
  unreachable: string[] | null;
  exclusion: { host: string; members: string[]; since: number } | null;
}

export interface AgentEvent {
  ts: number;
  name: string;
  fields: Record<string, unknown>;
}

export interface AgentStatus {
  v: 1;
  host: string;
  address: string;
  /** The agent's release (its package version). */
  version: string;
  incarnation: number;
  uptimeMs: number;
  rendezvous: MembershipSnapshot['rendezvous'];
  view: string[];
  members: MembershipSnapshot['members'];
  rankOrder: string[];
  isolated: boolean;
  link: LinkStatus | null;
  cluster: {
    name: string;
    /** CLUSTER@RENDEZVOUS: the hosts that meet on one broker; CLUSTER@SELF for a host with no
     * session that sees no one else (refused by every broker). */
    id: string | null;
    term: number;
    primary: string | null;
    members: string[];
    ccp: (CcpAssignment & { ready: boolean; placement: string | null }) | null;
  };
  role: 'primary' | 'follower';
  election: ElectionSnapshot;
  ccp: CcpStatus;
  following: string | null;
  facts: Facts;
  broker: { clients: number; refusedConnects: number; refusedPublishes: number; refusedSubscribes: number; failedHandshakes: number; turnedAway: number; framingViolations: number };
  liveness: LivenessStatus;
  dropped: DropCounters;
  events: AgentEvent[];
}
