import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/src/log/logger.js';
import type { CriClient } from '../../agent/src/runtime/cri/client.js';
import type { PodSandboxConfig } from '../../agent/src/runtime/cri/types.js';
import { journalFile } from '../../agent/src/runtime/journal.js';
import { Migration, type MigrationDeps } from '../../agent/src/runtime/migrate.js';
import { OciLayout } from '../../agent/src/runtime/oci/layout.js';
import { hostPlatform, MT } from '../../agent/src/runtime/oci/media.js';
import { resolveManifest } from '../../agent/src/runtime/image.js';
import { Containerd } from '../../agent/src/runtime/source/containerd.js';
import { CriDeployer } from '../../agent/src/runtime/target/cri.js';
import { PodmanDeployer } from '../../agent/src/runtime/target/podman.js';
import { ContainerdStore, ContainersStorage } from '../../agent/src/runtime/target/store.js';
import { run } from '../../agent/src/util/exec.js';
import { CcpConfigSchema, CcpHostSchema, type CcpConfig } from '../../agent/src/config/ccp.js';
import { deriveK3sToken } from '../../agent/src/ccp/config.js';
import { K3sDriver } from '../../agent/src/ccp/k3s/driver.js';
import { SupervisedServices } from '../../agent/src/ccp/service.js';
import { Secret } from '../../agent/src/config/secret.js';
import { ControlPlaneHandover } from '../../agent/src/runtime/control-plane.js';
import { K3S_BIN } from '../support/k3s.js';
import { buildImages, containerPrerequisites, TestContainerd, TestStore, type TestImage } from '../support/containerd.js';
import { describeIf } from '../support/native.js';

const BUSYBOX = 'localhost/infravisor-test/busybox:1';
const DOCKER = 'localhost/infravisor-test/docker-multiarch:1';
const PAUSE = 'localhost/infravisor-test/pause:1';

interface Made {
  id: string;
  /** /proc/1/cmdline of the source container, read before the migration. */
  cmdline: string[];
  token: string;
  args: string[];
  vol: string;
  name: string;
}

let base = '';
let src: TestContainerd;
let srcCri: CriClient;
let layoutDir = '';
let n = 0;

/** The suite's source containerd with its images, started before and removed after the describe block. */
function sourceContainerd(images: TestImage[]): void {
  beforeAll(async () => {
    base = mkdtempSync('/tmp/ivr-rt-');
    src = await TestContainerd.start(join(base, 'src'));
    layoutDir = await buildImages(join(base, 'images'), images);
    // containerd imports what it can unpack; the image with an unknown layer type stays as content.
    await src.importLayout(layoutDir).catch(() => undefined);
    srcCri = src.cri();
  }, 120_000);

  afterAll(async () => {
    srcCri?.close();
    await src?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  }, 120_000);
}

/** A host-network pod with one container per spec; each writes a token into its rootfs, deletes /etc/deleteme and writes into its bind mount. */
async function runPod(cri: CriClient, pod: string, containers: { name: string; image: string }[]): Promise<Made[]> {
  const uid = `uid-${pod}-${++n}`;
  const sandbox: PodSandboxConfig = {
    metadata: { name: pod, uid, namespace: 'migration-test', attempt: 0 },
    logDirectory: join(base, 'logs', pod),
    labels: { app: pod },
    annotations: { 'test/annotation': 'kept' },
    linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
  };
  mkdirSync(sandbox.logDirectory!, { recursive: true });
  const podId = await cri.runPodSandbox(sandbox);
  const out: Made[] = [];
  for (const c of containers) {
    const vol = join(base, 'vol', `${pod}-${c.name}`);
    mkdirSync(vol, { recursive: true });
    const args = ['/bin/sh', '-c', `echo started >> /mnt/vol/starts; exec sleep 1000000`];
    const id = await cri.createContainer(podId, { metadata: { name: c.name }, image: { image: c.image }, command: args.slice(0, 1), args: args.slice(1), envs: [{ key: 'MODE', value: `cri-${c.name}` }], mounts: [{ containerPath: '/mnt/vol', hostPath: vol }], labels: { role: c.name }, logPath: `${c.name}.log` }, sandbox);
    await cri.startContainer(id);
    const token = `token-${c.name}-${Math.random().toString(36).slice(2)}`;
    const r = await cri.execSync(id, ['/bin/sh', '-c', `echo ${token} > /data/token; rm /etc/deleteme; echo ${token} > /mnt/vol/from-container; mkdir -p /var/lib/app && echo state > /var/lib/app/db`]);
    expect(r.exitCode).toBe(0);
    const cmdline = (await cri.execSync(id, ['/bin/sh', '-c', "cat /proc/1/cmdline | tr '\\0' '\\n'"])).stdout.trim().split('\n');
    out.push({ id, token, args, cmdline, vol, name: `migration-test/${pod}/${c.name}` });
  }
  return out;
}

