import type { Command, Option as OptionCtor } from 'commander';
import type { LabStatus } from '../lab/status.js';
import { formatLabStatus } from './lab-format.js';

type Opts = { name: string; json?: boolean };

const lab = () => import('../lab/lab.js');

function print(opts: Opts, json: unknown, text: string): void {
  process.stdout.write(opts.json ? JSON.stringify(json, null, 2) + '\n' : text + '\n');
}


export function registerLabCommands(cmd: Command, Option: typeof OptionCtor): void {
  const common = (c: Command) => c.addOption(new Option('-n, --name <lab>', 'lab name').default('lab')).option('--json', 'print JSON');

  common(cmd.command('up').description('create hosts h1..hN (namespaces or VMs) on a switch and start an agent on each'))
    .requiredOption('--hosts <n>', 'number of hosts', (v) => Number(v))
    .option('--subnet <cidr>', 'address range of the lab network', '10.99.0.0/24')
    .option('--seed <hosts>', 'comma-separated hosts whose addresses are the seeds of every agent', 'h1')
    .option('--log-level <level>', 'agent log level', 'info')
    .option('--no-vip', 'no cluster virtual address: members re-point their k3s agents at each new CCP host (restarting them)')
    .addOption(new Option('--arch <arch>', 'native: hosts are network namespaces of this machine; arm64: emulated arm64 VMs (QEMU)').choices(['native', 'arm64']).default('native'))
    .action(async (o: Opts & { hosts: number; subnet: string; seed: string; logLevel: string; arch: 'native' | 'arm64'; vip: boolean }) => {
      const { up } = await lab();
      const t0 = Date.now();
      const r = await up({ name: o.name, hosts: o.hosts, subnet: o.subnet, seeds: o.seed.split(','), logLevel: o.logLevel, arch: o.arch, ...(o.vip === false ? { vip: false } : {}) });
      const hosts = r.record.hosts.map((h) => ({ name: h.name, address: h.address, pid: h.agent?.pid ?? null }));
      const { dashboardUrls } = await import('../lab/dashboard-proc.js');
      const dashboard = dashboardUrls(r.record)?.page ?? null;
      print(o, { name: o.name, dir: r.record.dir, hosts, dashboard, ms: Date.now() - t0 }, `lab ${o.name} up in ${Date.now() - t0} ms: ${hosts.map((h) => `${h.name}=${h.address}`).join(' ')}\nwatch it: ${dashboard ?? '(no dashboard)'}\nor: infravisor lab status --name ${o.name}`);
    });

  common(cmd.command('status').description('every host and the clusters the agents report'))
    .action(async (o: Opts) => {
      const { status } = await lab();
      const st = await status(o.name);
      print(o, st, formatLabStatus(st));
    });

  for (const [verb, desc] of [
    ['cut', "pull HOST's cable (switch side)"],
    ['restore', "plug HOST's cable back in"],
  ] as const) {
    common(cmd.command(verb).description(desc).argument('<host>'))
      .action(async (host: string, o: Opts) => {
        const l = await lab();
        const h = await l[verb](o.name, host);
        print(o, { host: h.name, cable: h.cable }, `${h.name}: cable ${h.cable}`);
      });
  }

  common(cmd.command('partition').description('split the switch: hosts reach each other iff some GROUP (h1,h2,...) holds both').argument('<groups...>'))
    .action(async (groups: string[], o: Opts) => {
      const { partition } = await lab();
      const g = await partition(o.name, groups);
      print(o, { partition: g }, `partition: ${g.map((x) => x.join(',')).join(' | ')}`);
    });

  common(cmd.command('heal').description('one switch again: every cable in, no partition, no loss'))
    .action(async (o: Opts) => {
      const { heal } = await lab();
      await heal(o.name);
      print(o, { healed: true }, 'healed');
    });

  common(cmd.command('revoke').description("revoke HOST's certificate in the lab's CA: every broker refuses it from then on").argument('<host>'))
    .action(async (host: string, o: Opts) => {
      const { revoke } = await lab();
      const serial = await revoke(o.name, host);
      print(o, { host, revoked: serial }, `${host}: certificate ${serial} revoked`);
    });

  common(cmd.command('kill').description("SIGKILL HOST's agent (only the agent)").argument('<host>'))
    .action(async (host: string, o: Opts) => {
      const { kill } = await lab();
      const pid = await kill(o.name, host);
      print(o, { host, killed: pid }, `${host}: agent ${pid} killed`);
    });

  common(cmd.command('start').description("start HOST's agent again").argument('<host>'))
    .action(async (host: string, o: Opts) => {
      const { start } = await lab();
      const pid = await start(o.name, host);
      print(o, { host, pid }, `${host}: agent running as ${pid}`);
    });

  common(cmd.command('loss').description("random loss on HOST's cable, in percent (0 removes it)").argument('<host>').argument('<pct>'))
    .action(async (host: string, pct: string, o: Opts) => {
      const { loss } = await lab();
      await loss(o.name, host, Number(pct));
      print(o, { host, loss: Number(pct) }, `${host}: loss ${pct}%`);
    });

  common(cmd.command('exec').description("run a command in HOST's namespace: lab exec HOST -- CMD...").argument('<host>').argument('<cmd...>'))
    .action(async (host: string, argv: string[], o: Opts) => {
      const { exec } = await lab();
      process.exitCode = await exec(o.name, host, argv);
    });

  common(cmd.command('down').description('remove everything the lab made (also after a crash)'))
    .action(async (o: Opts) => {
      const { down } = await lab();
      const r = await down(o.name);
      print(o, r, `lab ${o.name} removed: ${r.agents} agents stopped, ${r.namespaces.length} namespaces deleted`);
    });

  cmd
    .command('dashboard')
    .description("serve the lab's page (lab up starts it; you do not run this yourself)")
    .requiredOption('-n, --name <lab>', 'lab name')
    .requiredOption('--port-file <file>', 'where to write the port it listens on')
    .requiredOption('--token-file <file>', 'the token every request must carry')
    .action(async (o: { name: string; portFile: string; tokenFile: string }) => {
      const { readFileSync } = await import('node:fs');
      const { serveDashboard } = await import('../lab/dashboard.js');
      await serveDashboard(o.name, o.portFile, readFileSync(o.tokenFile, 'utf8').trim());
    });

  common(cmd.command('demo').description('bring up 5 hosts, show them find each other, pull a cable, heal, and clean up'))
    .option('--hosts <n>', 'number of hosts', (v) => Number(v), 5)
    .option('--keep', 'leave the lab running at the end')
    .option('--pause <s>', 'seconds to wait between the steps, to watch them on the page', (v) => Number(v), 5)
    .action(async (o: Opts & { hosts: number; keep?: boolean; pause: number }) => {
      const { runDemo } = await import('./demo.js');
      await runDemo(o.name, o.hosts, Boolean(o.keep), o.pause * 1000);
    });
}
