import { describe, expect, it } from 'vitest';
import { bindMounts, camelize, matchesOnly, userOf } from '../../agent/src/runtime/inventory.js';
import { advance, canAdvance, finished, newEntry, PHASES, recovery, type Phase } from '../../agent/src/runtime/journal.js';
import { classify, hostPlatform, MT, parseManifest, selectPlatform, toOciManifest, type Manifest } from '../../agent/src/runtime/oci/media.js';
import { buildStateImage } from '../../agent/src/runtime/oci/state-image.js';
import { estimateFreezeMs, planMigration } from '../../agent/src/runtime/plan.js';
import { parseRuntimeOptions } from '../../agent/src/runtime/setup.js';
import { stateImageName, targetName } from '../../agent/src/runtime/target/deployer.js';
import { containerConfigFor, sandboxFor } from '../../agent/src/runtime/target/cri.js';
import type { Workload } from '../../agent/src/runtime/inventory.js';

const d = (c: string) => `sha256:${c.repeat(64).slice(0, 64)}`;
const ociManifest: Manifest = { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: d('c'), size: 10 }, layers: [{ mediaType: MT.ociLayerGzip, digest: d('1'), size: 100 }] };

const workload = (over: Partial<Workload> = {}): Workload => ({
  id: 'abcdef0123456789',
  name: 'default/web/app',
  kind: 'plain',
  image: 'localhost/x:1',
  snapshotKey: 'k',
  snapshotter: 'overlayfs',
  process: { args: ['/bin/app', '--serve'], env: ['PATH=/bin', 'HOSTNAME=old', 'A=1'], cwd: '/srv', user: '1000:1000' },
  hostNetwork: true,
  mounts: [{ source: '/data', destination: '/var/data', readonly: false }],
  labels: { team: 'a' },
  task: 'RUNNING',
  ...over,
});