/** A plain containerd container (as `ctr run` or nerdctl make them) in the same namespace. */
async function runPlain(id: string, image: string): Promise<Made> {
  const vol = join(base, 'vol', id);
  mkdirSync(vol, { recursive: true });
  const args = ['/bin/sh', '-c', 'echo started >> /mnt/vol/starts; exec sleep 1000000'];
  await src.ctr(['run', '--detach', '--net-host', '--env', 'MODE=plain', '--mount', `type=bind,src=${vol},dst=/mnt/vol,options=rbind:rw`, '--label', 'role=plain', image, id, ...args]);
  const token = `token-${id}-${Math.random().toString(36).slice(2)}`;
  await src.ctr(['tasks', 'exec', '--exec-id', `w${++n}`, id, '/bin/sh', '-c', `echo ${token} > /data/token; rm /etc/deleteme; echo ${token} > /mnt/vol/from-container`]);
  const cmdline = (await src.ctr(['tasks', 'exec', '--exec-id', `r${++n}`, id, '/bin/sh', '-c', "cat /proc/1/cmdline | tr '\\0' '\\n'"])).trim().split('\n');
  return { id, token, args, cmdline, vol, name: id };
}

function deps(over: Partial<MigrationDeps> & Pick<MigrationDeps, 'store' | 'deployer'>, stateDir: string): MigrationDeps {
  return {
    source: new Containerd(src.socket, 'k8s.io', src.root),
    sourceCri: srcCri,
    layout: new OciLayout(join(stateDir, 'layout')),
    journal: journalFile(stateDir),
    platform: hostPlatform(),
    log: silentLogger(),
    ...over,
  };
}

/** What a migrated container must show: the token it wrote, the file it deleted gone, its env, argv and bind mount. */
async function expectSameState(exec: (cmd: string) => Promise<string>, m: Made, mode: string, configuredArgv: string[], starts = 2): Promise<void> {
  expect(configuredArgv).toEqual(m.args);
  expect((await exec('cat /data/token')).trim()).toBe(m.token);
  expect((await exec('cat /var/lib/app/db 2>/dev/null || echo none')).trim()).toBe(m.name.includes('/') ? 'state' : 'none');
  expect((await exec('test -e /etc/deleteme && echo present || echo deleted')).trim()).toBe('deleted');
  expect((await exec('cat /etc/motd')).trim()).toMatch(/^image /);
  const env = (await exec('env')).split('\n');
  expect(env).toContain(`MODE=${mode}`);
  expect(env).toContain('FOO=bar');
  // The running program (busybox's sh may exec its applet by full path): same program, same arguments.
  const norm = (argv: string[]) => [argv[0]!.split('/').pop(), ...argv.slice(1)];
  expect(norm((await exec("cat /proc/1/cmdline | tr '\\0' '\\n'")).trim().split('\n'))).toEqual(norm(m.cmdline));
  expect((await exec('cat /mnt/vol/from-container')).trim()).toBe(m.token);
  await exec('echo after > /mnt/vol/after-migration');
  expect(readFileSync(join(m.vol, 'after-migration'), 'utf8').trim()).toBe('after');
  // The program started again under the target (no process checkpoint here): two starts in the mount.
  expect(readFileSync(join(m.vol, 'starts'), 'utf8').trim().split('\n')).toEqual(Array(starts).fill('started'));
}

