/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { lab, labDescribe, labPrerequisites } from '../support/lab.js';
import { converged } from '../support/converged.js';
import { suiteTempDirs } from '../support/tmp.js';

/**
 * The lab's page in a real browser (Debian's Chromium, driven by playwright-core): 5 hosts in
 * one cluster; the cable button of the CCP host does what `lab cut` does, and the page shows
 * two clusters, each with its CCP ready, and the failover with its duration in the timeline;
 * plugging the cable back in gives one cluster again. A screenshot of each state is written to
 * $SCREENSHOTS (docs/img when the docs' pictures are made), else to a temporary directory.
 */
const NAME = 't-web';
const CHROMIUM = '/usr/bin/chromium';
vi.setConfig({ testTimeout: 120_000 });
const dirs = suiteTempDirs();

labDescribe(
  'the lab page in a browser',
  () => {
    let browser: Browser;
    let page: Page;
    let shots: string;
    const shot = (name: string) => page.screenshot({ path: join(shots, `dashboard-${name}.png`), fullPage: true });
    const clusters = () => page.locator('[data-cluster]').count();
    const allReady = () => page.evaluate(() => [...document.querySelectorAll('[data-ccp-ready]')].every((e) => (e as HTMLElement).dataset.ccpReady === 'true'));

    beforeAll(async () => {
      shots = process.env.SCREENSHOTS ?? dirs();
      mkdirSync(shots, { recursive: true });
      await lab.down(NAME).catch(() => undefined);
      await lab.up({ name: NAME, hosts: 5, subnet: '10.94.0.0/24' });
      await converged(NAME, 'initial formation', { timeoutMs: 40_000 });
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
      page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    });
    afterAll(async () => {
      await browser?.close();
      await lab.down(NAME);
    });

    it('refuses a request without the token', async () => {
      const url = (await lab.status(NAME)).dashboard!;
      const bare = url.slice(0, url.indexOf('?'));
      const r = await page.request.get(bare);
      expect(r.status()).toBe(401);
      expect((await page.request.get(`${bare}events`)).status()).toBe(401);
    });

    it('shows 5 hosts in one cluster with its CCP ready', async () => {
      await page.goto((await lab.status(NAME)).dashboard!);
      await page.waitForFunction(() => document.querySelectorAll('[data-cluster]').length === 1 && document.querySelectorAll('[data-host]').length === 5 && document.querySelector('[data-ccp-ready="true"]') !== null);
      expect(await page.locator('[data-cluster] [data-host]').count()).toBe(5);
      await shot('one-cluster');
    });

    it("the CCP host's cable button pulls its cable: two clusters, each with its CCP, and the failover in the timeline", async () => {
      const ccpHost = (await lab.status(NAME)).clusters[0]!.ccp!.host;
      await page.click(`[data-host="${ccpHost}"] [data-action="cut"]`);
      await page.waitForFunction(() => document.querySelectorAll('[data-cluster]').length === 2, null, { timeout: 30_000 });
      await page.waitForFunction(() => [...document.querySelectorAll('[data-ccp-ready]')].length === 2 && [...document.querySelectorAll('[data-ccp-ready]')].every((e) => (e as HTMLElement).dataset.ccpReady === 'true'), null, { timeout: 30_000 });
      expect((await lab.status(NAME)).hosts.find((h) => h.name === ccpHost)!.cable).toBe('out'); // the button did what lab cut does
      const failover = page.locator('[data-event="failover"]').first();
      await failover.waitFor({ timeout: 15_000 });
      expect(await failover.textContent()).toMatch(new RegExp(`failover ${ccpHost} → h\\d \\(gen \\d+\\) in \\d+\\.\\d\\d s`));
      expect(await clusters()).toBe(2);
      expect(await allReady()).toBe(true);
      await shot('two-clusters');
    });

    it('plugging the cable back in from the page gives one cluster again', async () => {
      const cut = (await lab.status(NAME)).hosts.find((h) => h.cable === 'out')!.name;
      await page.click(`[data-host="${cut}"] [data-action="restore"]`);
      await page.waitForFunction(() => document.querySelectorAll('[data-cluster]').length === 1 && document.querySelectorAll('[data-cluster] [data-host]').length === 5, null, { timeout: 40_000 });
      await converged(NAME, 'merged', { expected: (s) => s.clusters.length === 1, timeoutMs: 30_000 });
      await page.waitForFunction(() => document.querySelector('[data-ccp-ready="true"]') !== null);
      await shot('merged');
    });
  },
  () => labPrerequisites() ?? (existsSync(CHROMIUM) ? null : 'needs Chromium (apt-get install chromium)'),
);
