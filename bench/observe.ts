import * as lab from '../agent/src/lab/lab.js';
import { loadRecord } from '../agent/src/lab/record.js';
import { stopDashboard } from '../agent/src/lab/dashboard-proc.js';
import { cpuSeconds, memoryOf, sleep, summarize, table, writeResult } from './lib.js';

/**
 * What the web view costs the agents: `npm run bench -- observe [--hosts 5] [--window 30]`. In
 * one lab, per-agent RSS and idle CPU while the lab's page is open in a headless Chromium (the
 * dashboard follows every agent's event stream, so each agent computes its page model every
 * tick and pushes what changes), then with the browser closed and the dashboard stopped (no
 * stream open: the view costs nothing but an idle listener).
 */
export async function observe(args: string[]): Promise<void> {
  const arg = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
  const hosts = arg('--hosts', 5);
  const window = arg('--window', 30);
  const name = 'benchweb';
  await lab.down(name).catch(() => undefined);
  await lab.up({ name, hosts, subnet: '10.96.0.0/24' });
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = {};
  try {
    await sleep(10_000);
    const measure = async (what: string) => {
      const pids = loadRecord(name).hosts.map((h) => h.agent!.pid);
      const c0 = pids.map(cpuSeconds);
      await sleep(window * 1000);
      const cpu = summarize(pids.map((p, i) => ((cpuSeconds(p) - c0[i]!) / window) * 100));
      const rss = summarize(pids.map((p) => memoryOf(p).rssMB));
      results[what] = { cpu, rss };
      rows.push([what, `${rss.median.toFixed(1)} / ${rss.max.toFixed(1)}`, `${cpu.median.toFixed(2)} / ${cpu.max.toFixed(2)}`]);
    };
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const page = await browser.newPage();
    await page.goto((await lab.status(name)).dashboard!);
    await page.waitForSelector('[data-cluster]');
    await measure('page open (dashboard + browser)');
    await browser.close();
    await stopDashboard(loadRecord(name));
    await sleep(3000);
    await measure('no page open');
  } finally {
    await lab.down(name);
  }
  process.stdout.write(`\nN = ${hosts}, ${window} s windows\n` + table(['', 'RSS MB median / max', 'idle CPU % median / max'], rows) + '\n');
  process.stdout.write(`written to ${writeResult('observe', { hosts, window, results })}\n`);
}
