import * as lab from '../lab/lab.js';
import { formatLabStatus } from './lab-command.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(`\n== ${s}\n`);

async function until(name: string, what: string, pred: (st: Awaited<ReturnType<typeof lab.status>>) => boolean, timeoutMs = 20_000) {
  const t0 = Date.now();
  for (;;) {
    const st = await lab.status(name);
    if (pred(st)) {
      process.stdout.write(`${what} after ${Date.now() - t0} ms\n${formatLabStatus(st)}\n`);
      return;
    }
    if (Date.now() - t0 > timeoutMs) {
      process.stdout.write(`${what}: not within ${timeoutMs} ms\n${formatLabStatus(st)}\n`);
      throw new Error(`demo: ${what} did not happen`);
    }
    await sleep(100);
  }
}

/** The newcomer's tour: hosts come up, find each other from one seed, a cable is pulled, healed. */
export async function runDemo(name: string, hosts: number, keep: boolean): Promise<void> {
  const all = (st: Awaited<ReturnType<typeof lab.status>>, n: number) => st.hosts.filter((h) => h.view && h.view.view.length === n).length;
  await lab.down(name).catch(() => undefined);
  say(`starting ${hosts} emulated hosts (network namespaces h1..h${hosts} on one switch), each with an agent whose only seed is h1`);
  await lab.up({ name, hosts, subnet: '10.99.0.0/24' });
  try {
    await until(name, `every agent sees all ${hosts} hosts`, (st) => all(st, hosts) === hosts);
    say('pulling the cable of h1, the rendezvous: the others move to the next-best broker, h1 is alone');
    await lab.cut(name, 'h1');
    await until(name, `the other ${hosts - 1} agree without h1`, (st) => st.clusters.length === 2 && st.clusters.some((c) => c.members.length === hosts - 1 && c.agreed));
    say('plugging the cable back in: one cluster again');
    await lab.restore(name, 'h1');
    await until(name, 'merged', (st) => st.clusters.length === 1 && st.clusters[0]!.members.length === hosts && st.clusters[0]!.agreed);
  } finally {
    if (keep) {
      say(`lab ${name} keeps running. Try: infravisor lab status --name ${name}; infravisor lab cut h3 --name ${name}; infravisor lab down --name ${name}`);
    } else {
      say('removing the lab');
      const r = await lab.down(name);
      process.stdout.write(`${r.agents} agents stopped, ${r.namespaces.length} namespaces removed\n`);
    }
  }
}
