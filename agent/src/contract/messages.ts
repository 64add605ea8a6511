import { z } from 'zod';
import { NAME_RE } from '../config/names.js';
import { CcpConfigSchema } from '../config/ccp.js';

/** The version every payload carries in `v`. A payload of another version is dropped and counted. */
export const PROTOCOL_VERSION = 1 as const;
/** No payload on any topic may be larger; the broker refuses bigger publishes and clients drop them. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

const hostName = z.string().regex(NAME_RE);
const int = z.number().int();

export const FactsSchema = z.object({
  model: z.string().max(200),
  arch: z.string().max(32),
  cores: int.min(1).max(4096),
  memMB: int.min(0),
  /** CPU temperature in °C where the hardware reports one, else null. */
  tempC: z.number().nullable(),
  /** One-minute load average. */
  load1: z.number().min(0),
});
export type Facts = z.infer<typeof FactsSchema>;

/** The rank-relevant identity of a member: what every agent needs to order hosts the same way. */
export const MemberCardSchema = z.object({
  host: hostName,
  address: z.string().max(64),
  port: int.min(1).max(65535),
  priority: int.min(-1000).max(1000),
  cores: int.min(1),
  memMB: int.min(0),
});
export type MemberCard = z.infer<typeof MemberCardSchema>;

/** What a member runs of the CCP, and the highest election term it has seen. */
export const CcpReportSchema = z.object({
  role: z.enum(['server', 'agent', 'none']),
  generation: int.min(1).nullable(),
  state: z.enum(['starting', 'ready', 'failed']).nullable(),
  endpoint: z.string().max(100).nullable(),
  /** Whether this member reaches the CCP it runs or follows (null: not probed yet). */
  reach: z.boolean().nullable().default(null),
  /** A CCP server: how many members its cluster had (for the merge rule, whatever the view). */
  clusterSize: int.min(0).nullable().default(null),
});
export type CcpReport = z.output<typeof CcpReportSchema>;

export const PresenceSchema = MemberCardSchema.extend({
  v: z.literal(PROTOCOL_VERSION),
  cluster: hostName,
  state: z.enum(['online', 'offline']),
  /** Start time of this agent process (ms since the epoch): tells a restart from a reconnect. */
  incarnation: int.min(0),
  /** Increases with every presence this incarnation publishes. */
  seq: int.min(0),
  /** The broker (host name) this agent is a client of, when it published this. */
  rendezvous: hostName.nullable(),
  /** Set on an orderly departure to another rendezvous: where to find this member now. */
  movedTo: hostName.nullable().default(null),
  facts: FactsSchema,
  /** The CCP as this member runs or follows it (null: not known yet). */
  ccp: CcpReportSchema.nullable().default(null),
  /** The highest election term this member has seen (so a merged view's primary outbids it). */
  term: int.min(0).default(0),
  /** Members of its view this member does not reach (no heartbeat for unreachableAfterMs); null:
   * not known (no heartbeat has reached it at all). The primary keeps clusters cliques with it. */
  unreachable: z.array(hostName).max(1024).nullable().default(null),
  /** Its cluster-facing link's carrier (null: not watched). */
  carrier: z.boolean().nullable().default(null),
  /** Its certificate (X.509 DER, base64), from the cluster CA: the key its heartbeats and
   * signatures are checked with. */
  cert: z.string().max(4096).regex(/^[A-Za-z0-9+/]+=*$/),
  ts: int.min(0),
});
export type Presence = z.infer<typeof PresenceSchema>;

/** Where a cluster's CCP runs: its host, its generation (raised for every new server) and its
 * API endpoint (contract/endpoint.ts builds it). */
export const CcpAssignmentSchema = z.object({
  host: hostName,
  generation: int.min(1),
  endpoint: z.string().max(100).regex(/^https:\/\/[^/\s]+:\d+$/),
});
export type CcpAssignment = z.infer<typeof CcpAssignmentSchema>;

/**
 * A primary's claim: who leads the cluster at which term, and where its CCP runs. Travels in a
 * signed envelope (contract/envelope.ts) whose signer must be `primary`; carries the term
 * (fencing: anything older is ignored), so a recorded claim replayed later is stale.
 */
export const ClaimSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  cluster: hostName,
  term: int.min(1),
  primary: hostName,
  members: z.array(hostName).max(1024),
  /** Members of the view left out because they do not reach every member (a non-transitive
   * partition): they leave this broker and form a cluster of their own. Absent when none. */
  excluded: z.array(hostName).max(1024).optional(),
  ccp: CcpAssignmentSchema.nullable(),
  /** Why this CCP host, in words (for status). */
  placement: z.string().max(500),
  configRevision: int.min(0),
  ts: int,
});
export type Claim = z.infer<typeof ClaimSchema>;

/** The cluster-wide CCP configuration (config/ccp.ts), replicated by the primary with a revision
 * number, in a signed envelope whose signer must be the primary of the valid claim. */
export const ClusterConfigMessageSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  cluster: hostName,
  revision: int.min(0),
  ccp: CcpConfigSchema,
  ts: int,
});
export type ClusterConfigMessage = z.infer<typeof ClusterConfigMessageSchema>;

export const DirectoryEntrySchema = MemberCardSchema.extend({ lastSeen: int.min(0) });
export type DirectoryEntry = z.infer<typeof DirectoryEntrySchema>;

export const DirectorySchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  cluster: hostName,
  host: hostName,
  /** The rendezvous the publishing agent is a client of: where a newcomer joins first. */
  rendezvous: hostName.nullable(),
  members: z.array(DirectoryEntrySchema).max(1024),
  ts: int.min(0),
});
export type Directory = z.infer<typeof DirectorySchema>;

/** What a host is in its cluster, as its `state` topic keeps it (retained): for observers
 * (Home Assistant, Node-RED, the web view) without the protocol's details. */
export const HostStateSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  cluster: hostName,
  host: hostName,
  role: z.enum(['primary', 'ccp-host', 'follower', 'excluded', 'cut-off']),
  primary: hostName.nullable(),
  term: int.min(0),
  members: z.array(hostName).max(1024),
  ccp: z.object({ host: hostName, generation: int.min(1), ready: z.boolean() }).nullable(),
  carrier: z.boolean().nullable(),
  ts: int.min(0),
});
export type HostState = z.infer<typeof HostStateSchema>;

/** One event of a host's timeline (observe/timeline.ts and the membership core's events). */
export const EventMessageSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  cluster: hostName,
  host: hostName,
  name: z.string().regex(/^[a-z][a-z-]{0,63}$/),
  fields: z.record(z.string().max(64), z.unknown()),
  ts: int.min(0),
});
export type EventMessage = z.infer<typeof EventMessageSchema>;
