import { PROTOCOL_VERSION } from './messages.js';
import { CONTRACT, type PayloadOf, type TopicKind } from './mqtt.js';

export type DropReason = 'oversized' | 'malformed' | 'version' | 'mismatch';

export type Decoded<K extends TopicKind> = { ok: true; msg: PayloadOf<K> } | { ok: false; reason: DropReason; detail: string };

export function encode<K extends TopicKind>(kind: K, msg: PayloadOf<K>): Buffer {
  const buf = Buffer.from(JSON.stringify(msg));
  const max = CONTRACT[kind].maxBytes;
  if (buf.length > max) throw new Error(`${kind} payload of ${buf.length} bytes exceeds ${max}`);
  return buf;
}

/**
 * Checks a payload from the network: size first (before any parsing), then JSON, then the
 * version, then the schema. Never throws.
 */
export function decode<K extends TopicKind>(kind: K, payload: Buffer | Uint8Array): Decoded<K> {
  if (payload.length > CONTRACT[kind].maxBytes) return { ok: false, reason: 'oversized', detail: `${payload.length} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'malformed', detail: 'not an object' };
  const v = (raw as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION) return { ok: false, reason: 'version', detail: `v=${JSON.stringify(v)}` };
  const parsed = CONTRACT[kind].schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, reason: 'malformed', detail: first ? `${first.path.join('.')}: ${first.message}` : 'schema' };
  }
  return { ok: true, msg: parsed.data as PayloadOf<K> };
}

/** Counters of dropped payloads, by reason, reported in status. */
export type DropCounters = Record<DropReason, number>;
export const emptyDropCounters = (): DropCounters => ({ oversized: 0, malformed: 0, version: 0, mismatch: 0 });
