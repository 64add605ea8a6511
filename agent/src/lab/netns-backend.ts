import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { AGENT_NICE } from '../util/node-flags.js';
import { closeSync, openSync } from 'node:fs';
import { tailOf } from '../util/tail.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS } from '../util/node-flags.js';
import { SupervisedServices } from '../ccp/service.js';
import { fetchStatus } from '../status/server.js';
import type { AgentStatus } from '../contract/status.js';
import { LabError } from '../util/errors.js';
import { CLI_PATH, REPO_ROOT } from '../util/paths.js';
import type { HostBackend } from './backend.js';
import * as netns from './netns.js';
import { type LabHost, type LabRecord } from './record.js';
import { isSameProcess, procIdentity } from '../util/proc.js';

/** The lab's CCP: a real k3s when K3S_BIN names one, else the k3s stand-in test fixture. */
export const LAB_K3S = process.env.K3S_BIN ?? join(REPO_ROOT, 'test/fixtures/k3s-standin/k3s');

/** The supervised k3s units of a lab host (started by its agent, outliving it). */
export const servicesOf = (h: LabHost) => new SupervisedServices(join(h.dir, 'state', 'ccp'));

const logTail = (path: string) => tailOf(path, 10);

function startAgent(h: LabHost): LabHost['agent'] {
  const fd = openSync(h.log, 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', h.ns, process.execPath, ...AGENT_NODE_FLAGS, CLI_PATH, 'agent', '--config', h.config], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new LabError(`could not start the agent of ${h.name}`);
    // As its systemd unit does on a host (Nice=-10): the agent's heartbeats must keep time
    // when the host's CPU is saturated (here: 16 hosts on 2 cores starting k3s processes).
    setPriority(child.pid, AGENT_NICE);
    // `ip netns exec` execs in place: the pid is the agent's.
    const id = procIdentity(child.pid);
    if (!id) throw new LabError(`the agent of ${h.name} exited at once; see ${h.log}`);
    return id;
  } finally {
    closeSync(fd);
  }
}

async function stopAgent(h: LabHost): Promise<void> {
  if (!h.agent || !isSameProcess(h.agent)) return;
  const pid = h.agent.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    if (!isSameProcess(h.agent)) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  if (isSameProcess(h.agent)) process.kill(pid, 'SIGKILL');
}

async function waitReady(hosts: LabHost[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(hosts);
  while (pending.size) {
    await Promise.all(
      [...pending].map(async (h) => {
        if (!isSameProcess(h.agent)) throw new LabError(`the agent of ${h.name} exited during start-up; its log ends with:\n${logTail(h.log)}`, 'LAB_AGENT');
        try {
          await fetchStatus(h.socket, 500);
          pending.delete(h);
        } catch {
          /* not yet */
        }
      }),
    );
    if (!pending.size) break;
    if (Date.now() > deadline) throw new LabError(`agents not ready after ${timeoutMs} ms: ${[...pending].map((h) => h.name).join(', ')}`, 'LAB_TIMEOUT');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Hosts as network namespaces of this machine, agents as local processes. */
export const netnsBackend: HostBackend = {
  kind: 'netns',
  paths: (h) => ({
    secretFile: join(h.dir, '..', 'cluster.secret'),
    webTokenFile: join(h.dir, '..', 'web.token'),
    clusterConfig: join(h.dir, '..', 'cluster.yaml'),
    stateDir: join(h.dir, 'state'),
    statusSocket: h.socket,
    k3sRoot: join(h.dir, 'k3s'),
    k3sBin: LAB_K3S,
    // The CA's certificate and CRL are the lab's own files: a `lab revoke` reaches every agent.
    tls: { ca: join(h.dir, '..', 'pki', 'ca.crt'), crl: join(h.dir, '..', 'pki', 'ca.crl'), cert: join(h.dir, 'tls', `${h.name}.crt`), key: join(h.dir, 'tls', `${h.name}.key`) },
  }),
  async create(rec, h, i) {
    await netns.createHost(rec.switchNs, { ns: h.ns, address: h.address, prefix: rec.prefix, mac: h.mac, port: h.port, portMac: netns.macFor(rec.name, 0x20, i + 1) });
    h.agent = startAgent(h);
  },
  waitReady: (_rec, hosts, timeoutMs) => waitReady(hosts, timeoutMs),
  // Agents start in waves as wide as the machine has cores, each wave waiting until its
  // agents answer: N node processes booting at once on a small machine starve each
  // other's heartbeats (on real hosts each agent has its own CPU).
  wave: () => Math.max(1, availableParallelism()),
  setCable: (rec, h, plugged) => netns.setPort(rec.switchNs, h.port, plugged),
  flushNeighbours: (rec) => netns.flushNeighbours(rec.hosts.map((x) => x.ns)),
  async kill(rec, h) {
    if (!h.agent || !isSameProcess(h.agent)) throw new LabError(`the agent of ${h.name} is not running; start it with: infravisor lab start ${h.name} --name ${rec.name}`, 'LAB_STATE');
    const pid = h.agent.pid;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && procIdentity(pid); i++) await new Promise((r) => setTimeout(r, 20));
    h.agent = null;
    return pid;
  },
  async start(_rec, h, waitMs) {
    if (h.agent && isSameProcess(h.agent)) throw new LabError(`the agent of ${h.name} is already running (pid ${h.agent.pid})`, 'LAB_STATE');
    h.agent = startAgent(h);
    await waitReady([h], waitMs);
    return h.agent!.pid;
  },
  exec(_rec, h, argv) {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', h.ns, ...argv], { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  },
  async probe(_rec, h) {
    const running = isSameProcess(h.agent);
    const view = running ? await fetchStatus<AgentStatus>(h.socket, 1500).catch(() => null) : null;
    return { running, pid: running ? h.agent!.pid : null, view, ccpRunning: (await servicesOf(h).mainPid('k3s')) !== null };
  },
  async teardown(_rec, h) {
    const was = h.agent !== null && isSameProcess(h.agent);
    await stopAgent(h);
    // The CCP processes outlive the agents, as on a Pi: stop them too.
    await servicesOf(h).stop('k3s').catch(() => undefined);
    await servicesOf(h).stop('k3s-agent').catch(() => undefined);
    return was;
  },
};
