import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../agent/src/log/logger.js';
import { resolveManifest } from '../agent/src/runtime/image.js';
import { journalFile } from '../agent/src/runtime/journal.js';
import { Migration } from '../agent/src/runtime/migrate.js';
import { OciLayout } from '../agent/src/runtime/oci/layout.js';
import { hostPlatform, MT } from '../agent/src/runtime/oci/media.js';
import { buildStateImage } from '../agent/src/runtime/oci/state-image.js';
import { Containerd } from '../agent/src/runtime/source/containerd.js';
import { PodmanDeployer } from '../agent/src/runtime/target/podman.js';
import { ContainersStorage } from '../agent/src/runtime/target/store.js';
import { run } from '../agent/src/util/exec.js';
import { buildImages, TestContainerd, TestStore } from '../test/support/containerd.js';
import { summarize, table, writeResult } from './lib.js';

/**
 * `npm run bench -- migrate [--containers 5] [--bases 1,200] [--diffs 1,50] [--parallel 1]` (root; containerd,
 * skopeo, podman): for base images of 1 MB and 200 MB × writable diffs of 1 MB and 50 MB, 5
 * plain containerd containers each, the freeze per container (pause → running under podman)
 * and the total time of `infravisor runtime migrate`, side by side with the naive path on the
 * same kind of containers: stop → `ctr images export` of the image → the diff → skopeo of the
 * whole state into containers-storage → start. Then the throughput of the migration against a
 * plain skopeo copy of the same bytes into an empty store.
 */
const MB = 1024 * 1024;

async function writeDiff(src: TestContainerd, id: string, mb: number): Promise<void> {
  await src.ctr(['tasks', 'exec', '--exec-id', `fill-${id}`, id, '/bin/sh', '-c', `dd if=/dev/urandom of=/data/state bs=1M count=${mb} 2>/dev/null; echo ok > /data/marker; rm -f /etc/deleteme`]);
}

async function startContainers(src: TestContainerd, image: string, prefix: string, n: number, diffMb: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    await src.ctr(['run', '--detach', '--net-host', image, id, '/bin/sleep', '1000000']);
    await writeDiff(src, id, diffMb);
    ids.push(id);
  }
  return ids;
}

