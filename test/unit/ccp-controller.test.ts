import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CcpController } from '../../agent/src/ccp/controller.js';
import type { CcpDriver } from '../../agent/src/ccp/driver.js';
import { CcpConfigSchema, CcpHostSchema } from '../../agent/src/config/ccp.js';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { FakeCcpDriver } from '../support/fakes.js';
import { silentLogger } from '../../agent/src/log/logger.js';

/** A driver whose follow() fails `failFirst` times, then succeeds. */
function flakyDriver(failFirst: number) {
  const driver = new FakeCcpDriver();
  driver.failNext.follow = failFirst;
  return { driver, calls: driver.calls };
}

const assignment = { host: 'h1', generation: 2, endpoint: 'https://10.0.0.1:6443' };
const make = (driver: CcpDriver) =>
  new CcpController(driver, {
    cluster: 'c', self: { name: 'h2', addresses: ['10.0.0.2'] }, local: CcpHostSchema.parse({}), token: 't', config: () => CcpConfigSchema.parse({}),
    timings: TimingsSchema.parse({}), clock: { now: () => Date.now() }, probeTcp: async () => true, log: silentLogger(), onChange: () => undefined,
  });

describe('CCP controller: a failed operation is tried again', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries after 1 s, then 2 s, and stops retrying once it succeeds', async () => {
    const { driver, calls } = flakyDriver(2);
    const c = make(driver);
    c.setGoal({ role: 'agent', assignment });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.follow).toBe(1);
    expect(c.status.lastError).toMatch(/did not start/);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls.follow).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.follow).toBe(2);
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls.follow).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.follow).toBe(3);
    expect(c.status.lastError).toBeNull();
    expect(c.status.following).toBe(assignment.endpoint);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls.follow).toBe(3);
  });

  it('a new goal cancels the retry of the old one', async () => {
    const { driver, calls } = flakyDriver(1);
    const c = make(driver);
    c.setGoal({ role: 'agent', assignment });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.follow).toBe(1);
    c.setGoal({ role: 'server', assignment: { ...assignment, host: 'h2', generation: 3, endpoint: 'https://10.0.0.2:6443' } });
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls.startServer).toBe(1);
    expect(calls.follow).toBe(1);
  });

  it('a stopped controller does not retry', async () => {
    const { driver, calls } = flakyDriver(5);
    const c = make(driver);
    c.setGoal({ role: 'agent', assignment });
    await vi.advanceTimersByTimeAsync(0);
    c.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.follow).toBe(1);
  });
});

describe('CCP controller: a stray server is archived while this host follows another CCP', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('finds the server that started after the goal had changed, and archives it once', async () => {
    const driver = new FakeCcpDriver();
    const archived = driver.calls.archiveServer;
    const c = make(driver);
    c.setGoal({ role: 'agent', assignment });
    await vi.advanceTimersByTimeAsync(0);
    expect(c.report.role).toBe('agent');
    driver.server = { cluster: 'c', generation: 1, host: 'h2', config: '', active: true, pid: 9 }; // a late start completes
    await vi.advanceTimersByTimeAsync(10_000);
    void c.probe(assignment).catch(() => null);
    await vi.advanceTimersByTimeAsync(0);
    expect(archived).toHaveLength(1);
    expect(archived[0]).toMatch(/stray/);
    void c.probe(assignment).catch(() => null);
    await vi.advanceTimersByTimeAsync(0);
    expect(archived).toHaveLength(1);
  });
});

describe('CCP controller: overlapping probes', () => {
  it("a slow probe's late answer about the old CCP does not overwrite the newer probe's", async () => {
    const answers: ((ok: boolean) => void)[] = [];
    const c = new CcpController(new FakeCcpDriver(), {
      cluster: 'c', self: { name: 'h2', addresses: ['10.0.0.2'] }, local: CcpHostSchema.parse({}), token: 't', config: () => CcpConfigSchema.parse({}),
      timings: TimingsSchema.parse({}), clock: { now: () => Date.now() }, probeTcp: () => new Promise<boolean>((r) => answers.push(r)), log: silentLogger(), onChange: () => undefined,
    });
    const old = c.probe(assignment, false, 1500);
    const next = c.probe({ host: 'h3', generation: 3, endpoint: 'https://10.0.0.3:6443' }, false, 1500);
    answers[1]!(true);
    await next;
    answers[0]!(false); // the old CCP's cable is out: its probe ends at its deadline
    await old;
    expect(c.status.ready).toBe(true);
  });
});