async function taskStatus(id: string): Promise<string> {
  const tasks = await new Containerd(src.socket).tasks();
  return tasks.get(id)?.status ?? 'GONE';
}

describeIf(containerPrerequisites(), 'runtime migration on a real containerd (containerd → podman / CRI)', () => {
  sourceContainerd([{ name: BUSYBOX }, { name: DOCKER, docker: true, multiArch: true }, { name: PAUSE }]);

  it('moves CRI pods and a plain container to podman with their written state, env, argv and mounts', async () => {
    const store = new TestStore(join(base, 'store-podman'));
    const stateDir = join(base, 'state-podman');
    try {
      const cri = await runPod(srcCri, 'web', [
        { name: 'app', image: BUSYBOX },
        { name: 'sidecar', image: DOCKER },
      ]);
      const plain = await runPlain('plain-one', BUSYBOX);
      const storage = new ContainersStorage(store.root, store.runroot);
      const m = new Migration(deps({ store: storage, deployer: new PodmanDeployer(storage, { containersConf: store.conf }) }, stateDir));

      const dry = await m.migrate({ to: 'podman', only: [], parallel: 1, dryRun: true, resume: false });
      expect(dry.dryRun).toBe(true);
      expect(dry.plan.items.map((i) => i.name).sort()).toEqual([...cri.map((c) => c.name), plain.name].sort());
      expect(existsSync(join(stateDir, 'runtime', 'migration.json'))).toBe(false);
      expect(await taskStatus(plain.id)).toBe('RUNNING');

      const report = await m.migrate({ to: 'podman', only: [], parallel: 2, dryRun: false, resume: false });
      expect(report.containers.map((c) => [c.name, c.phase, c.error])).toEqual(expect.arrayContaining([...cri, plain].map((c) => [c.name, 'done', null])));
      expect(report.ok).toBe(true);
      for (const c of report.containers) expect(c.freezeMs).toBeGreaterThan(0);

      for (const made of [...cri, plain]) {
        const entry = report.containers.find((c) => c.name === made.name)!;
        const target = entry.target as { name: string };
        expect((await store.podman(['inspect', '--format', '{{.State.Status}}', target.name])).trim()).toBe('running');
        const mode = made.name.includes('/') ? `cri-${made.name.split('/').pop()}` : 'plain';
        const [inspected] = JSON.parse(await store.podman(['inspect', target.name])) as { Path: string; Args: string[] }[];
        await expectSameState((cmd) => store.podman(['exec', target.name, '/bin/sh', '-c', cmd]), made, mode, [inspected!.Path, ...inspected!.Args]);
        expect(['STOPPED', 'GONE']).toContain(await taskStatus(made.id));
      }
      const st = await srcCri.containerStatus(cri[0]!.id);
      expect(st.status.state).toBe('CONTAINER_EXITED');
      const j = journalFile(stateDir).read()!;
      expect(j.entries.every((e) => e.phase === 'done')).toBe(true);
      expect(j.entries.every((e) => e.history.map((h) => h.phase).join() === 'planned,precopied,frozen,captured,stored,deploying,deploying,verified,done')).toBe(true);
      // The docker-format, multi-arch base kept its layer digests in containers-storage.
      const inspected = JSON.parse(await run(['skopeo', 'inspect', '--raw', storage.ref(DOCKER)])) as { mediaType: string; layers: { digest: string }[]; config: { digest: string } };
      const { manifest: original } = await resolveManifest(new Containerd(src.socket), DOCKER, hostPlatform());
      expect(original.mediaType).toBe(MT.dockerManifest);
      expect(inspected.mediaType).toBe(MT.ociManifest);
      expect(inspected.layers.map((l) => l.digest)).toEqual(original.layers.map((l) => l.digest));
      expect(inspected.config.digest).toBe(original.config.digest);
    } finally {
      await store.stop();
    }
  }, 240_000);
});

