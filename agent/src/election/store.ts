import { join } from 'node:path';
import { z } from 'zod';
import { CcpConfigSchema, type CcpConfig } from '../config/ccp.js';
import { CcpAssignmentSchema, type CcpAssignment } from '../contract/index.js';
import { StateFile } from '../state/atomic-file.js';

/** What the election keeps on disk (STATEDIR/election.json): fencing survives restarts. */
export interface ElectionState {
  highestTerm: number;
  highestGeneration: number;
  config: { revision: number; ccp: CcpConfig };
  lastCcp: CcpAssignment | null;
}

const StoredSchema = z.object({
  highestTerm: z.number().int().min(0),
  highestGeneration: z.number().int().min(0),
  config: z.object({ revision: z.number().int().min(0), ccp: z.unknown() }).nullable(),
  lastCcp: CcpAssignmentSchema.nullable().default(null),
});

export function electionFile(stateDir: string) {
  return new StateFile(join(stateDir, 'election.json'), 'infravisor.election', 1, (b) => StoredSchema.parse(b));
}

/**
 * The state to start from: the stored one (its configuration only if it still validates and is
 * not older than the configured one), else term 0 with the configured configuration. `stored`
 * is null after a first boot or an unreadable file. Pure.
 */
export function initialState(stored: z.infer<typeof StoredSchema> | null, configured: CcpConfig): ElectionState {
  const parsed = stored?.config ? CcpConfigSchema.safeParse(stored.config.ccp) : null;
  const ccp = parsed?.success && parsed.data.revision >= configured.revision ? parsed.data : configured;
  return { highestTerm: stored?.highestTerm ?? 0, highestGeneration: stored?.highestGeneration ?? 0, config: { revision: ccp.revision, ccp }, lastCcp: stored?.lastCcp ?? null };
}
