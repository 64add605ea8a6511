import type { Command } from 'commander';

/**
 * `infravisor pki`: the cluster CA (trust/pki.ts, loaded only here). Every host needs its own
 * key and certificate; a host added later gets one with `issue`; a host removed is `revoke`d
 * and the new CRL copied to the others (they re-read it within 5 s). docs/security.md.
 */
export function registerPkiCommands(pki: Command): void {
  pki
    .command('init')
    .description('create the cluster CA (ca.key, ca.crt, an empty ca.crl) in DIR')
    .requiredOption('--dir <dir>', 'where the CA lives (keep it off the cluster; ca.key is the cluster)')
    .requiredOption('--cluster <name>', 'the cluster name')
    .action(async (o: { dir: string; cluster: string }) => {
      const { initCa, caFiles } = await import('../trust/pki.js');
      await initCa(o.dir, o.cluster);
      const f = caFiles(o.dir);
      process.stdout.write(`CA for ${o.cluster}: ${f.cert} (key ${f.key}, mode 0600; CRL ${f.crl})\n`);
    });
  pki
    .command('issue')
    .description("issue a host's key and certificate (NAME.key, NAME.crt): a new host, or a rotation")
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--host <name>', 'the host name (host.name in its config)')
    .option('--observer', 'a read-only observer identity (may subscribe, publishes nothing)')
    .option('--out <dir>', 'where to write the key and certificate (default: the CA directory)')
    .action(async (o: { dir: string; host: string; observer?: boolean; out?: string }) => {
      const { issue } = await import('../trust/pki.js');
      const r = await issue(o.dir, o.host, { role: o.observer ? 'observer' : 'host', ...(o.out ? { out: o.out } : {}) });
      process.stdout.write(`${o.observer ? 'observer' : 'host'} ${o.host}: ${r.cert} and ${r.key} (serial ${r.serial})\n`);
    });
  pki
    .command('revoke')
    .description("revoke a host's certificate and rewrite ca.crl; copy it to every host")
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--host <name>', 'the host to remove')
    .action(async (o: { dir: string; host: string }) => {
      const { revoke, caFiles } = await import('../trust/pki.js');
      const r = await revoke(o.dir, o.host);
      process.stdout.write(`revoked ${o.host} (serial ${r.serial}); copy ${caFiles(o.dir).crl} to every host's tls.crl\n`);
    });
}
