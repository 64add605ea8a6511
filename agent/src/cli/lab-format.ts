import { isReadyNode } from '../contract/status.js';
import type { LabStatus } from '../lab/status.js';

export function formatLabStatus(st: LabStatus): string {
  const rows = st.hosts.map((h) => {
    const v = h.view;
    const rdv = v?.rendezvous.host ?? '-';
    const view = v ? `${v.view.length} [${v.view.join(' ')}]` : '-';
    const k3s = `${h.ccpRunning ? 'runs CCP' : h.following ? `follows ${h.following.replace(/^https:\/\//, '')}` : ''}${v?.ccp.vip ? ` holds ${v.ccp.vip}` : ''}${h.readyNode === null ? '' : h.readyNode ? ' (Ready node)' : ' (not a Ready node)'}`;
    return `${h.name.padEnd(5)} ${h.address.padEnd(14)} cable ${h.cable.padEnd(3)} ${h.loss ? `loss ${h.loss}% ` : ''}agent ${h.agent.padEnd(8)} ${(v?.role ?? '').padEnd(8)} rendezvous ${rdv.padEnd(5)} sees ${view.padEnd(24)} ${k3s}`;
  });
  const clusters = st.clusters.map((c) => `  ${c.id}: ${c.members.join(' ')}${c.agreed ? '' : ' (views differ)'}  term ${c.term}  primary ${c.primary ?? '-'}  CCP ${c.ccp ? `${c.ccp.host} gen ${c.ccp.generation} ${c.ccp.ready ? 'ready' : 'not ready'}${c.ccp.nodes ? `, ${c.members.filter((m) => isReadyNode(c.ccp!.nodes!, m)).length}/${c.members.length} members Ready nodes` : ''}` : '-'}`);
  const part = st.partition ? `partition: ${st.partition.map((g) => g.join(',')).join(' | ')}\n` : '';
  return `lab ${st.name}\n${part}${rows.join('\n')}\nclusters (${st.clusters.length}):\n${clusters.join('\n')}`;
}
