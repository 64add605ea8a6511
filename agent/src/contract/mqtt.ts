/**
 * THE MQTT CONTRACT. Every topic the agents use, its payload type, QoS, retain flag and who
 * may publish on it, in one place. docs/mqtt-contract.md is written from this table, and the
 * broker's access control, the codec and the clients all read it from here.
 *
 * Topic layout: ivr/v1/<cluster>/<kind>/<host>
 */
import type { z } from 'zod';
import { ClaimSchema, ClusterConfigMessageSchema, DirectorySchema, EventMessageSchema, HostStateSchema, MAX_PAYLOAD_BYTES, PresenceSchema } from './messages.js';

export const TOPIC_ROOT = 'ivr/v1';

/** Who may publish on a topic: only the host named in it, or any authenticated member. */
export type TopicOwner = 'host' | 'protocol';

export interface TopicSpec<S extends z.ZodType = z.ZodType> {
  kind: string;
  schema: S;
  qos: 0 | 1;
  retain: boolean;
  owner: TopicOwner;
  /** json: the payload is the message's JSON. envelope: a signed envelope around it
   * (contract/envelope.ts), checked before the JSON is read. */
  encoding: 'json' | 'envelope';
  /** envelope: the body is sealed (AES-256-GCM with the cluster's seal key), as it may hold
   * manifests and Secrets. */
  sealed: boolean;
  /** Largest payload accepted on this topic. */
  maxBytes: number;
  description: string;
}

export const CONTRACT = {
  presence: {
    kind: 'presence',
    schema: PresenceSchema,
    encoding: 'json',
    sealed: false,
    qos: 1,
    retain: true,
    owner: 'host',
    maxBytes: MAX_PAYLOAD_BYTES,
    description:
      "A member's liveness and facts, on the rendezvous broker. Published on connect and when facts change; the same topic carries the MQTT last will (state offline), which the broker publishes when the member's keepalive lapses.",
  },
  directory: {
    kind: 'directory',
    schema: DirectorySchema,
    encoding: 'json',
    sealed: false,
    qos: 1,
    retain: true,
    owner: 'host',
    maxBytes: 256 * 1024,
    description:
      "The members a host knows and the rendezvous it uses, published by each agent into its own broker only. A newcomer that knows one seed address reads it there to learn the cluster.",
  },
  claim: {
    kind: 'claim',
    schema: ClaimSchema,
    encoding: 'envelope',
    sealed: false,
    qos: 1,
    retain: true,
    owner: 'host',
    maxBytes: MAX_PAYLOAD_BYTES,
    description:
      "A primary's claim on the rendezvous broker: term, members, and the CCP assignment (host, generation, endpoint). In a signed envelope whose signer must be the host of the topic; a claim of an older term than the receiver has seen is ignored (fencing, anti-replay). An empty retained payload withdraws it: a primary that leaves its own broker clears its claim there (the broker publishes it for its host), and receivers ignore it.",
  },
  config: {
    kind: 'config',
    schema: ClusterConfigMessageSchema,
    encoding: 'envelope',
    sealed: true,
    qos: 1,
    retain: true,
    owner: 'host',
    maxBytes: 1024 * 1024,
    description:
      "The cluster-wide CCP configuration (k3s settings, desired manifests) with its revision, published by the primary in a signed envelope. Members adopt it only from the primary of the valid claim and keep the highest revision they have seen, on disk.",
  },
  state: {
    kind: 'state',
    schema: HostStateSchema,
    encoding: 'json',
    sealed: false,
    qos: 1,
    retain: true,
    owner: 'host',
    maxBytes: MAX_PAYLOAD_BYTES,
    description:
      "What a host is in its cluster (primary, CCP host, follower, excluded, cut off), its cluster's members, CCP and term, and its link's carrier: retained, republished when it changes. For observers; the agents do not read it.",
  },
  event: {
    kind: 'event',
    schema: EventMessageSchema,
    encoding: 'json',
    sealed: false,
    qos: 0,
    retain: false,
    owner: 'host',
    maxBytes: MAX_PAYLOAD_BYTES,
    description:
      "A host's timeline as it happens (cable lost and back, peer dead, new primary, CCP placed, lost, ready, failover with its duration, members changed, exclusion): a stream, not retained. For observers; the agents do not read it.",
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicKind = keyof typeof CONTRACT;
export type PayloadOf<K extends TopicKind> = z.infer<(typeof CONTRACT)[K]['schema']>;
export type JsonKind = { [K in TopicKind]: (typeof CONTRACT)[K]['encoding'] extends 'json' ? K : never }[TopicKind];
export type EnvelopeKind = Exclude<TopicKind, JsonKind>;

export function topicFor(kind: TopicKind, cluster: string, host: string): string {
  return `${TOPIC_ROOT}/${cluster}/${kind}/${host}`;
}

/** The subscription filter that matches every host's topic of a kind. */
export function filterFor(kind: TopicKind, cluster: string): string {
  return `${TOPIC_ROOT}/${cluster}/${kind}/+`;
}

/** Splits a topic of this cluster into its kind and host; null for anything not in the contract. */
export function parseTopic(cluster: string, topic: string): { kind: TopicKind; host: string } | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[2] !== cluster) return null;
  const kind = parts[3] as TopicKind;
  if (!Object.hasOwn(CONTRACT, kind)) return null;
  return { kind, host: parts[4]! };
}

/** Access control: may the member authenticated as `username` publish on `topic`? */
export function mayPublish(cluster: string, username: string, topic: string): boolean {
  const t = parseTopic(cluster, topic);
  if (!t) return false;
  const spec: TopicSpec = CONTRACT[t.kind];
  return spec.owner === 'protocol' || t.host === username;
}

/** Access control for subscriptions: members may read the whole cluster subtree, nothing else. */
export function maySubscribe(cluster: string, filter: string): boolean {
  return filter === `${TOPIC_ROOT}/${cluster}/#` || filter.startsWith(`${TOPIC_ROOT}/${cluster}/`);
}
