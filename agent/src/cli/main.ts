#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { InfravisorError, errorMessage } from '../util/errors.js';
import { AGENT_VERSION } from '../util/paths.js';

/**
 * The `infravisor` command. Each subcommand loads its own modules when it runs, so that the
 * long-running agent does not carry the lab's or the tools' code in memory.
 */
const program = new Command();
program.name('infravisor').description('Fault-handling agent for clusters of Raspberry-Pi-class hosts').version(AGENT_VERSION).showHelpAfterError();
// Usage errors throw (subcommands made after this inherit it); the handler below exits 2.
program.exitOverride();

program
  .command('agent')
  .description('run the agent daemon (one per host)')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action(async (opts: { config: string }) => {
    const { runAgent } = await import('./agent-command.js');
    await runAgent(opts.config);
  });

program
  .command('config')
  .description('check a configuration file and print it as the agent would use it')
  .argument('<file>', 'YAML configuration file')
  .action(async (file: string) => {
    const { loadConfig } = await import('../config/load.js');
    const { Identity } = await import('../trust/identity.js');
    const cfg = loadConfig(file);
    const id = Identity.load(cfg.tls, { name: cfg.host.name }, file);
    for (const w of cfg.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(JSON.stringify({ ...cfg, secret: '[redacted]', identity: { name: id.name, role: id.role, serial: id.cert.serialNumber, validTo: id.cert.validTo } }, null, 2) + '\n');
  });

program
  .command('status')
  .description("print this host's view, read from the agent's Unix socket")
  .option('-s, --socket <path>', 'status socket of the agent', '/var/lib/infravisor/agent.sock')
  .option('-c, --config <file>', 'read the socket path from this configuration file')
  .option('--json', 'print JSON')
  .action(async (opts: { socket: string; config?: string; json?: boolean }) => {
    const { runStatus } = await import('./status-command.js');
    await runStatus(opts);
  });

const link = program.command('link').description('link state through netlink');
const { registerLinkCommands } = await import('./link-command.js');
registerLinkCommands(link);

const ccp = program.command('ccp').description('the cluster control plane (k3s): render its files, supervise its processes');
const { registerCcpCommands } = await import('./ccp-command.js');
registerCcpCommands(ccp);

const runtime = program.command('runtime').description('change the container runtime of this host (containerd → CRI-O) without stopping its workloads first');
const { registerRuntimeCommands } = await import('./runtime-command.js');
registerRuntimeCommands(runtime);

const pki = program.command('pki').description("the cluster's certificate authority: a key and certificate per host, revocation");
const { registerPkiCommands } = await import('./pki-command.js');
registerPkiCommands(pki);

const lab = program.command('lab').description('an emulated cluster of hosts on this machine, built from network namespaces');
const { registerLabCommands } = await import('./lab-command.js');
registerLabCommands(lab, Option);


try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Usage errors of subcommands (a missing required option, an unknown flag): commander has printed them.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof InfravisorError) {
    process.stderr.write(`infravisor: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`infravisor: ${errorMessage(err)}\n`);
  process.exit(1);
}
