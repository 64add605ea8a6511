import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../config/secret.js';
import { ALG, type EnvelopeParts, type Signer, type Verifier } from '../contract/envelope.js';

/** Keys derived from the cluster secret, one per purpose (HKDF-SHA256), so that no key serves two. */
export type Purpose = 'envelope' | 'heartbeat' | 'seal';

export function purposeKey(secret: Secret, purpose: Purpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret.reveal(), 'infravisor', `infravisor ${purpose} key v2`, 32));
}

/** HMAC-SHA256 with the cluster's envelope key: any holder of the cluster secret can sign. */
export class ClusterKeySigner implements Signer, Verifier {
  readonly alg = ALG.hmacSha256;
  private readonly key: Buffer;
  constructor(readonly name: string, secret: Secret) {
    this.key = purposeKey(secret, 'envelope');
  }
  sign(bytes: Buffer): Buffer {
    return createHmac('sha256', this.key).update(bytes).digest();
  }
  verify(parts: EnvelopeParts): boolean {
    if (parts.alg !== this.alg || parts.sig.length !== 32) return false;
    return timingSafeEqual(parts.sig, this.sign(parts.signed));
  }
}
