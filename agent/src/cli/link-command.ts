import type { Command } from 'commander';
import { InfravisorError } from '../util/errors.js';
import type { LinkEvent } from '../link/types.js';

export function formatLinkEvent(e: LinkEvent): string {
  const t = new Date(e.ts).toISOString();
  return `${t} ${e.kind.padEnd(4)} ${String(e.ifname).padEnd(15)} #${e.ifindex} ${e.up ? 'UP' : 'DOWN'} carrier=${e.carrier ? 1 : 0} ${e.operstate}${e.changes === null ? '' : ` changes=${e.changes}`}`;
}

export function registerLinkCommands(link: Command): void {
  link
    .command('watch')
    .description('print link events from netlink as they happen, one per line')
    .option('--backend <backend>', 'native or ffi (default: native if the addon loads)', 'auto')
    .option('-i, --interface <ifname>', 'only this interface')
    .option('--json', 'JSON lines: ts, ifname, ifindex, up, carrier, operstate, changes')
    .action(async (o: { backend: string; interface?: string; json?: boolean }) => {
      if (!['auto', 'native', 'ffi'].includes(o.backend)) throw new InfravisorError('USAGE', `--backend must be native or ffi, not ${o.backend}`, 2);
      const { createLinkWatcher } = await import('../link/factory.js');
      const w = await createLinkWatcher(o.backend as 'auto' | 'native' | 'ffi');
      process.stderr.write(`watching links with the ${w.backend} backend; Ctrl-C to stop\n`);
      w.start(
        (events) => {
          for (const e of events) {
            if (o.interface && e.ifname !== o.interface) continue;
            const { ts, ifname, ifindex, up, carrier, operstate, changes, kind, mtu, mac } = e;
            process.stdout.write((o.json ? JSON.stringify({ ts, ifname, ifindex, up, carrier, operstate, changes, kind, mtu, mac, backend: w.backend }) : formatLinkEvent(e)) + '\n');
          }
        },
        (err) => process.stderr.write(`link watch: ${err.message}\n`),
      );
      const stop = () => {
        w.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
