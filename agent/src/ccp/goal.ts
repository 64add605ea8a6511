import type { CcpAssignment, CcpReport } from '../contract/index.js';

/**
 * What this host should run of the CCP (the election decides it, election/core.ts `localGoal`):
 * the assigned server, a k3s agent that follows the assigned CCP, or whatever runs now.
 */
export type LocalCcpGoal = { role: 'server'; assignment: CcpAssignment } | { role: 'agent'; assignment: CcpAssignment } | { role: 'keep' };

/** The CCP as the election sees it on this host: what runs here, and a goal to carry out. */
export interface CcpPort {
  readonly report: CcpReport;
  /** The host of the CCP this host's k3s agent follows (null: it follows none, or runs the server). */
  readonly followedHost: string | null;
  setGoal(goal: LocalCcpGoal): void;
}

export function goalKey(g: LocalCcpGoal): string {
  return g.role === 'keep' ? 'keep' : `${g.role}:${g.assignment.generation}:${g.assignment.host}:${g.assignment.endpoint}`;
}