describe('image media types', () => {
  it.each([
    [MT.ociIndex, 'index'],
    [MT.dockerList, 'index'],
    [MT.ociManifest, 'manifest'],
    [MT.dockerManifest, 'manifest'],
  ])('%s is a %s', (mt, kind) => expect(classify(mt, 'r')).toBe(kind));

  it.each([
    [MT.dockerSchema1Signed, /Docker schema 1/],
    ['application/vnd.cncf.helm.config.v1+json', /neither an OCI nor a Docker schema 2/],
    [undefined, /media type \(none\)/],
  ])('%s is refused with the reason', (mt, msg) => {
    expect(() => classify(mt, 'img:1')).toThrow(msg);
    try {
      classify(mt, 'img:1');
    } catch (err) {
      expect((err as { code: string }).code).toBe('IMAGE_UNSUPPORTED');
    }
  });

  it('refuses a manifest whose layer is not a tar', () => {
    const bad = { ...ociManifest, layers: [{ mediaType: 'application/vnd.example.blob', digest: d('2'), size: 1 }] };
    expect(() => parseManifest(JSON.stringify(bad), 'img:1')).toThrow(/layer sha256:2+ has media type application\/vnd\.example\.blob/);
    expect(parseManifest(JSON.stringify(ociManifest), 'img:1').layers).toHaveLength(1);
    expect(() => parseManifest('{not json', 'img:1')).toThrow(/not JSON/);
  });

  const index = {
    schemaVersion: 2 as const,
    manifests: [
      { mediaType: MT.ociManifest, digest: d('a'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MT.ociManifest, digest: d('6'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
      { mediaType: MT.ociManifest, digest: d('7'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: MT.ociManifest, digest: d('8'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  };
  it.each([
    ['x64', d('a')],
    ['arm', d('7')],
    ['arm64', d('8')],
  ])('picks the %s manifest of a multi-arch index', (arch, digest) => expect(selectPlatform(index, hostPlatform(arch), 'r').digest).toBe(digest));

  it('names the platforms an index has when this one is missing', () => {
    expect(() => selectPlatform(index, hostPlatform('riscv64'), 'img:1')).toThrow('no manifest for linux/riscv64 (it has: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8)');
  });

  it('keeps OCI manifests as they are and gives Docker ones OCI media types over the same blobs', () => {
    const same = toOciManifest(ociManifest);
    expect(same.converted).toBe(false);
    expect(same.manifest).toBe(ociManifest);
    const docker: Manifest = { ...ociManifest, mediaType: MT.dockerManifest, config: { ...ociManifest.config, mediaType: MT.dockerConfig }, layers: [{ mediaType: MT.dockerLayerGzip, digest: d('1'), size: 100 }] };
    const conv = toOciManifest(docker);
    expect(conv.converted).toBe(true);
    expect(conv.manifest.mediaType).toBe(MT.ociManifest);
    expect(conv.manifest.config).toEqual({ mediaType: MT.ociConfig, digest: d('c'), size: 10 });
    expect(conv.manifest.layers).toEqual([{ mediaType: MT.ociLayerGzip, digest: d('1'), size: 100 }]);
  });
});

describe('state image', () => {
  const baseConfig = { architecture: 'arm64', os: 'linux', config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/old'], Labels: { from: 'image' }, ExposedPorts: { '80/tcp': {} } }, rootfs: { type: 'layers', diff_ids: [d('9')] }, history: [{ created_by: 'base' }] };
  const build = (at = '2026-01-01T00:00:00.000Z') =>
    buildStateImage({
      base: ociManifest,
      baseConfig,
      diff: { digest: d('f'), size: 2048 },
      process: { args: ['/bin/app', '--serve'], env: ['PATH=/bin', 'HOSTNAME=old', 'A=1'], cwd: '/srv', user: '1000:1000', labels: { migrated: 'yes' } },
      source: { runtime: 'containerd', container: 'default/web/app', at },
      refName: 'state-1',
    });

  it('is the base plus the diff layer, with the process configuration of the container', () => {
    const img = build();
    const config = JSON.parse(img.config.toString());
    const manifest = JSON.parse(img.manifest.toString());
    expect(config.rootfs.diff_ids).toEqual([d('9'), d('f')]);
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual([d('1'), d('f')]);
    expect(manifest.layers[1].mediaType).toBe(MT.ociLayer);
    expect(config.config.Env).toEqual(['PATH=/bin', 'A=1']);
    expect(config.config.Entrypoint).toEqual(['/bin/app', '--serve']);
    expect(config.config.Cmd).toBeNull();
    expect(config.config.WorkingDir).toBe('/srv');
    expect(config.config.User).toBe('1000:1000');
    expect(config.config.Labels).toEqual({ from: 'image', migrated: 'yes' });
    expect(config.config.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(config.architecture).toBe('arm64');
    expect(config.history).toHaveLength(2);
    expect(manifest.config.digest).toBe(img.configDescriptor.digest);
  });

  it('is deterministic: same inputs, same digests', () => {
    expect(build().manifestDescriptor).toEqual(build().manifestDescriptor);
    expect(build('2026-01-02T00:00:00.000Z').manifestDescriptor.digest).not.toBe(build().manifestDescriptor.digest);
  });
});

describe('migration journal', () => {
  const order: Phase[] = ['planned', 'precopied', 'frozen', 'captured', 'stored', 'deploying', 'verified', 'done'];
  it('advances one step at a time and never past verified backwards', () => {
    for (let i = 0; i + 1 < order.length; i++) expect(canAdvance(order[i]!, order[i + 1]!)).toBe(true);
    expect(canAdvance('planned', 'frozen')).toBe(false);
    expect(canAdvance('frozen', 'deploying')).toBe(false);
    expect(canAdvance('verified', 'rolled-back')).toBe(false);
    expect(canAdvance('done', 'planned')).toBe(false);
    for (const p of ['planned', 'precopied', 'frozen', 'captured', 'stored', 'deploying'] as Phase[]) expect(canAdvance(p, 'rolled-back')).toBe(true);
  });

  it.each([
    ['planned', 'start'],
    ['precopied', 'start'],
    ['frozen', 'rollback'],
    ['captured', 'rollback'],
    ['stored', 'rollback'],
    ['deploying', 'rollback'],
    ['failed', 'rollback'],
    ['verified', 'finish'],
    ['done', 'none'],
    ['rolled-back', 'start'],
  ] as [Phase, string][])('after a crash in %s: %s', (phase, action) => expect(recovery(phase)).toBe(action));

  it('covers every phase in the recovery table', () => {
    for (const p of PHASES) expect(['start', 'rollback', 'finish', 'none']).toContain(recovery(p));
  });

  it('records history and refuses a skipped step', () => {
    let e = newEntry(workload(), 1);
    e = advance(e, 'precopied', 2);
    e = advance(e, 'frozen', 3, { pausedByUs: true });
    expect(e.history.map((h) => [h.phase, h.at])).toEqual([['planned', 1], ['precopied', 2], ['frozen', 3]]);
    expect(e.pausedByUs).toBe(true);
    expect(() => advance(e, 'verified', 4)).toThrow(/cannot go from frozen to verified/);
    const j = { id: 'x', from: 'containerd' as const, to: 'podman' as const, createdAt: 0, updatedAt: 0, pods: {}, entries: [e] };
    expect(finished(j)).toBe(false);
    expect(finished({ ...j, entries: [advance(e, 'rolled-back', 5)] })).toBe(true);
  });
});

describe('plan', () => {
  it('expects a longer freeze for a larger diff, and a fixed floor for none', () => {
    expect(estimateFreezeMs(0, 'cri-o')).toBeGreaterThan(100);
    expect(estimateFreezeMs(50e6, 'podman')).toBeGreaterThan(estimateFreezeMs(1e6, 'podman'));
  });

  it('counts each base image once and carries refusals', () => {
    const a = workload({ id: 'a'.repeat(16), name: 'a' });
    const b = workload({ id: 'b'.repeat(16), name: 'b' });
    const p = planMigration('cri-o', [a, b], { image: new Map([['localhost/x:1', 5e6]]), diff: new Map([[a.id, 1e6]]), problems: new Map() }, 2);
    expect(p.images).toEqual([{ ref: 'localhost/x:1', bytes: 5e6 }]);
    expect(p.precopyBytes).toBe(5e6);
    expect(p.items.map((i) => i.diffBytes)).toEqual([1e6, 0]);
    const refused = planMigration('cri-o', [a], { image: new Map(), diff: new Map(), problems: new Map([['localhost/x:1', 'schema 1']]) });
    expect(refused.items[0]!.problem).toBe('schema 1');
  });
});

describe('inventory helpers', () => {
  it('camelizes the CRI JSON a runtime reports, but not map keys', () => {
    const v = camelize({ container_path: '/a', labels: { my_label: 'x' }, linux: { security_context: { namespace_options: { network: 2 } } }, mounts: [{ host_path: '/h' }] });
    expect(v).toEqual({ containerPath: '/a', labels: { my_label: 'x' }, linux: { securityContext: { namespaceOptions: { network: 2 } } }, mounts: [{ hostPath: '/h' }] });
  });

  it('keeps user bind mounts and drops the ones a runtime adds', () => {
    const spec = {
      process: { args: ['x'] },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/etc/hosts', type: 'bind', source: '/run/x/hosts', options: ['rbind'] },
        { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rw'] },
        { destination: '/cfg', source: '/srv/cfg', options: ['rbind', 'ro'] },
      ],
    };
    expect(bindMounts(spec)).toEqual([
      { source: '/srv/data', destination: '/data', readonly: false },
      { source: '/srv/cfg', destination: '/cfg', readonly: true },
    ]);
    expect(userOf({ process: { args: [], user: { uid: 0, gid: 0 } } })).toBeUndefined();
    expect(userOf({ process: { args: [], user: { uid: 1000, gid: 100 } } })).toBe('1000:100');
  });

  it.each([
    [['default/web/app'], true],
    [['app'], true],
    [['web/app'], true],
    [['abcdef'], true],
    [['abc'], false],
    [['other'], false],
    [[], true],
  ])('--only %j matches default/web/app: %s', (only, want) => expect(matchesOnly({ id: 'abcdef0123', name: 'default/web/app' }, only)).toBe(want));
});

describe('targets', () => {
  it('names target containers and state images safely and uniquely', () => {
    expect(targetName({ id: 'abcdef0123', name: 'default/web/app' })).toBe('default-web-app-abcdef01');
    expect(stateImageName({ id: 'abcdef0123', name: 'Default/WEB' })).toBe('localhost/infravisor-migrated/default-web-abcdef01:state');
  });

  it('gives a plain container its own CRI pod with the same network mode, and a CRI one its original configs', () => {
    const plain = workload();
    expect(sandboxFor(plain).linux?.securityContext?.namespaceOptions?.network).toBe('NODE');
    expect(sandboxFor(workload({ hostNetwork: false })).hostname).toBe('default-web-app-abcdef01');
    expect(containerConfigFor(plain, 'img')).toMatchObject({ image: { image: 'img' }, mounts: [{ containerPath: '/var/data', hostPath: '/data', readonly: false }] });
    const sandbox = { metadata: { name: 'p', uid: 'u', namespace: 'n' } };
    const cri = workload({ kind: 'cri', cri: { podSandboxId: 'pod', sandbox, container: { metadata: { name: 'c' }, image: { image: 'old' }, command: ['/x'], envs: [{ key: 'K', value: 'V' }] } } });
    expect(sandboxFor(cri)).toBe(sandbox);
    expect(containerConfigFor(cri, 'new')).toMatchObject({ metadata: { name: 'c' }, image: { image: 'new' }, command: ['/x'], envs: [{ key: 'K', value: 'V' }] });
  });
});

describe('runtime command options', () => {
  const good = { from: 'containerd', to: 'cri-o', containerdSocket: '/run/c.sock', containerdRoot: '/var/lib/containerd', containerdNamespace: 'k8s.io', cri: true, storageRoot: '/var/lib/containers/storage', storageRunroot: '/run/containers/storage', storageDriver: 'overlay', targetEndpoint: '/var/run/crio/crio.sock', targetStore: 'containers-storage', only: [], parallel: '2', stateDir: '/var/lib/infravisor' };
  it('accepts the defaults', () => expect(parseRuntimeOptions(good).parallel).toBe(2));
  it.each([
    [{ to: 'docker' }, /--to: unknown target runtime "docker": choose one of cri-o, podman/],
    [{ from: 'cri-o' }, /--from: unknown source runtime "cri-o": this version migrates from containerd/],
    [{ parallel: '0' }, /--parallel/],
    [{ storageRoot: 'relative' }, /--storage-root: must be an absolute path/],
    [{ targetStore: 'docker' }, /--target-store/],
  ])('refuses %j with a message naming the option', (over, msg) => expect(() => parseRuntimeOptions({ ...good, ...over })).toThrow(msg));
});