/** The naive path for one container: everything happens while it is stopped. */
async function naive(src: TestContainerd, source: Containerd, id: string, image: string, store: TestStore, work: string): Promise<number> {
  const t0 = Date.now();
  await source.stopTask(id, 0);
  mkdirSync(work, { recursive: true });
  const archive = join(work, `${id}.tar`);
  await run(['ctr', '--address', src.socket, '--namespace', 'k8s.io', 'images', 'export', '--platform', `linux/${hostPlatform().architecture}`, archive, image], { timeoutMs: 600_000 });
  const dir = join(work, id);
  mkdirSync(dir, { recursive: true });
  await run(['tar', '-C', dir, '-xf', archive]);
  rmSync(archive);
  const layout = new OciLayout(dir);
  const info = await source.info(id);
  const diff = await source.diff(info.SnapshotKey, info.Snapshotter, layout); // containerd's differ, as a naive tool would
  const { manifest } = await resolveManifest(source, image, hostPlatform());
  const config = JSON.parse(layout.readBlob(manifest.config.digest).toString()) as Record<string, unknown>;
  const img = buildStateImage({ base: { ...manifest, mediaType: MT.ociManifest }, baseConfig: config, diff, process: { args: info.Spec.process.args, env: info.Spec.process.env ?? [], cwd: '/', labels: {} }, source: { runtime: 'containerd', container: id, at: new Date().toISOString() }, refName: 'state' });
  layout.putBytes(img.config);
  layout.putBytes(img.manifest);
  layout.tag('state', img.manifestDescriptor);
  const storage = new ContainersStorage(store.root, store.runroot);
  await storage.importImage(layout, 'state', `localhost/naive/${id}:state`);
  await store.podman(['run', '--detach', '--name', `naive-${id}`, '--network', 'host', `localhost/naive/${id}:state`]);
  const ms = Date.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

export async function migrate(args: string[]): Promise<void> {
  const arg = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
  const n = Number(arg('--containers') ?? 5);
  const bases = (arg('--bases') ?? '1,200').split(',').map(Number);
  const diffs = (arg('--diffs') ?? '1,50').split(',').map(Number);
  const parallel = Number(arg('--parallel') ?? 1);
  const base = mkdtempSync('/tmp/ivr-bench-migrate-');
  const src = await TestContainerd.start(join(base, 'src'));
  const rows: (string | number)[][] = [];
  const results: unknown[] = [];
  try {
    const images = bases.map((mb) => ({ mb, name: `localhost/bench/base-${mb}m:1` }));
    // busybox itself is ~1 MB: the 1 MB base is busybox alone, larger ones add random bytes.
    const layoutDir = await buildImages(join(base, 'images'), [...images.map((i) => ({ name: i.name, payloadBytes: i.mb > 1 ? (i.mb - 1) * MB : 0 })), { name: 'localhost/infravisor-test/pause:1' }]);
    await src.importLayout(layoutDir);
    rmSync(join(base, 'images'), { recursive: true, force: true });
    const source = new Containerd(src.socket, 'k8s.io', src.root);
    for (const img of images) {
      const { manifest } = await resolveManifest(source, img.name, hostPlatform());
      const baseBytes = manifest.layers.reduce((s, l) => s + l.size, 0);
      for (const diffMb of diffs) {
        const cell = `${img.mb}m-${diffMb}m`;
        // infravisor: pre-copy while running, freeze only for the diff.
        const store = new TestStore(join(base, `store-${cell}`));
        const ids = await startContainers(src, img.name, `mig-${cell}`, n, diffMb);
        const storage = new ContainersStorage(store.root, store.runroot);
        const stateDir = join(base, `state-${cell}`);
        const m = new Migration({ source, sourceCri: null, store: storage, deployer: new PodmanDeployer(storage, { containersConf: store.conf }), layout: new OciLayout(join(stateDir, 'layout')), journal: journalFile(stateDir), platform: hostPlatform(), log: silentLogger() });
        const report = await m.migrate({ to: 'podman', only: ids, parallel, dryRun: false, resume: false });
        if (!report.ok) throw new Error(`migration failed: ${JSON.stringify(report.containers.map((c) => c.error))}`);
        const freeze = report.containers.map((c) => c.freezeMs!);
        const j = journalFile(stateDir).read()!;
        const phaseMs = (from: string, to: string) => summarize(j.entries.map((e) => (e.history.find((h) => h.phase === to)?.at ?? 0) - (e.history.find((h) => h.phase === from)?.at ?? 0))).median;
        const breakdown = { diff: phaseMs('frozen', 'captured'), store: phaseMs('captured', 'stored'), deploy: phaseMs('stored', 'verified') };
        const movedBytes = baseBytes + n * diffMb * MB;
        // A plain skopeo copy of the same bytes (the base and the five state images) into an empty store.
        const plain = new TestStore(join(base, `plain-${cell}`));
        const plainStorage = new ContainersStorage(plain.root, plain.runroot);
        const layout = new OciLayout(join(stateDir, 'layout'));
        const t0 = Date.now();
        for (const d of layout.index()) {
          const ref = d.annotations!['org.opencontainers.image.ref.name']!;
          await plainStorage.importImage(layout, ref, `localhost/plain/${ref}:1`);
        }
        const skopeoMs = Date.now() - t0;
        await plain.stop();
        await store.stop();

        // The naive path on fresh containers of the same kind.
        const nstore = new TestStore(join(base, `naive-${cell}`));
        const nids = await startContainers(src, img.name, `naive-${cell}`, n, diffMb);
        const naiveFreeze: number[] = [];
        const tn = Date.now();
        for (const id of nids) naiveFreeze.push(await naive(src, source, id, img.name, nstore, join(base, 'naive-work')));
        const naiveTotal = Date.now() - tn;
        await nstore.stop();
        for (const id of [...ids, ...nids]) {
          await source.stopTask(id, 0).catch(() => undefined);
          await src.ctr(['containers', 'delete', id]).catch(() => undefined);
        }
        rmSync(stateDir, { recursive: true, force: true });

        const f = summarize(freeze);
        const nf = summarize(naiveFreeze);
        const throughput = movedBytes / MB / (report.totalMs / 1000);
        const skopeoThroughput = movedBytes / MB / (skopeoMs / 1000);
        rows.push([`${img.mb} MB`, `${diffMb} MB`, f.median, f.max, nf.median, Number((nf.median / f.median).toFixed(1)), report.totalMs, naiveTotal, Number(throughput.toFixed(1)), Number(skopeoThroughput.toFixed(1)), Number((throughput / skopeoThroughput).toFixed(2))]);
        results.push({ baseMB: img.mb, diffMB: diffMb, containers: n, parallel, freezeMs: freeze, freeze: f, breakdownMedianMs: breakdown, totalMs: report.totalMs, precopyMs: report.precopyMs, naiveFreezeMs: naiveFreeze, naiveFreeze: nf, naiveTotalMs: naiveTotal, movedBytes, skopeoMs, throughputMBps: throughput, skopeoMBps: skopeoThroughput });
        process.stderr.write(`${cell}: freeze median ${f.median} ms (diff ${breakdown.diff} / store ${breakdown.store} / deploy ${breakdown.deploy}), naive ${nf.median} ms\n`);
      }
    }
  } finally {
    await src.stop();
    rmSync(base, { recursive: true, force: true });
  }
  process.stdout.write(table(['base', 'diff', 'freeze med ms', 'freeze max', 'naive med ms', 'naive/ours', 'total ms', 'naive total', 'MB/s', 'skopeo MB/s', 'ratio'], rows) + '\n');
  process.stdout.write(`results: ${writeResult('migrate', results)}\n`);
}
