import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allSee, lab, labDescribe } from '../support/lab.js';
import { waitFor } from '../support/wait.js';
import { labDir, loadRecord, saveRecord } from '../../agent/src/lab/record.js';
import { listNamespaces } from '../../agent/src/lab/netns.js';
import { canReach } from '../../agent/src/lab/partition.js';

const NAME = 't-cmd';
const H = ['h1', 'h2', 'h3', 'h4', 'h5'];

function ping(ns: string, address: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', '-q', address]).status === 0;
}

async function reachability() {
  const rec = loadRecord(NAME);
  const out: Record<string, boolean> = {};
  await Promise.all(
    rec.hosts.flatMap((a) =>
      rec.hosts.filter((b) => a.name < b.name).map(async (b) => {
        out[`${a.name}-${b.name}`] = ping(a.ns, b.address);
      }),
    ),
  );
  return out;
}

labDescribe('lab: cables, partitions, loss, exec and clean-up', () => {
  beforeAll(async () => {
    await lab.down(NAME).catch(() => undefined);
    await lab.up({ name: NAME, hosts: 5, subnet: '10.97.0.0/24' });
  });
  afterAll(async () => {
    await lab.down(NAME);
  });

  it('a pulled cable isolates its host, and the agents see it; plugging it back rejoins', async () => {
    const rec = loadRecord(NAME);
    await lab.cut(NAME, 'h3');
    // h3 learns it from netlink, before any keepalive could lapse.
    const isolatedIn = await waitFor(async () => (await lab.status(NAME)).hosts.find((h) => h.name === 'h3')!.view?.isolated === true, 5000, 'h3 isolated');
    const h3 = (await lab.status(NAME)).hosts.find((h) => h.name === 'h3')!.view!;
    expect(h3.link).toMatchObject({ ifname: 'eth0', carrier: false, lost: true, backend: 'native' });
    expect(h3.view).toEqual(['h3']);
    console.log(`h3 marked itself isolated ${isolatedIn} ms after the cut (status polled every 50 ms)`);
    expect(ping(rec.hosts[0]!.ns, rec.hosts[2]!.address)).toBe(false);
    const carrier = spawnSync('ip', ['netns', 'exec', rec.hosts[2]!.ns, 'cat', '/sys/class/net/eth0/carrier'], { encoding: 'utf8' }).stdout.trim();
    expect(carrier).toBe('0');
    await waitFor(async () => allSee(await lab.status(NAME), ['h1', 'h2', 'h4', 'h5']), 10_000, 'the rest without h3');
    expect((await lab.status(NAME)).hosts.find((h) => h.name === 'h3')!.cable).toBe('out');
    await lab.restore(NAME, 'h3');
    expect(ping(rec.hosts[0]!.ns, rec.hosts[2]!.address)).toBe(true);
    await waitFor(async () => allSee(await lab.status(NAME), H), 10_000, 'h3 back');
    expect((await lab.status(NAME)).hosts.find((h) => h.name === 'h3')!.view!.isolated).toBe(false);
  });

  it('a bridge partition lets exactly the hosts that share a group reach each other', async () => {
    const groups = [['h1', 'h2', 'h3'], ['h3', 'h4', 'h5']];
    await lab.partition(NAME, groups.map((g) => g.join(',')));
    const r = await reachability();
    for (const [pair, ok] of Object.entries(r)) {
      const [a, b] = pair.split('-') as [string, string];
      expect([pair, ok]).toEqual([pair, canReach(groups, a, b)]);
    }
    await lab.heal(NAME);
    expect(Object.values(await reachability()).every(Boolean)).toBe(true);
  });

  it('loss drops a share of the packets on one cable and 0 removes it', async () => {
    const rec = loadRecord(NAME);
    await lab.loss(NAME, 'h2', 100);
    expect(ping(rec.hosts[0]!.ns, rec.hosts[1]!.address)).toBe(false);
    const rules = spawnSync('ip', ['netns', 'exec', rec.switchNs, 'nft', 'list', 'ruleset'], { encoding: 'utf8' }).stdout;
    expect(rules).toMatch(/iifname "p-h2" drop/);
    await lab.loss(NAME, 'h2', 30);
    expect(spawnSync('ip', ['netns', 'exec', rec.switchNs, 'nft', 'list', 'ruleset'], { encoding: 'utf8' }).stdout).toMatch(/oifname "p-h2" numgen random mod 100 < 30 drop/);
    await lab.loss(NAME, 'h2', 0);
    expect(ping(rec.hosts[0]!.ns, rec.hosts[1]!.address)).toBe(true);
  });

  it('exec runs a command inside a host namespace and returns its status', async () => {
    const r = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'lab', 'exec', '--name', NAME, 'h2', '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(loadRecord(NAME).hosts[1]!.address);
    const f = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'lab', 'exec', '--name', NAME, 'h2', '--', 'false']);
    expect(f.status).toBe(1);
  });

  it('a command naming an unknown host changes nothing and says so', async () => {
    const before = JSON.stringify(loadRecord(NAME));
    for (const args of [['cut', 'h9'], ['partition', 'h1,h9', 'h2'], ['kill', 'h9'], ['loss', 'h9', '10']]) {
      const r = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'lab', ...args, '--name', NAME], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/unknown host h9; this lab has h1, h2, h3, h4, h5\. Nothing was changed\./);
    }
    expect(JSON.stringify(loadRecord(NAME))).toBe(before);
  });

  it('status --json follows the documented contract', async () => {
    const r = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'lab', 'status', '--name', NAME, '--json'], { encoding: 'utf8' });
    const st = JSON.parse(r.stdout);
    expect(Object.keys(st.hosts[0]).sort()).toEqual(expect.arrayContaining(['name', 'address', 'cable', 'agent', 'following', 'ccpRunning', 'view']));
    expect(Object.keys(st.clusters[0]).sort()).toEqual(expect.arrayContaining(['id', 'term', 'primary', 'members', 'ccp']));
  });
});

labDescribe('lab: down after a crash', () => {
  it('removes a half-built lab from its record, and the namespaces by name even without one', async () => {
    const name = 't-crash';
    await lab.down(name).catch(() => undefined);
    await lab.up({ name, hosts: 2, subnet: '10.96.0.0/24' });
    try {
    const rec = loadRecord(name);
    rec.state = 'creating'; // as if the controller died midway
    saveRecord(rec);
    const r = await lab.down(name);
    expect(r.agents).toBe(2);
    expect((await listNamespaces()).filter((n) => n.startsWith(`ivl-${name}-`))).toEqual([]);
    expect(existsSync(labDir(name))).toBe(false);
    for (const pid of rec.hosts.map((h) => h.agent!.pid)) expect(existsSync(`/proc/${pid}`)).toBe(false);
    // Record gone, namespaces still there (a crash before the first save): down by naming.
    spawnSync('ip', ['netns', 'add', `ivl-${name}-sw`]);
    await lab.down(name);
    expect((await listNamespaces()).filter((n) => n.startsWith(`ivl-${name}-`))).toEqual([]);
    } finally {
      await lab.down(name).catch(() => undefined);
    }
  });
});
