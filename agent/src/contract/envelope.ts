import { NAME_RE } from '../config/names.js';

/**
 * The signed envelope of the claim and config topics (docs/mqtt-contract.md, "Signed
 * envelope"). Binary, so that a receiver checks sizes and the signature over the raw bytes
 * before it reads any JSON:
 *
 *   0  4  magic "IVS1"
 *   4  1  alg: 1 = HMAC-SHA256 with a cluster key, 2 = ECDSA P-256 (the signer's host key)
 *   5  1  length L of the signer's host name (1..63)
 *   6  L  signer (a DNS label)
 *   .  1  flags: bit 0 = the body is sealed (AES-256-GCM: nonce 12 | ciphertext | tag 16)
 *   .  2  length C of the signer's certificate (u16; 0 with alg 1)
 *   .  C  the signer's certificate (X.509 DER), which a receiver checks against the cluster CA
 *   .  4  body length B (u32, big-endian)
 *   .  B  body: JSON, or its sealed form
 *   .  1  signature length S (1..128)
 *   .  S  signature over every byte before it
 *
 * Nothing here touches keys: `seal` takes a signing function, `open` returns the parts and the
 * caller verifies `signed` against `sig` for `signer` before it decrypts or parses `body`.
 */
export const ENVELOPE_MAGIC = Buffer.from('IVS1', 'ascii');
export const ALG = { hmacSha256: 1, ecdsaP256: 2 } as const;
export type Alg = (typeof ALG)[keyof typeof ALG];
const FLAG_SEALED = 1;

export interface EnvelopeParts {
  alg: Alg;
  signer: string;
  sealed: boolean;
  /** The signer's certificate (DER), empty with alg 1. */
  cert: Buffer;
  /** The bytes before the body: what a sealed body is bound to (its AEAD associated data). */
  header: Buffer;
  body: Buffer;
  /** The bytes the signature covers. */
  signed: Buffer;
  sig: Buffer;
}

/** Signs envelopes as one host (trust/ implements it). */
export interface Signer {
  readonly name: string;
  readonly alg: Alg;
  /** The certificate that goes with the signature (DER; empty for alg 1). */
  readonly cert: Buffer;
  sign(bytes: Buffer): Buffer;
}

/** Seals and opens bodies (AES-256-GCM, trust/seal.ts): `aad` is the envelope's header. */
export interface Sealer {
  seal(aad: Buffer, plaintext: Buffer): Buffer;
  /** null: the body does not decrypt (wrong key, altered bytes). */
  open(aad: Buffer, sealed: Buffer): Buffer | null;
}

/** Checks an envelope's signature against its signer, before anything reads its body. */
export interface Verifier {
  verify(parts: EnvelopeParts): boolean;
}

export type Opened = { ok: true; parts: EnvelopeParts } | { ok: false; reason: 'oversized' | 'malformed'; detail: string };

export function sealEnvelope(opts: { alg: Alg; signer: string; cert?: Buffer; body: Buffer; sealer?: Sealer }, sign: (bytes: Buffer) => Buffer): Buffer {
  const name = Buffer.from(opts.signer, 'ascii');
  if (!NAME_RE.test(opts.signer)) throw new Error(`signer ${opts.signer} is not a host name`);
  const cert = opts.cert ?? Buffer.alloc(0);
  if (cert.length > 0xffff) throw new Error(`certificate of ${cert.length} bytes`);
  const head = Buffer.alloc(4 + 1 + 1 + name.length + 1 + 2);
  ENVELOPE_MAGIC.copy(head, 0);
  head.writeUInt8(opts.alg, 4);
  head.writeUInt8(name.length, 5);
  name.copy(head, 6);
  head.writeUInt8(opts.sealer ? FLAG_SEALED : 0, 6 + name.length);
  head.writeUInt16BE(cert.length, 7 + name.length);
  const header = Buffer.concat([head, cert]);
  const body = opts.sealer ? opts.sealer.seal(header, opts.body) : opts.body;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const signed = Buffer.concat([header, len, body]);
  const sig = sign(signed);
  if (sig.length < 1 || sig.length > 128) throw new Error(`signature of ${sig.length} bytes`);
  return Buffer.concat([signed, Buffer.from([sig.length]), sig]);
}

/** Splits an envelope into its parts, checking every length against the buffer. Never throws. */
export function openEnvelope(buf: Buffer, maxBytes: number): Opened {
  if (buf.length > maxBytes) return { ok: false, reason: 'oversized', detail: `${buf.length} bytes (at most ${maxBytes})` };
  const bad = (detail: string): Opened => ({ ok: false, reason: 'malformed', detail });
  if (buf.length < 4 + 1 + 1 + 1 + 1 + 2 + 4 + 1 + 1) return bad('too short for an envelope');
  if (!buf.subarray(0, 4).equals(ENVELOPE_MAGIC)) return bad('not a signed envelope (magic)');
  const alg = buf.readUInt8(4);
  if (alg !== ALG.hmacSha256 && alg !== ALG.ecdsaP256) return bad(`unknown signature algorithm ${alg}`);
  const len = buf.readUInt8(5);
  const afterName = 6 + len;
  if (len < 1 || len > 63 || afterName + 7 > buf.length) return bad('signer name length');
  const signer = buf.subarray(6, afterName).toString('latin1');
  if (!NAME_RE.test(signer)) return bad('signer is not a host name');
  const flags = buf.readUInt8(afterName);
  if ((flags & ~FLAG_SEALED) !== 0) return bad(`unknown flags ${flags}`);
  const certLen = buf.readUInt16BE(afterName + 1);
  const certAt = afterName + 3;
  const bodyLenAt = certAt + certLen;
  if (bodyLenAt + 4 > buf.length) return bad('certificate length runs past the end');
  const bodyLen = buf.readUInt32BE(bodyLenAt);
  const bodyAt = bodyLenAt + 4;
  const sigLenAt = bodyAt + bodyLen;
  if (sigLenAt + 1 > buf.length) return bad('body length runs past the end');
  const sigLen = buf.readUInt8(sigLenAt);
  if (sigLen < 1 || sigLenAt + 1 + sigLen !== buf.length) return bad('signature length');
  return {
    ok: true,
    parts: {
      alg: alg as Alg,
      signer,
      sealed: (flags & FLAG_SEALED) !== 0,
      cert: buf.subarray(certAt, bodyLenAt),
      header: buf.subarray(0, bodyLenAt),
      body: buf.subarray(bodyAt, sigLenAt),
      signed: buf.subarray(0, sigLenAt),
      sig: buf.subarray(sigLenAt + 1),
    },
  };
}
