import type { AgentStatus } from '../contract/status.js';
import type { LabHost, LabRecord } from './record.js';

/** What the lab learns about one host when it looks. */
export interface Probe {
  running: boolean;
  pid: number | null;
  view: AgentStatus | null;
  ccpRunning: boolean;
}

/** Where a host's agent finds its files, as the agent sees them. */
export interface AgentPaths {
  secretFile: string;
  clusterConfig: string;
  stateDir: string;
  statusSocket: string;
  k3sRoot: string;
  k3sBin: string;
  /** The token of the agents' web view (the lab's). */
  webTokenFile: string;
  /** The host's TLS material (lab/pki: a CA per lab, a certificate per host). */
  tls: { ca: string; cert: string; key: string; crl: string };
}

/**
 * How the lab's hosts are made and handled. Both kinds share the switch namespace, its
 * bridge and its nftables filter (partitions, loss); they differ in what a host is:
 *   netns  a network namespace of this machine with a veth cable; agents are local processes
 *   qemu   an emulated VM with a tap cable; its agent runs in the guest (lab/vm/)
 */
export interface HostBackend {
  readonly kind: LabRecord['backend'];
  /** Paths inside the host for its agent's config. */
  paths(h: LabHost): AgentPaths;
  /** Creates the host (its cable on the switch included) and starts its agent. */
  create(rec: LabRecord, h: LabHost, index: number): Promise<void>;
  /** Resolves once every host answers status (or throws with the log or console tail). */
  waitReady(rec: LabRecord, hosts: LabHost[], timeoutMs: number): Promise<void>;
  /** How many hosts may be starting at once on this machine. */
  wave(): number;
  setCable(rec: LabRecord, h: LabHost, plugged: boolean): Promise<void>;
  /** After a cable comes back, stale neighbour entries would delay the first packets (~0.5 s). */
  flushNeighbours(rec: LabRecord): Promise<void>;
  kill(rec: LabRecord, h: LabHost): Promise<number>;
  start(rec: LabRecord, h: LabHost, waitMs: number): Promise<number>;
  exec(rec: LabRecord, h: LabHost, argv: string[]): Promise<number>;
  probe(rec: LabRecord, h: LabHost): Promise<Probe>;
  /** Stops what runs for the host (agent, CCP processes, VM); true if an agent was running. */
  teardown(rec: LabRecord, h: LabHost): Promise<boolean>;
}
