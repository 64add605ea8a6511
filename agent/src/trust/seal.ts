import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Secret } from '../config/secret.js';
import type { Sealer } from '../contract/envelope.js';
import { purposeKey } from './keys.js';

/**
 * AES-256-GCM with the cluster's seal key (derived from the cluster secret for this use only,
 * which never travels): sealed = nonce (12) | ciphertext | tag (16); the envelope's header is the
 * associated data, so a body cannot be moved under another signer or flag.
 */
export class ClusterSealer implements Sealer {
  private readonly key: Buffer;
  constructor(secret: Secret) {
    this.key = purposeKey(secret, 'seal');
  }

  seal(aad: Buffer, plaintext: Buffer): Buffer {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    c.setAAD(aad);
    const body = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([nonce, body, c.getAuthTag()]);
  }

  open(aad: Buffer, sealed: Buffer): Buffer | null {
    if (sealed.length < 12 + 16) return null;
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, 12));
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
    } catch {
      return null;
    }
  }
}
