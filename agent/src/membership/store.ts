import { join } from 'node:path';
import { z } from 'zod';
import { DirectoryEntrySchema, type DirectoryEntry } from '../contract/index.js';
import { StateFile } from '../state/atomic-file.js';

const MembershipFileSchema = z.object({ cluster: z.string(), members: z.array(DirectoryEntrySchema) });
export type MembershipFile = z.infer<typeof MembershipFileSchema>;

/** Membership last seen, kept in STATEDIR/membership.json so a restarted agent knows whom to probe. */
export function membershipFile(stateDir: string): StateFile<MembershipFile> {
  return new StateFile(join(stateDir, 'membership.json'), 'infravisor.membership', 1, (b) => MembershipFileSchema.parse(b));
}

export type { DirectoryEntry };