/** Wraps an object so that one method never returns: the process "crashes" there (it stops making progress; the journal on disk is what a restart finds). */
function hangAt<T extends object>(obj: T, method: keyof T & string, when: (args: unknown[]) => boolean = () => true): { obj: T; reached: Promise<void> } {
  let signal!: () => void;
  const reached = new Promise<void>((r) => (signal = r));
  const proxy = new Proxy(obj, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== method || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return (...args: unknown[]) => {
        if (!when(args)) return (v as (...a: unknown[]) => unknown).apply(target, args);
        signal();
        return new Promise(() => undefined);
      };
    },
  });
  return { obj: proxy, reached };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describeIf(containerPrerequisites(), 'runtime migration: CRI target, crashes, rollback and bad input', () => {
  sourceContainerd([{ name: BUSYBOX }, { name: PAUSE }, { name: 'localhost/infravisor-test/odd:1', layerMediaType: 'application/vnd.example.custom.layer.v1' }]);

  it('deploys through CRI on a second runtime endpoint with the control plane: same pod metadata, labels, config, state', async () => {
    const dst = await TestContainerd.start(join(base, 'dst'));
    const dstCri = dst.cri();
    // This host's CCP (the k3s stand-in under the real driver and supervisor), moved along in step 5.
    const cpDir = join(base, 'ccp');
    const local = CcpHostSchema.parse({ bin: K3S_BIN, configRoot: join(cpDir, 'etc'), dataDir: join(cpDir, 'data'), port: 27000 + Math.floor(Math.random() * 1000), service: 'supervisor', archiveDir: join(cpDir, 'archive') });
    mkdirSync(join(cpDir, 'run'), { recursive: true });
    const services = new SupervisedServices(join(cpDir, 'run'));
    const host = { name: 'cp', addresses: ['127.0.0.92'] };
    const token = deriveK3sToken(new Secret('runtime-migration-test-secret'), 'lab');
    const ccp = CcpConfigSchema.parse({});
    try {
      await new K3sDriver(local, services).startServer({ cluster: 'lab', generation: 7, host, ccp, local, token });
      await dst.importLayout(layoutDir).catch(() => undefined);
      const [app] = await runPod(srcCri, 'db', [{ name: 'postgres', image: BUSYBOX }]);
      const stateDir = join(base, 'state-cri');
      const controlPlane = new ControlPlaneHandover({ driverFor: (l, u) => new K3sDriver(l, services, u), local, cluster: 'lab', host, ccp, token, runtimeEndpoint: dst.socket, readyTimeoutMs: 30_000, log: silentLogger() });
      let promoted: CcpConfig | null = null;
      const m = new Migration(deps({ store: new ContainerdStore(dst.socket), deployer: new CriDeployer(dstCri), controlPlane, onPromoted: (c) => (promoted = c) }, stateDir));
      const report = await m.migrate({ to: 'cri-o', only: ['postgres'], parallel: 1, dryRun: false, resume: false });
      expect(report.containers.map((c) => [c.name, c.phase, c.error])).toEqual([[app!.name, 'done', null]]);
      expect(report.ok).toBe(true);
      expect(report.controlPlane).toMatchObject({ phase: 'promoted', generation: 7, endpoint: `https://127.0.0.92:${local.port}` });
      expect(promoted!.k3s.containerRuntimeEndpoint).toBe(dst.socket);
      expect(readFileSync(join(local.configRoot, 'config.yaml'), 'utf8')).toContain(`container-runtime-endpoint: ${dst.socket}`);
      expect(existsSync(join(report.controlPlane!.archivedTo!, 'ARCHIVED.json'))).toBe(true);
      expect(journalFile(stateDir).read()!.controlPlane!.phase).toBe('promoted');

      const pods = await dstCri.listPodSandbox();
      expect(pods).toHaveLength(1);
      expect(pods[0]!.metadata).toMatchObject({ name: 'db', namespace: 'migration-test', uid: expect.stringMatching(/^uid-db-/) });
      expect(pods[0]!.labels).toMatchObject({ app: 'db' });
      expect(pods[0]!.annotations).toMatchObject({ 'test/annotation': 'kept' });
      const [c] = await dstCri.listContainers(pods[0]!.id);
      expect(c!.state).toBe('CONTAINER_RUNNING');
      expect(c!.labels).toMatchObject({ role: 'postgres' });
      const status = await dstCri.containerStatus(c!.id);
      const cfg = JSON.parse(status.info.info!) as { config: { command: string[]; args: string[] } };
      await expectSameState(async (cmd) => (await dstCri.execSync(c!.id, ['/bin/sh', '-c', cmd])).stdout, app!, 'cri-postgres', [...cfg.config.command, ...cfg.config.args]);
      expect(status.status.mounts.map((mm) => [mm.containerPath, mm.hostPath])).toContainEqual(['/mnt/vol', app!.vol]);
      expect((await srcCri.containerStatus(app!.id)).status.state).toBe('CONTAINER_EXITED');
      // The emptied source pod is stopped (its sandbox kept for the record, not removed).
      const srcPod = (await srcCri.listPodSandbox()).find((p) => p.metadata.name === 'db')!;
      expect(srcPod.state).toBe('SANDBOX_NOTREADY');
    } finally {
      for (const u of ['k3s', 'k3s-next'] as const) await services.stop(u).catch(() => undefined);
      dstCri.close();
      await dst.stop();
    }
  }, 180_000);

  it('resumes after a crash: half-deployed → rolled back and done again; verified → source stopped; pre-copied → moved', async () => {
    const store = new TestStore(join(base, 'store-crash'));
    const stateDir = join(base, 'state-crash');
    try {
      const a = await runPlain('crash-a', BUSYBOX);
      const b = await runPlain('crash-b', BUSYBOX);
      const storage = new ContainersStorage(store.root, store.runroot);
      const podman = new PodmanDeployer(storage, { containersConf: store.conf });

      // Crash 1: the target container exists and runs, but the run dies before verifying it.
      const hang = hangAt(podman, 'running');
      void new Migration(deps({ store: storage, deployer: hang.obj }, stateDir)).migrate({ to: 'podman', only: ['crash-a'], parallel: 1, dryRun: false, resume: false });
      await hang.reached;
      const j1 = journalFile(stateDir).read()!;
      expect(j1.entries[0]!.phase).toBe('deploying');
      expect(await taskStatus(a.id)).toBe('PAUSED');
      // A fresh run refuses to start over an unfinished journal...
      const fresh = new Migration(deps({ store: storage, deployer: podman }, stateDir));
      await expect(fresh.migrate({ to: 'podman', only: [], parallel: 1, dryRun: false, resume: false })).rejects.toMatchObject({ code: 'JOURNAL' });
      // ...and --resume rolls the half-done container back, then moves it again.
      const resumed = await fresh.migrate({ to: 'podman', only: [], parallel: 1, dryRun: false, resume: true });
      expect(resumed.containers.map((c) => [c.name, c.phase])).toEqual([['crash-a', 'done']]);
      const names = (await store.podman(['ps', '--all', '--format', '{{.Names}}'])).trim().split('\n');
      expect(names).toEqual([`crash-a-${a.id.slice(0, 8)}`]);
      expect((await store.podman(['inspect', '--format', '{{.State.Status}}', names[0]!])).trim()).toBe('running');
      // Started three times: the source, the attempt rolled back on resume, the final target.
      await expectSameState((cmd) => store.podman(['exec', `crash-a-${a.id.slice(0, 8)}`, '/bin/sh', '-c', cmd]), a, 'plain', a.args, 3);

      // Crash 2: the target is verified, the run dies before stopping the source.
      const source = new Containerd(src.socket);
      const hang2 = hangAt(source, 'killFrozen');
      void new Migration(deps({ source: hang2.obj, store: storage, deployer: podman }, stateDir)).migrate({ to: 'podman', only: ['crash-b'], parallel: 1, dryRun: false, resume: false });
      await hang2.reached;
      expect(journalFile(stateDir).read()!.entries[0]!.phase).toBe('verified');
      expect(await taskStatus(b.id)).toBe('PAUSED');
      const finishing = await new Migration(deps({ store: storage, deployer: podman }, stateDir)).migrate({ to: 'podman', only: [], parallel: 1, dryRun: false, resume: true });
      expect(finishing.containers.map((c) => [c.name, c.phase])).toEqual([['crash-b', 'done']]);
      expect(['STOPPED', 'GONE']).toContain(await taskStatus(b.id));
      await expectSameState((cmd) => store.podman(['exec', `crash-b-${b.id.slice(0, 8)}`, '/bin/sh', '-c', cmd]), b, 'plain', b.args);

      // Crash 3: after the pre-copy, before the freeze (the second task listing: the first is the inventory's).
      const c = await runPlain('crash-c', BUSYBOX);
      let calls = 0;
      const hang3 = hangAt(new Containerd(src.socket), 'tasks', () => ++calls >= 2);
      void new Migration(deps({ source: hang3.obj, store: storage, deployer: podman }, stateDir)).migrate({ to: 'podman', only: ['crash-c'], parallel: 1, dryRun: false, resume: false });
      await hang3.reached;
      expect(journalFile(stateDir).read()!.entries[0]!.phase).toBe('precopied');
      expect(await taskStatus(c.id)).toBe('RUNNING');
      const third = await new Migration(deps({ store: storage, deployer: podman }, stateDir)).migrate({ to: 'podman', only: [], parallel: 1, dryRun: false, resume: true });
      expect(third.containers.map((x) => [x.name, x.phase])).toEqual([['crash-c', 'done']]);
      await expectSameState((cmd) => store.podman(['exec', `crash-c-${c.id.slice(0, 8)}`, '/bin/sh', '-c', cmd]), c, 'plain', c.args);
    } finally {
      await store.stop();
    }
  }, 180_000);

  it('rollback after a crash before deploy: the source runs on, the target has nothing', async () => {
    const store = new TestStore(join(base, 'store-rb'));
    const stateDir = join(base, 'state-rb');
    try {
      const c = await runPlain('rollback-me', BUSYBOX);
      const storage = new ContainersStorage(store.root, store.runroot);
      const podman = new PodmanDeployer(storage, { containersConf: store.conf });
      const hang = hangAt(storage, 'importImage', (args) => String(args[2]).includes('infravisor-migrated'));
      void new Migration(deps({ store: hang.obj, deployer: podman }, stateDir)).migrate({ to: 'podman', only: ['rollback-me'], parallel: 1, dryRun: false, resume: false });
      await hang.reached;
      expect(journalFile(stateDir).read()!.entries[0]!.phase).toBe('captured');
      expect(await taskStatus(c.id)).toBe('PAUSED');
      const j = await new Migration(deps({ store: storage, deployer: podman }, stateDir)).rollbackAll();
      expect(j!.entries.map((e) => e.phase)).toEqual(['rolled-back']);
      expect(await taskStatus(c.id)).toBe('RUNNING');
      expect(await src.ctr(['tasks', 'exec', '--exec-id', 'chk', c.id, 'cat', '/data/token'])).toContain(c.token);
      expect((await store.podman(['ps', '--all', '--quiet'])).trim()).toBe('');
      expect(await storage.has('localhost/infravisor-migrated/rollback-me-' + c.id.slice(0, 8) + ':state')).toBe(false);
    } finally {
      await store.stop();
    }
  }, 120_000);

  it('a container that exits midway is reported and the others move; an unsupported image is refused untouched', async () => {
    const store = new TestStore(join(base, 'store-bad'));
    const stateDir = join(base, 'state-bad');
    try {
      const good = await runPlain('stays', BUSYBOX);
      const gone = await runPlain('exits', BUSYBOX);
      // A container whose image name now points at an image with a layer type nobody can apply.
      await src.ctr(['images', 'tag', '--force', BUSYBOX, 'localhost/infravisor-test/odd-run:1']);
      await src.ctr(['run', '--detach', '--net-host', 'localhost/infravisor-test/odd-run:1', 'odd', '/bin/sleep', '1000000']);
      await src.ctr(['images', 'rm', 'localhost/infravisor-test/odd-run:1']);
      await src.ctr(['images', 'tag', '--force', 'localhost/infravisor-test/odd:1', 'localhost/infravisor-test/odd-run:1']);

      const source = new Containerd(src.socket);
      const exiting = new Proxy(source, {
        get(t, p, r) {
          const v = Reflect.get(t, p, r) as unknown;
          if (p === 'pause') return async (id: string) => {
            if (id === gone.id) await src.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
            await new Promise((res) => setTimeout(res, 300));
            return t.pause(id);
          };
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
      const storage = new ContainersStorage(store.root, store.runroot);
      const m = new Migration(deps({ source: exiting, store: storage, deployer: new PodmanDeployer(storage, { containersConf: store.conf }) }, stateDir));
      const r = await m.migrate({ to: 'podman', only: ['stays', 'exits', 'odd'], parallel: 1, dryRun: false, resume: false });
      expect(r.ok).toBe(false);
      const by = Object.fromEntries(r.containers.map((c) => [c.name, c]));
      expect(by.stays!.phase).toBe('done');
      expect(by.exits!.phase).toBe('rolled-back');
      expect(by.exits!.error).toMatch(/^pause: /);
      expect(by.odd!.phase).toBe('rolled-back');
      expect(by.odd!.error).toMatch(/media type application\/vnd\.example\.custom\.layer\.v1/);
      expect(await taskStatus('odd')).toBe('RUNNING');
      expect(['STOPPED', 'GONE']).toContain(await taskStatus(gone.id));
      const j = journalFile(stateDir).read()!;
      expect(j.entries.map((e) => e.phase).sort()).toEqual(['done', 'rolled-back', 'rolled-back']);
      await expectSameState((cmd) => store.podman(['exec', `stays-${good.id.slice(0, 8)}`, '/bin/sh', '-c', cmd]), good, 'plain', good.args);
    } finally {
      await store.stop();
    }
  }, 180_000);

  it('a target store too small is refused before anything is paused; an unreachable socket says which', async () => {
    const store = new TestStore(join(base, 'store-full'));
    const stateDir = join(base, 'state-full');
    try {
      const c = await runPlain('big-writer', BUSYBOX);
      await src.ctr(['tasks', 'exec', '--exec-id', 'fill', c.id, 'dd', 'if=/dev/zero', 'of=/data/blob', 'bs=1M', 'count=6']);
      mkdirSync(store.root, { recursive: true });
      await run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', store.root]);
      const storage = new ContainersStorage(store.root, store.runroot);
      const m = new Migration(deps({ store: storage, deployer: new PodmanDeployer(storage, { containersConf: store.conf }) }, stateDir));
      await expect(m.migrate({ to: 'podman', only: ['big-writer'], parallel: 1, dryRun: false, resume: false })).rejects.toMatchObject({ code: 'NO_SPACE', message: expect.stringMatching(/MB free but the migration needs about \d+ MB.*nothing was changed/) });
      expect(await taskStatus(c.id)).toBe('RUNNING');
      expect(existsSync(join(stateDir, 'runtime', 'migration.json'))).toBe(false);

      const nowhere = new Migration(deps({ source: new Containerd(join(base, 'no-such.sock')), sourceCri: null, store: storage, deployer: new PodmanDeployer(storage) }, join(base, 'state-nowhere')));
      await expect(nowhere.migrate({ to: 'podman', only: [], parallel: 1, dryRun: false, resume: false })).rejects.toMatchObject({ code: 'CRI_UNREACHABLE', message: expect.stringContaining('--containerd-socket') });
      writeFileSync(join(base, 'not-a-socket'), '');
      const { CriClient: Client } = await import('../../agent/src/runtime/cri/client.js');
      const dead = new Client(join(base, 'not-a-socket'), 3000);
      await expect(dead.version()).rejects.toMatchObject({ code: 'CRI_UNREACHABLE' });
      dead.close();
    } finally {
      await store.stop();
    }
  }, 120_000);
});
