import { isReadyNode } from '../contract/status.js';
import type { LabStatus } from './status.js';

/**
 * The fault-handling invariants, checked on `lab status`: every running host is in exactly one
 * cluster; each cluster has exactly one primary (all its members agree) and exactly one running,
 * ready CCP on one of its members; every member follows that CCP and is a Ready node in that
 * CCP's API (as the CCP host's agent reads it); no CCP runs on a host that is
 * not its cluster's CCP host. `reach(a, b)`, when given, also requires that a cluster's members
 * all reach each other. Returns the violations (empty when all hold).
 */
export function violations(st: LabStatus, reach?: (a: string, b: string) => boolean): string[] {
  const out: string[] = [];
  const running = st.hosts.filter((h) => h.agent === 'running' && h.view);
  for (const h of running) {
    const n = st.clusters.filter((c) => c.members.includes(h.name)).length;
    if (n !== 1) out.push(`${h.name} is in ${n} clusters`);
  }
  for (const c of st.clusters) {
    const members = st.hosts.filter((h) => c.members.includes(h.name));
    if (!c.agreed) out.push(`${c.id}: members disagree on membership, term or primary`);
    if (!c.primary || !c.members.includes(c.primary)) out.push(`${c.id}: primary ${c.primary} is not a member`);
    const primaries = members.filter((h) => h.view?.role === 'primary').map((h) => h.name);
    if (primaries.length !== 1) out.push(`${c.id}: ${primaries.length} hosts act as primary (${primaries.join(',')})`);
    if (!c.ccp) {
      out.push(`${c.id}: no CCP`);
      continue;
    }
    if (!c.members.includes(c.ccp.host)) out.push(`${c.id}: CCP host ${c.ccp.host} is not a member`);
    if (!c.ccp.ready) out.push(`${c.id}: CCP on ${c.ccp.host} not ready`);
    if (!st.hosts.find((h) => h.name === c.ccp!.host)?.ccpRunning) out.push(`${c.id}: no CCP process on ${c.ccp.host}`);
    for (const h of members) {
      if (h.name !== c.ccp.host && h.following !== c.ccp.endpoint) out.push(`${h.name} follows ${h.following}, not ${c.ccp.endpoint}`);
    }
    // What the CCP's own API says: every member is a Ready node of it.
    if (!c.ccp.nodes) out.push(`${c.id}: the CCP on ${c.ccp.host} has not listed its nodes`);
    else for (const h of members) if (!isReadyNode(c.ccp.nodes, h.name)) out.push(`${h.name} is not a Ready node of the CCP on ${c.ccp.host}`);
    if (reach) {
      for (const a of c.members) for (const b of c.members) if (a < b && !reach(a, b)) out.push(`${c.id}: ${a} and ${b} cannot reach each other`);
    }
  }
  for (const h of running) {
    const c = st.clusters.find((x) => x.members.includes(h.name));
    if (h.ccpRunning && c?.ccp?.host !== h.name) out.push(`a CCP runs on ${h.name}, which is not its cluster's CCP host`);
  }
  return out;
}
