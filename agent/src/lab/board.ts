import { roleIn, type BoardHost, type BoardModel } from '../observe/board.js';
import type { LabStatus } from './status.js';

/** The lab's page (pure): every host, from its own agent's view; the clusters the agents report. */
export function labBoard(st: LabStatus): Omit<BoardModel, 'events'> {
  const clusterOf = (h: string) => st.clusters.find((c) => c.members.includes(h))?.id ?? null;
  const hosts: BoardHost[] = st.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    role: !h.view ? 'stopped' : h.cable === 'out' ? 'cut-off' : roleIn(h.view, h.name),
    carrier: h.view?.link ? h.view.link.carrier : h.cable === 'in',
    cluster: clusterOf(h.name),
    cable: h.cable,
    agent: h.agent,
  }));
  return {
    mode: 'lab',
    title: `lab ${st.name}${st.partition ? ` · partition ${st.partition.map((g) => g.join(',')).join(' | ')}` : ''}`,
    hosts,
    clusters: st.clusters.map((c) => ({ id: c.id, members: c.members, primary: c.primary, term: c.term, ccp: c.ccp ? { host: c.ccp.host, generation: c.ccp.generation, ready: c.ccp.ready } : null })),
  };
}
