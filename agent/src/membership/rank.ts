import type { MemberCard } from '../contract/index.js';
import { naturalCompare } from '../util/natural.js';

/** Memory is compared in steps of this size, so that boards of one model (whose usable memory
 * differs by a few MB) tie and fall through to the next key. */
export const MEMORY_STEP_MB = 256;

/**
 * The rank order of hosts: every agent sorts members with this function, so a connected
 * group converges on the same rendezvous. Only stable keys take part — configured priority,
 * memory, cores, then the host name in natural order — never load or temperature, which
 * would make the choice flap. Negative when `a` ranks better than `b`.
 */
export function compareRank(a: MemberCard, b: MemberCard): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const ma = Math.floor(a.memMB / MEMORY_STEP_MB);
  const mb = Math.floor(b.memMB / MEMORY_STEP_MB);
  if (ma !== mb) return mb - ma;
  if (a.cores !== b.cores) return b.cores - a.cores;
  return namesInOrder(a.host, b.host);
}

/** naturalCompare of two host names, remembered: the same few names are compared many times a
 * second (every tick sorts the view), and hosts of one model tie on every other key. */
const memo = new Map<string, Map<string, number>>();
function namesInOrder(a: string, b: string): number {
  let row = memo.get(a);
  const hit = row?.get(b);
  if (hit !== undefined) return hit;
  if (!row) {
    if (memo.size >= 1024) memo.clear(); // names come and go over months: keep it bounded
    row = new Map();
    memo.set(a, row);
  }
  const r = naturalCompare(a, b);
  if (row.size < 1024) row.set(b, r);
  return r;
}

/** A one-line explanation of why `a` ranks above `b`, for status and logs. */
export function explainRank(a: MemberCard, b: MemberCard): string {
  if (a.priority !== b.priority) return `priority ${a.priority} > ${b.priority}`;
  const ma = Math.floor(a.memMB / MEMORY_STEP_MB);
  const mb = Math.floor(b.memMB / MEMORY_STEP_MB);
  if (ma !== mb) return `memory ${a.memMB} MB > ${b.memMB} MB`;
  if (a.cores !== b.cores) return `cores ${a.cores} > ${b.cores}`;
  return `equal priority, memory and cores; name ${a.host} sorts before ${b.host}`;
}

/** Whether two cards carry the same identity and rank keys. */
export function sameCard(a: MemberCard, b: MemberCard): boolean {
  return a.host === b.host && a.address === b.address && a.port === b.port && a.priority === b.priority && a.cores === b.cores && a.memMB === b.memMB;
}
