import * as lab from '../lab/lab.js';
import type { LabStatus } from '../lab/status.js';
import { violations } from '../lab/invariants.js';
import { formatLabStatus } from './lab-format.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(`\n== ${s}\n`);

async function until(name: string, what: string, pred: (st: LabStatus) => boolean, timeoutMs = 30_000): Promise<LabStatus> {
  const t0 = Date.now();
  for (;;) {
    const st = await lab.status(name);
    if (pred(st)) {
      process.stdout.write(`${what} after ${((Date.now() - t0) / 1000).toFixed(1)} s\n${formatLabStatus(st)}\n`);
      return st;
    }
    if (Date.now() - t0 > timeoutMs) {
      process.stdout.write(`${what}: not within ${timeoutMs / 1000} s\n${formatLabStatus(st)}\n`);
      throw new Error(`demo: ${what} did not happen`);
    }
    await sleep(200);
  }
}

/** The fault-handling invariants hold: one primary and one ready, followed CCP per cluster, whose API lists every member as a Ready node. */
const settled = (st: LabStatus) => violations(st).length === 0;

/** The newcomer's tour: hosts find each other from one seed, elect a primary, run a CCP; a cable is pulled; heal. */
export async function runDemo(name: string, hosts: number, keep: boolean, pauseMs = 5000): Promise<void> {
  await lab.down(name).catch(() => undefined);
  say(`starting ${hosts} emulated hosts (network namespaces h1..h${hosts} on one switch), each with an agent whose only seed is h1`);
  await lab.up({ name, hosts, subnet: '10.99.0.0/24' });
  const url = (await lab.status(name)).dashboard;
  say(`watch it live in a browser: ${url ?? '(no dashboard)'}`);
  try {
    await sleep(pauseMs);
    const st = await until(name, `all ${hosts} hosts found each other, elected a primary and started the CCP (a k3s stand-in)`, (s) => s.clusters.length === 1 && s.clusters[0]!.members.length === hosts && settled(s));
    const ccpHost = st.clusters[0]!.ccp!.host;
    await sleep(pauseMs);
    const vip = st.hosts.find((h) => h.name === ccpHost)?.view?.ccp.vip;
    const follow = vip ? `, which takes the cluster address ${vip} on their side: their k3s agents follow it without a restart` : ', and re-point their k3s agents at it';
    say(`pulling the cable of ${ccpHost}, the CCP host: the others elect a primary and start a second CCP${follow}; ${ccpHost} carries on alone`);
    await lab.cut(name, ccpHost);
    await until(name, 'two autonomous clusters, each with its own CCP', (s) => s.clusters.length === 2 && s.clusters.every((c) => c.ccp && c.members.includes(c.ccp.host)) && settled(s));
    await sleep(pauseMs);
    say(`plugging the cable back in: the clusters merge; the CCP with more followers wins, the other is archived`);
    await lab.restore(name, ccpHost);
    await until(name, 'merged', (s) => s.clusters.length === 1 && s.clusters[0]!.members.length === hosts && settled(s) && s.hosts.filter((h) => h.ccpRunning).length === 1);
    await sleep(pauseMs);
  } finally {
    if (keep) {
      say(`lab ${name} keeps running. Try: infravisor lab status --name ${name}; infravisor lab partition h1,h2 h3,h4,h5 --name ${name}; infravisor lab down --name ${name}`);
    } else {
      say('removing the lab');
      const r = await lab.down(name);
      process.stdout.write(`${r.agents} agents stopped, ${r.namespaces.length} namespaces removed\n`);
    }
  }
}
