import { createHmac } from 'node:crypto';
import type { Secret } from '../config/secret.js';

/**
 * The k3s token of a cluster, derived from the cluster secret: every agent computes the same
 * one, so a CCP started on any side of a partition accepts the same k3s agents.
 */
export function deriveK3sToken(secret: Secret, cluster: string): string {
  const mac = createHmac('sha256', secret.reveal()).update(`infravisor k3s token v1 ${cluster}`).digest('base64url');
  return `ivr-${mac.slice(0, 40)}`;
}
