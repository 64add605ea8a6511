import { discovery } from './discovery.js';
import { link } from './link.js';
import { failover } from './failover.js';
import { migrate } from './migrate.js';
import { tls } from './tls.js';
import { observe } from './observe.js';

/** `npm run bench -- NAME [args]`: benchmarks, separate from the tests. They print a table and write JSON under bench/results/. */
const benches: Record<string, (args: string[]) => Promise<void>> = { discovery, link, failover, migrate, tls, observe };

const [name, ...args] = process.argv.slice(2);
const bench = name ? benches[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [args]\n`);
  process.exit(2);
}
await bench(args);
