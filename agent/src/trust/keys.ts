import { hkdfSync } from 'node:crypto';
import type { Secret } from '../config/secret.js';

/** Keys derived from the cluster secret, one per purpose (HKDF-SHA256), so that no key serves
 * two. The secret itself never travels (the control channel is TLS with host certificates). */
export type Purpose = 'seal' | 'k3s-token';

export function purposeKey(secret: Secret, purpose: Purpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret.reveal(), 'infravisor', `infravisor ${purpose} key v2`, 32));
}
