import { openEnvelope, sealEnvelope, type Sealer, type Signer, type Verifier } from './envelope.js';
import { parseJsonBounded } from '../util/json.js';
import { PROTOCOL_VERSION } from './messages.js';
import { CONTRACT, type EnvelopeKind, type JsonKind, type PayloadOf, type TopicKind } from './mqtt.js';

export type DropReason = 'oversized' | 'malformed' | 'version' | 'mismatch' | 'signature' | 'handler';

export type Decoded<K extends TopicKind> = { ok: true; msg: PayloadOf<K> } | { ok: false; reason: DropReason; detail: string };

function bodyOf<K extends TopicKind>(kind: K, msg: PayloadOf<K>): Buffer {
  return Buffer.from(JSON.stringify(msg));
}

function checkSize(kind: TopicKind, buf: Buffer): Buffer {
  const max = CONTRACT[kind].maxBytes;
  if (buf.length > max) throw new Error(`${kind} payload of ${buf.length} bytes exceeds ${max}`);
  return buf;
}

export function encode<K extends JsonKind>(kind: K, msg: PayloadOf<K>): Buffer {
  return checkSize(kind, bodyOf(kind, msg));
}

/** A signed envelope (contract/envelope.ts) around the message's JSON, sealed where the
 * contract says so. */
export function encodeSigned<K extends EnvelopeKind>(kind: K, msg: PayloadOf<K>, signer: Signer, sealer: Sealer): Buffer {
  const spec = CONTRACT[kind];
  return checkSize(kind, sealEnvelope({ alg: signer.alg, signer: signer.name, cert: signer.cert, body: bodyOf(kind, msg), ...(spec.sealed ? { sealer } : {}) }, (b) => signer.sign(b)));
}

/** JSON already bounded and parsed: the version, then the schema. */
function check<K extends TopicKind>(kind: K, raw: unknown): Decoded<K> {
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

/**
 * Checks a payload from the network: size first, then nesting depth and JSON, then the
 * version, then the schema. Never throws.
 */
export function decode<K extends JsonKind>(kind: K, payload: Buffer | Uint8Array): Decoded<K> {
  const j = parseJsonBounded(payload, CONTRACT[kind].maxBytes);
  return j.ok ? check(kind, j.value) : j;
}

/**
 * Checks a signed envelope: size and framing, then the signature over the raw bytes, then (where
 * the contract seals the topic) decryption, and only then the body (depth, JSON, version,
 * schema). Returns the signer with the message. Never throws.
 */
export function decodeSigned<K extends EnvelopeKind>(kind: K, payload: Buffer, verifier: Verifier, sealer: Sealer): (Decoded<K> & { ok: false }) | { ok: true; msg: PayloadOf<K>; signer: string } {
  const spec = CONTRACT[kind];
  const o = openEnvelope(payload, spec.maxBytes);
  if (!o.ok) return o;
  if (!verifier.verify(o.parts)) return { ok: false, reason: 'signature', detail: `bad signature or certificate from ${o.parts.signer}` };
  if (o.parts.sealed !== spec.sealed) return { ok: false, reason: 'malformed', detail: spec.sealed ? 'a body in clear where a sealed one is required' : 'a sealed body where none is expected' };
  const body = spec.sealed ? sealer.open(o.parts.header, o.parts.body) : o.parts.body;
  if (!body) return { ok: false, reason: 'signature', detail: `a sealed body from ${o.parts.signer} does not decrypt (another cluster's secret?)` };
  const j = parseJsonBounded(body, spec.maxBytes);
  if (!j.ok) return j;
  const d = check(kind, j.value);
  return d.ok ? { ok: true, msg: d.msg, signer: o.parts.signer } : d;
}

/** Counters of dropped payloads, by reason, reported in status. */
export type DropCounters = Record<DropReason, number>;
export const emptyDropCounters = (): DropCounters => ({ oversized: 0, malformed: 0, version: 0, mismatch: 0, signature: 0, handler: 0 });
