import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { InfravisorError, UsageError } from '../util/errors.js';

export function registerCcpCommands(ccp: Command): void {
  ccp
    .command('render')
    .description('write the files the CCP would apply on this host (k3s config, token, manifests, init script) under DIR, for inspection')
    .requiredOption('--role <role>', 'server (the CCP host) or agent (a host following the CCP)')
    .requiredOption('-c, --config <file>', "the agent's configuration file")
    .requiredOption('--out <dir>', 'output directory; files keep their paths below it')
    .option('--server <url>', 'for --role agent: the CCP endpoint to follow, https://ADDRESS:PORT')
    .option('--generation <n>', 'CCP generation to stamp', (v) => Number(v), 1)
    .action(async (o: { role: string; config: string; out: string; server?: string; generation: number }) => {
      if (o.role !== 'server' && o.role !== 'agent') throw new UsageError(`--role must be server or agent, not ${o.role}`);
      if (o.role === 'agent' && !o.server) throw new UsageError('--role agent needs --server https://ADDRESS:PORT (the CCP to follow)');
      const { loadConfig } = await import('../config/load.js');
      const { loadCcpConfig } = await import('../ccp/load.js');
      const { deriveK3sToken } = await import('../ccp/config.js');
      const { K3sDriver } = await import('../ccp/k3s/driver.js');
      const { SystemdServices, SupervisedServices } = await import('../ccp/service.js');
      const cfg = loadConfig(o.config);
      const ccpCfg = loadCcpConfig(cfg.clusterConfig);
      const services = cfg.ccp.service === 'systemd' ? new SystemdServices() : new SupervisedServices(join(cfg.stateDir, 'ccp'));
      const driver = new K3sDriver(cfg.ccp, services);
      const common = { cluster: cfg.cluster, host: { name: cfg.host.name, addresses: [cfg.host.address] }, ccp: ccpCfg, local: cfg.ccp, token: deriveK3sToken(cfg.secret, cfg.cluster) };
      const out =
        o.role === 'server'
          ? (() => {
              const r = driver.renderServer({ ...common, generation: o.generation });
              return [...r.files, { path: join(cfg.ccp.configRoot, 'infravisor-ccp-init.sh'), mode: 0o700, content: r.script }];
            })()
          : driver.renderAgent({ ...common, serverUrl: o.server! });
      for (const f of out) {
        const target = join(o.out, f.path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, f.content, { mode: f.mode });
        process.stdout.write(`${f.mode.toString(8).padStart(4, '0')} ${target}\n`);
      }
    });

  ccp
    .command('supervise')
    .description('(lab) run a command, restart it with backoff when it exits, keep its state on disk; what systemd does on a host')
    .requiredOption('--unit <name>', 'k3s or k3s-agent')
    .requiredOption('--state-dir <dir>', 'where UNIT.supervisor.json and UNIT.log live')
    .argument('<argv...>', 'the command, after --')
    .action(async (argv: string[], o: { unit: string; stateDir: string }) => {
      const { supervise } = await import('../ccp/supervisor.js');
      const { procIdentity } = await import('../util/proc.js');
      // A unit runs at the default priority, not at the agent's (as under systemd).
      const { getPriority, setPriority } = await import('node:os');
      if (getPriority() < 0) setPriority(0);
      const id = procIdentity(process.pid);
      if (!id) throw new InfravisorError('SUPERVISOR', 'cannot read this process identity');
      mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
      await supervise({ unit: o.unit, statePath: join(o.stateDir, `${o.unit}.supervisor.json`), logPath: join(o.stateDir, `${o.unit}.out.log`), argv, startTime: id.startTime });
    });

  const service = ccp.command('service').description('(lab) manage supervised k3s units, as systemctl does on a host').requiredOption('--state-dir <dir>', 'the supervisor state directory');
  const unitArg = (u: string) => {
    if (u !== 'k3s' && u !== 'k3s-agent') throw new UsageError(`unit must be k3s or k3s-agent, not ${u}`);
    return u as 'k3s' | 'k3s-agent';
  };
  service.command('is-active').argument('<unit>').action(async (unit: string) => {
    const { SupervisedServices } = await import('../ccp/service.js');
    process.exitCode = (await new SupervisedServices(service.opts<{ stateDir: string }>().stateDir).isActive(unitArg(unit))) ? 0 : 3;
  });
  service.command('stop').argument('<unit>').action(async (unit: string) => {
    const { SupervisedServices } = await import('../ccp/service.js');
    await new SupervisedServices(service.opts<{ stateDir: string }>().stateDir).stop(unitArg(unit));
  });
  service.command('restart').argument('<unit>').argument('<argv...>').action(async (unit: string, argv: string[]) => {
    const { SupervisedServices } = await import('../ccp/service.js');
    await new SupervisedServices(service.opts<{ stateDir: string }>().stateDir).restart(unitArg(unit), argv);
  });
}
