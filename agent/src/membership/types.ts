import type { Facts, MemberCard, Presence } from '../contract/index.js';
import type { Timings } from '../config/schema.js';
import type { MembershipSnapshot } from '../contract/status.js';
import { compareRank } from './rank.js';

export type MemberStatus = 'online' | 'pending' | 'offline';

export interface Member {
  card: MemberCard;
  status: MemberStatus;
  /** Until when a `pending` member (in the view before a rendezvous change) may take to reappear. */
  pendingUntil: number | null;
  lastSeen: number;
  incarnation: number;
  facts: Facts | null;
  movedTo: string | null;
  /** From its presence: the CCP it runs or follows, and the highest term it has seen. */
  ccp: Presence['ccp'];
  term: number;
  /** From its presence: the members of its view it does not reach. */
  unreachable: string[] | null;
  /** From its presence: its link's carrier (null: not watched). */
  carrier: boolean | null;
}

export type Action =
  | { type: 'bootstrap' }
  | { type: 'probe'; targets: MemberCard[] }
  | { type: 'connect'; target: MemberCard }
  | { type: 'publish-presence' }
  | { type: 'publish-directory' }
  | { type: 'persist' }
  /** Drop the rendezvous session at once, without waiting for its keepalive. */
  | { type: 'drop-session' }
  | { type: 'event'; name: string; fields: Record<string, unknown> };

export interface CoreOptions {
  cluster: string;
  timings: Pick<Timings, 'probeIntervalMs' | 'settleMs' | 'forgetAfterMs'>;
  /** Whether any seed other than this host is configured (then it bootstraps through them). */
  hasSeeds: boolean;
}

export interface SessionInfo {
  host: string | null;
  up: boolean;
  since: number | null;
}

/** The members as status shows them, in rank order. */
export function memberRows(members: Iterable<Member>, now: number): MembershipSnapshot['members'] {
  return [...members]
    .sort((a, b) => compareRank(a.card, b.card))
    .map((m) => ({ host: m.card.host, address: m.card.address, status: m.status, lastSeenMsAgo: m.lastSeen ? now - m.lastSeen : null, priority: m.card.priority, facts: m.facts, movedTo: m.movedTo, ccpRole: m.ccp?.role ?? null, carrier: m.carrier }));
}

/** The member (in the view or gone from it) whose card has `address`, if any. */
export function hostAt(members: Iterable<Member>, address: string): string | null {
  for (const m of members) if (m.card.address === address) return m.card.host;
  return null;
}
