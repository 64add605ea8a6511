import type { Command } from 'commander';
import type { MigrationReport } from '../runtime/migrate.js';
import type { Plan } from '../runtime/plan.js';
import type { Migration } from '../runtime/migrate.js';
import type { RuntimeOptions } from '../runtime/setup.js';

/** --only a b, --only a --only b and --only a,b all select a and b. */
const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)];
const mb = (n: number | null) => (n === null ? '-' : `${(n / 1e6).toFixed(1)} MB`);

function common(cmd: Command): Command {
  return cmd
    .option('--from <runtime>', 'source runtime', 'containerd')
    .option('--containerd-socket <path>', "containerd's socket (k3s's embedded one: /run/k3s/containerd/containerd.sock)", '/run/containerd/containerd.sock')
    .option('--containerd-root <dir>', "containerd's root directory, to hard-link image blobs instead of copying them (k3s: /var/lib/rancher/k3s/agent/containerd)", '/var/lib/containerd')
    .option('--containerd-namespace <ns>', 'containerd namespace of the containers', 'k8s.io')
    .option('--no-cri', "do not read CRI pods from containerd's CRI plugin (plain containers only)")
    .option('--storage-root <dir>', 'containers-storage root of the target', '/var/lib/containers/storage')
    .option('--storage-runroot <dir>', 'containers-storage run root of the target', '/run/containers/storage')
    .option('--storage-driver <driver>', 'containers-storage driver (overlay or vfs)', 'overlay')
    .option('--target-endpoint <socket>', "the CRI-O socket", '/var/run/crio/crio.sock')
    .option('--target-store <store>', 'where the target runtime reads images: containers-storage, or containerd:SOCKET for a containerd CRI endpoint', 'containers-storage')
    .option('--containers-conf <file>', 'containers.conf for podman (CONTAINERS_CONF)')
    .option('--only <names...>', 'only these containers (pod/container, container name or id prefix)', collect, [])
    .option('--parallel <n>', 'containers moved at once', '1')
    .option('--state-dir <dir>', 'where the migration journal is kept', '/var/lib/infravisor')
    .option('--work-dir <dir>', 'OCI layout for the images in transit (default: STATE_DIR/runtime/layout)')
    .option('--json', 'print JSON')
    .option('--control-plane', 'move this host\'s CCP (k3s server) too: a second server for the new runtime, the first archived, the second promoted (stop the agent first)')
    .option('--agent-config <file>', 'the agent configuration (CCP settings, cluster, secret) for --control-plane', '/etc/infravisor/agent.yaml')
    .option('--ccp-next-port <port>', 'API port of the second k3s server while both run (default: the CCP port + 1)');
}

function printPlan(plan: Plan): void {
  const rows = plan.items.map((i) => `  ${i.name.padEnd(40)} ${i.kind.padEnd(5)} ${i.image.padEnd(40)} base ${mb(i.baseBytes).padStart(9)}  diff ${mb(i.diffBytes).padStart(9)}  freeze ~${i.expectedFreezeMs} ms${i.problem ? `\n    cannot move: ${i.problem}` : ''}`);
  process.stdout.write(`${plan.items.length} container(s) to move to ${plan.to}; ${plan.images.length} base image(s), ${mb(plan.precopyBytes)} to pre-copy; about ${(plan.expectedTotalMs / 1000).toFixed(1)} s in all\n${rows.join('\n')}\n`);
}

function printReport(r: MigrationReport): void {
  if (r.dryRun) {
    process.stdout.write('dry run: nothing was paused, copied or started\n');
    printPlan(r.plan);
    return;
  }
  for (const c of r.containers) {
    process.stdout.write(`  ${c.name.padEnd(40)} ${c.phase.padEnd(12)} ${c.freezeMs === null ? '' : `frozen ${c.freezeMs} ms`}${c.error ? `  ${c.error}` : ''}\n`);
  }
  if (r.controlPlane) process.stdout.write(`  control plane: ${r.controlPlane.phase}${r.controlPlane.endpoint ? ` (${r.controlPlane.endpoint})` : ''}${r.controlPlane.archivedTo ? `; the first is archived in ${r.controlPlane.archivedTo}` : ''}\n`);
  process.stdout.write(`${r.ok ? 'migrated' : 'NOT fully migrated'}: ${r.containers.filter((c) => c.phase === 'done').length}/${r.containers.length} container(s) to ${r.to} in ${(r.totalMs / 1000).toFixed(1)} s (pre-copy ${(r.precopyMs / 1000).toFixed(1)} s); journal ${r.id}\n`);
}

/** Parses the options (exit 2 on bad ones), wires a migration, runs `fn`, and closes the clients. */
async function withMigration(raw: Record<string, unknown>, level: 'info' | 'warn', fn: (m: Migration, o: RuntimeOptions) => Promise<void>, before?: (o: RuntimeOptions) => Promise<void>): Promise<void> {
  const { parseRuntimeOptions, createMigration } = await import('../runtime/setup.js');
  const { createLogger } = await import('../log/logger.js');
  const o = parseRuntimeOptions(raw);
  await before?.(o);
  const { migration, close } = createMigration(o, createLogger({ level, destination: 2 }));
  try {
    await fn(migration, o);
  } finally {
    close();
  }
}

export function registerRuntimeCommands(rt: Command): void {
  common(rt.command('plan').description('list the containers, images and sizes a migration would move, and the expected freeze per container'))
    .option('--to <runtime>', 'target runtime: cri-o or podman', 'cri-o')
    .action((raw: Record<string, unknown>) =>
      withMigration(raw, 'warn', async (migration, o) => {
        const { plan } = await migration.plan(o);
        if (raw.json) process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
        else printPlan(plan);
      }),
    );

  common(rt.command('migrate').description('move the running containers from containerd to CRI-O (or podman) without stopping them first'))
    .requiredOption('--to <runtime>', 'target runtime: cri-o or podman')
    .option('--dry-run', 'inventory and plan only; change nothing')
    .option('--resume', 'finish the migration recorded in the journal (after a crash or a failure)')
    .action((raw: Record<string, unknown>) =>
      withMigration(
        raw,
        raw.json ? 'warn' : 'info',
        async (migration, o) => {
          const report = await migration.migrate({ to: o.to, only: o.only, parallel: o.parallel, dryRun: !!raw.dryRun, resume: !!raw.resume });
          if (raw.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          else printReport(report);
          if (!report.ok) process.exitCode = 1;
        },
        async (o) => {
          if (!raw.dryRun) await (await import('../runtime/setup.js')).checkAgentStopped(o);
        },
      ),
    );

  common(rt.command('rollback').description('undo the unfinished part of the recorded migration: remove what was made on the target, resume the source'))
    .option('--to <runtime>', 'target runtime of the recorded migration', 'cri-o')
    .action((raw: Record<string, unknown>) =>
      withMigration(raw, 'info', async (migration) => {
        const j = await migration.rollbackAll();
        if (!j) process.stdout.write('no migration is recorded\n');
        else if (raw.json) process.stdout.write(JSON.stringify(j, null, 2) + '\n');
        else for (const e of j.entries) process.stdout.write(`  ${e.workload.name.padEnd(40)} ${e.phase}${e.error ? `  ${e.error}` : ''}\n`);
        if (j?.entries.some((e) => e.phase === 'failed')) process.exitCode = 1;
      }),
    );
}
