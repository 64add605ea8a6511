import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { labDir } from '../../agent/src/lab/record.js';
import type { LabStatus } from '../../agent/src/lab/status.js';
import { lab, labDescribe, vmPrerequisites } from '../support/lab.js';
import { converged as convergedIn } from '../support/converged.js';

/**
 * The cluster on three emulated arm64 VMs (QEMU -M virt, cortex-a72, Debian's arm64 kernel,
 * npm's arm64 Node, the arm64 prebuild of the netlink addon): they form one cluster; the CCP
 * host's cable is pulled through QEMU (set_link), its guest sees carrier loss through netlink,
 * the other two run their own CCP; the cable goes back and the clusters merge. Under
 * emulation everything is ~10x slower than on a Pi, hence the generous deadlines.
 */
const NAME = 't-a64';
const HOSTS = ['h1', 'h2', 'h3'];

const converged = (what: string, expected: (st: LabStatus) => boolean, reach?: (a: string, b: string) => boolean, timeoutMs = 180_000) =>
  convergedIn(NAME, what, { expected, reach, timeoutMs, everyMs: 1000 });

labDescribe(
  'arm64 VMs: one cluster, a cable pulled through QEMU, a second CCP, merge',
  () => {
    beforeAll(async () => {
      await lab.down(NAME).catch(() => undefined);
      const r = await lab.up({ name: NAME, hosts: 3, subnet: '10.93.0.0/24', arch: 'arm64' });
      console.log(`3 arm64 VMs up in ${Date.now() - r.record.createdAt} ms`);
    }, 900_000);
    afterAll(async () => {
      await lab.down(NAME);
    }, 120_000);

    it('forms one cluster of arm64 hosts with the native netlink watcher', async () => {
      const st = await converged('formation', (s) => s.clusters.length === 1 && s.clusters[0]!.members.length === 3);
      for (const h of st.hosts) {
        expect(h.view?.facts.arch, h.name).toBe('arm64');
        expect(h.view?.link?.backend, h.name).toBe('native');
      }
      expect(st.hosts.filter((h) => h.ccpRunning)).toHaveLength(1);
    }, 240_000);

    it('cutting the CCP host: the guest sees carrier loss, the rest run their own CCP; heal merges', async () => {
      const before = (await lab.status(NAME)).clusters[0]!;
      const cut = before.ccp!.host;
      const rest = HOSTS.filter((h) => h !== cut);
      await lab.cut(NAME, cut);
      const reach = (a: string, b: string) => a === b || (a !== cut && b !== cut);
      const st = await converged(`cut ${cut}`, (s) => {
        const side = s.clusters.find((c) => c.members.includes(rest[0]!));
        return Boolean(side && side.members.join() === rest.join() && side.ccp && rest.includes(side.ccp.host) && side.ccp.ready);
      }, reach);
      const alone = st.hosts.find((h) => h.name === cut)!;
      expect(alone.view?.link?.carrier).toBe(false);
      expect(st.clusters.find((c) => c.members.includes(cut))!.members).toEqual([cut]);

      await lab.heal(NAME);
      const healed = await converged('heal', (s) => s.clusters.length === 1 && s.clusters[0]!.members.length === 3);
      expect(healed.hosts.filter((h) => h.ccpRunning)).toHaveLength(1);
      expect(healed.hosts.find((h) => h.name === cut)!.view?.link?.carrier).toBe(true);
    }, 600_000);
  },
  vmPrerequisites,
);

labDescribe(
  'arm64 VMs: a VM that misses its deadline',
  () => {
    it('fails lab up with the tail of its console, and leaves nothing behind', async () => {
      const name = 't-a64d';
      await lab.down(name).catch(() => undefined);
      const err = await lab.up({ name, hosts: 1, subnet: '10.94.0.0/24', arch: 'arm64', readyTimeoutMs: 1500 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/h1 did not have its agent ready within 1\.5 s; its console ends with:/);
      expect(existsSync(labDir(name))).toBe(false);
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`ivl-${name}-`);
      expect(execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' }).split('\n').filter((l) => !l.startsWith('Z') && l.includes(`/${name}/`))).toEqual([]);
    }, 300_000);
  },
  vmPrerequisites,
);
