import { z } from 'zod';
import { NAME_RE } from '../config/schema.js';
import type { Secret } from '../config/secret.js';
import { sign, verify } from './signed.js';

/**
 * A primary's claim: who leads the cluster at which term, and where its CCP runs. Signed
 * (election/signed.ts) with a key derived from the cluster secret, so a client without the secret can neither become
 * primary nor assign a CCP; carries the term (fencing: anything older is ignored) and a nonce.
 * A recorded claim replayed later has an older term than the receiver has persisted.
 */
const host = z.string().regex(NAME_RE);

export const CcpAssignmentSchema = z.object({
  host,
  generation: z.number().int().min(1),
  endpoint: z.string().regex(/^https:\/\/[^/\s]+:\d+$/),
});
export type CcpAssignment = z.infer<typeof CcpAssignmentSchema>;

export const ClaimBodySchema = z.object({
  v: z.literal(1),
  cluster: host,
  term: z.number().int().min(1),
  primary: host,
  members: z.array(host).max(1024),
  /** Members of the view left out because they do not reach every member (a non-transitive
   * partition): they leave this broker and form a cluster of their own. Absent when none (so a
   * claim without exclusions signs the same as before the field existed). */
  excluded: z.array(host).max(1024).optional(),
  ccp: CcpAssignmentSchema.nullable(),
  /** Why this CCP host, in words (for status). */
  placement: z.string().max(500),
  configRevision: z.number().int().min(0),
  ts: z.number().int(),
  nonce: z.string().regex(/^[0-9a-f]{16}$/),
});
export type ClaimBody = z.infer<typeof ClaimBodySchema>;

export const SignedClaimSchema = ClaimBodySchema.extend({ sig: z.string().regex(/^[0-9a-f]{64}$/) });
export type SignedClaim = z.infer<typeof SignedClaimSchema>;

export function signClaim(secret: Secret, body: Omit<ClaimBody, 'nonce'>): SignedClaim {
  return sign(secret, body) as SignedClaim;
}

export function verifyClaim(secret: Secret, c: SignedClaim): boolean {
  return verify(secret, c);
}
