/**
 * The switch's filter, as an nftables ruleset in the bridge family, loaded into the switch
 * namespace in one transaction. Partitions drop frames between the switch ports of hosts
 * that may not reach each other (the bridge's forward hook sees every egress copy, flooded
 * ARP included); loss drops a random share of the frames entering or leaving a host's port.
 * (netem is not available on these kernels; numgen is.)
 */
export const NFT_TABLE = 'infravisor_lab';

export function renderRuleset(portOf: (host: string) => string, blocked: [string, string][], loss: { host: string; pct: number }[]): string {
  const lines = [`table bridge ${NFT_TABLE} {`];
  if (blocked.length) {
    const elems = blocked.flatMap(([a, b]) => [`"${portOf(a)}" . "${portOf(b)}"`, `"${portOf(b)}" . "${portOf(a)}"`]);
    lines.push('  set blocked {', '    type ifname . ifname', `    elements = { ${elems.join(', ')} }`, '  }');
  }
  lines.push('  chain forward {', '    type filter hook forward priority 0; policy accept;');
  if (blocked.length) lines.push('    iifname . oifname @blocked drop');
  for (const { host, pct } of loss) {
    if (pct <= 0) continue;
    const cond = pct >= 100 ? '' : ` numgen random mod 100 < ${pct}`; // nft refuses "< 100" here
    lines.push(`    iifname "${portOf(host)}"${cond} drop`);
    lines.push(`    oifname "${portOf(host)}"${cond} drop`);
  }
  lines.push('  }', '}');
  // Replace the table atomically: add (no-op if present), delete, define — one transaction.
  return [`add table bridge ${NFT_TABLE}`, `delete table bridge ${NFT_TABLE}`, ...lines].join('\n') + '\n';
}
