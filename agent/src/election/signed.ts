import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../config/secret.js';

/**
 * HMAC-SHA256 signatures over a canonical JSON encoding (keys sorted at every level), with a
 * key derived from the cluster secret for this purpose only. Used for claims and the cluster
 * configuration: a client without the secret cannot forge either.
 */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

function key(secret: Secret): Buffer {
  return createHmac('sha256', secret.reveal()).update('infravisor protocol signing key v1').digest();
}

export function sign<T extends object>(secret: Secret, body: T): T & { nonce: string; sig: string } {
  const withNonce = { ...body, nonce: randomBytes(8).toString('hex') };
  return { ...withNonce, sig: createHmac('sha256', key(secret)).update(stableStringify(withNonce)).digest('hex') };
}

export function verify(secret: Secret, signed: { sig: string }): boolean {
  const { sig, ...body } = signed;
  const want = createHmac('sha256', key(secret)).update(stableStringify(body)).digest();
  const got = Buffer.from(sig, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}
