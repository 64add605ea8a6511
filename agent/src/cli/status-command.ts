import { loadConfig } from '../config/load.js';
import { fetchStatus } from '../status/server.js';
import type { AgentStatus } from '../contract/status.js';
import { InfravisorError } from '../util/errors.js';

export async function runStatus(opts: { socket: string; config?: string; json?: boolean }): Promise<void> {
  const socket = opts.config ? loadConfig(opts.config).statusSocket : opts.socket;
  let st: AgentStatus;
  try {
    st = await fetchStatus<AgentStatus>(socket);
  } catch (err) {
    throw new InfravisorError('NO_AGENT', `no agent answers on ${socket} (${(err as Error).message}); is it running? Pass --socket or --config.`);
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(st, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatStatus(st));
}

export function formatStatus(st: AgentStatus): string {
  const r = st.rendezvous;
  const lines = [
    `host ${st.host} (${st.address}) in cluster ${st.cluster.name}, up ${(st.uptimeMs / 1000).toFixed(0)} s`,
    `rendezvous: ${r.host ?? '-'} ${r.connected ? 'connected' : r.connecting ? `connecting to ${r.connecting}` : 'not connected'}`,
    `view (${st.view.length}): ${st.view.join(' ')}${st.isolated ? '  [isolated: own link down]' : ''}`,
    `role: ${st.role}, term ${st.cluster.term}, primary ${st.cluster.primary ?? '-'}`,
    `CCP: ${st.cluster.ccp ? `${st.cluster.ccp.host} generation ${st.cluster.ccp.generation} ${st.cluster.ccp.endpoint} ${st.cluster.ccp.ready ? 'ready' : 'not ready'}` : '-'}`,
    `  placement: ${st.cluster.ccp?.placement ?? '-'}`,
    `this host: ${st.ccp.role === 'server' ? `runs the CCP (generation ${st.ccp.generation}, ${st.ccp.state})` : st.following ? `follows ${st.following}` : 'no k3s yet'}`,
    `rank order: ${st.rankOrder.join(' > ')}`,
    'members:',
    ...st.members.map((m) => `  ${m.host.padEnd(16)} ${m.address.padEnd(16)} ${m.status.padEnd(8)} ${m.lastSeenMsAgo === null ? '' : `seen ${(m.lastSeenMsAgo / 1000).toFixed(1)} s ago`}`),
    `dropped messages: ${Object.entries(st.dropped).map(([k, v]) => `${k}=${v}`).join(' ')}`,
  ];
  return lines.join('\n') + '\n';
}
