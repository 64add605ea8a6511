import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CcpController } from '../../agent/src/ccp/controller.js';
import { announceDue } from '../../agent/src/ccp/vip.js';
import { CcpConfigSchema, CcpHostSchema, type CcpConfig } from '../../agent/src/config/ccp.js';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { FakeCcpDriver, FakeVip } from '../support/fakes.js';

/** The cluster's virtual address: when it is announced, who holds it, what a member forgets. */
describe('announceDue (table)', () => {
  const t = { vipAnnounceMs: 10_000 };
  it.each<[string, number, { since: number; last: number }, boolean]>([
    ['not yet 1 s after taking it', 999, { since: 0, last: 0 }, false],
    ['1 s after taking it', 1000, { since: 0, last: 0 }, true],
    ['the gap doubles: 1 s after the 1 s announcement, 2 s apart from then on', 2000, { since: 0, last: 1000 }, true],
    ['… and not before', 3999, { since: 0, last: 2000 }, false],
    ['4 s after the one at 4 s', 8000, { since: 0, last: 4000 }, true],
    ['capped at vipAnnounceMs', 30_000, { since: 0, last: 20_000 }, true],
    ['within vipAnnounceMs of the last, long after taking it', 29_999, { since: 0, last: 20_000 }, false],
  ])('%s', (_n, now, s, due) => {
    expect(announceDue(now, s, t)).toBe(due);
  });
});

const VIP = '10.0.0.250';
const h1 = { host: 'h1', generation: 2, endpoint: 'https://10.0.0.1:6443' };
const h3 = { host: 'h3', generation: 3, endpoint: 'https://10.0.0.3:6443' };
const mine = { host: 'h2', generation: 4, endpoint: 'https://10.0.0.2:6443' };

function make(cfg: CcpConfig = CcpConfigSchema.parse({ vip: { address: VIP } })) {
  let now = 0;
  const driver = new FakeCcpDriver();
  const vip = new FakeVip();
  const events: string[] = [];
  const c = new CcpController(driver, {
    cluster: 'c', self: { name: 'h2', addresses: ['10.0.0.2'] }, local: CcpHostSchema.parse({}), token: 't', config: () => cfg,
    timings: TimingsSchema.parse({}), clock: { now: () => now }, probeTcp: async () => true, vip, log: silentLogger(), onChange: () => undefined,
    onEvent: (name) => events.push(name),
  });
  return { c, driver, vip, events, at: (ms: number) => (now = ms) };
}

describe('CCP controller with a cluster address', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a member follows through the address, and a new CCP host is followed in place (the k3s agent is not re-pointed)', async () => {
    const { c, driver, vip } = make();
    c.setGoal({ role: 'agent', assignment: h1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(driver.followingUrl).toBe(`https://${VIP}:6443`);
    expect(c.status.following).toBe(h1.endpoint);
    c.setGoal({ role: 'agent', assignment: h3 });
    await vi.advanceTimersByTimeAsync(0);
    expect(driver.followingUrl).toBe(`https://${VIP}:6443`);
    expect(c.status.following).toBe(h3.endpoint);
    // Given up (a follower holds nothing) before each follow; the neighbour entry forgotten at
    // each move, and once more 1.5 s later.
    expect(vip.ops).toEqual([`release ${VIP}`, `forget ${VIP}`, `release ${VIP}`, `forget ${VIP}`]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(vip.ops.slice(4)).toEqual([`forget ${VIP}`, `forget ${VIP}`]);
    expect(vip.held.size).toBe(0);
  });

  it('without the address, a member re-points its k3s agent at each CCP host', async () => {
    const { c, driver, vip } = make(CcpConfigSchema.parse({}));
    c.setGoal({ role: 'agent', assignment: h1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(driver.followingUrl).toBe(h1.endpoint);
    c.setGoal({ role: 'agent', assignment: h3 });
    await vi.advanceTimersByTimeAsync(0);
    expect(driver.followingUrl).toBe(h3.endpoint);
    expect(vip.ops).toEqual([]);
  });

  it('the CCP host takes the address once its server runs, announces it on a doubling schedule, holds back during a merge, and gives it up first when it loses one', async () => {
    const { c, driver, vip, events, at } = make();
    c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    expect(vip.ops).toEqual([`hold ${VIP}`, `announce ${VIP}`]);
    expect(c.status.vip).toBe(VIP);
    const announced = () => vip.ops.filter((o) => o.startsWith('announce')).length;
    for (const [ms, n] of [[500, 1], [1000, 2], [1500, 2], [2000, 3], [3999, 3], [4000, 4], [8000, 5], [16_000, 6], [25_999, 6], [26_000, 7]] as const) {
      at(ms);
      await c.probe(mine);
      expect(announced(), `at ${ms} ms`).toBe(n);
    }
    // A merge: members of the view follow another CCP. Silent meanwhile, however long…
    for (const ms of [36_000, 50_000]) {
      at(ms);
      await c.probe(mine, true);
    }
    expect(announced(), 'no announcement while the merge is contested').toBe(7);
    // …then at once when every member follows this CCP, and the burst again.
    at(50_200);
    await c.probe(mine, false);
    expect(announced()).toBe(8);
    at(51_199);
    await c.probe(mine, false);
    expect(announced()).toBe(8);
    at(51_200);
    await c.probe(mine, false);
    expect(announced()).toBe(9);
    // The merge is lost to h1: the address goes before the server is archived.
    c.setGoal({ role: 'agent', assignment: h1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(vip.ops.slice(-2)).toEqual([`release ${VIP}`, `forget ${VIP}`]);
    expect(driver.calls.archiveServer).toHaveLength(1);
    expect(vip.held.size).toBe(0);
    expect(c.status.vip).toBeNull();
    expect(events).toEqual(['vip-held', 'vip-released', 'ccp-archived']);
  });

  it('the CCP host reads its nodes from its API once its server is ready', async () => {
    const { c, driver } = make();
    driver.nodeList = [{ name: 'h2', ready: true }, { name: 'h1', ready: false }];
    c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    expect(c.status.nodes).toBeNull();
    driver.ready = false;
    await c.probe(mine);
    expect(c.status.nodes).toBeNull();
    driver.ready = true;
    await c.probe(mine);
    expect(c.status.nodes).toEqual(driver.nodeList);
  });

  it('the CCP host probes fast until its API lists every member of the view as a Ready node, for 15 s at most', async () => {
    const { c, driver, at } = make();
    c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    const view = ['h1', 'h2', 'h3'];
    expect(c.serverCalm(view), 'not probed ready yet').toBe(false);
    driver.nodeList = [{ name: 'h2', ready: true }, { name: 'h1', ready: true }, { name: 'h3', ready: false }];
    at(1000);
    await c.probe(mine);
    expect(c.serverCalm(view), 'h3 not Ready').toBe(false);
    at(15_999);
    expect(c.serverCalm(view)).toBe(false);
    at(16_000);
    expect(c.serverCalm(view), 'given up on h3 after 15 s').toBe(true);
    driver.nodeList = [{ name: 'h2', ready: true }, { name: 'h1', ready: true }, { name: 'h3', ready: true }];
    await c.probe(mine);
    expect(c.serverCalm(view)).toBe(true);
    // A merge brings h4: fast again, with a fresh 15 s.
    at(30_000);
    expect(c.serverCalm([...view, 'h4'])).toBe(false);
    at(44_999);
    expect(c.serverCalm([...view, 'h4'])).toBe(false);
  });

  it('once every member is a Ready node, the node list is read every ccpNodesMs, not at every probe', async () => {
    const { c, driver, at } = make();
    const reads = vi.spyOn(driver, 'nodes');
    driver.nodeList = [{ name: 'h2', ready: true }, { name: 'h1', ready: true }];
    c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    const view = ['h1', 'h2'];
    await c.probe(mine);
    expect(c.serverCalm(view)).toBe(true);
    for (const ms of [2000, 4000, 9999]) {
      at(ms);
      await c.probe(mine);
    }
    expect(reads).toHaveBeenCalledTimes(1);
    at(10_000);
    await c.probe(mine);
    expect(reads).toHaveBeenCalledTimes(2);
    // A member missing: read at every probe again.
    expect(c.serverCalm([...view, 'h3'])).toBe(false);
    at(10_250);
    await c.probe(mine);
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('after a restart, an adopted server does not take or announce the address before the election gives this host the server goal', async () => {
    const { c, driver, vip } = make();
    driver.server = { cluster: 'c', generation: 4, host: 'h2', config: '', active: true, pid: 9 };
    await c.adopt();
    driver.ready = true;
    await c.probe(mine);
    expect(vip.ops, 'nothing before a claim').toEqual([]);
    c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    expect(vip.ops).toEqual([`hold ${VIP}`, `announce ${VIP}`]);
  });

  it('a member whose interface is not found (cable out at start) still follows; a held address that cannot be given up holds the follow back', async () => {
    const { c, driver, vip } = make();
    vip.release = async () => {
      throw new Error('no interface holds host.address');
    };
    c.setGoal({ role: 'agent', assignment: h1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(driver.followingUrl, 'followed although the configured address could not be checked').toBe(`https://${VIP}:6443`);
    expect(c.status.lastError).toBeNull();
    const s = make();
    s.c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.vip.held.has(VIP)).toBe(true);
    s.vip.release = async () => {
      throw new Error('RTNETLINK answers: Operation not permitted');
    };
    s.c.setGoal({ role: 'agent', assignment: h1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.c.status.lastError).toMatch(/Operation not permitted/);
    expect(s.driver.calls.archiveServer, 'the server is not archived while the address is held').toHaveLength(0);
  });

  it('an address that is the host\'s own is refused (the server runs, the address is not taken)', async () => {
    const { c, vip } = make(CcpConfigSchema.parse({ vip: { address: '10.0.0.2' } }));
    c.setGoal({ role: 'server', assignment: mine });
    await vi.advanceTimersByTimeAsync(0);
    expect(vip.held.size).toBe(0);
    expect(c.report.role).toBe('server');
    expect(c.status.lastError).toBeNull();
  });

  it('a config with a non-IPv4 address is refused with what to write', () => {
    expect(() => CcpConfigSchema.parse({ vip: { address: 'fd00::1' } })).toThrow(/IPv4/);
    expect(() => CcpConfigSchema.parse({ vip: { address: 'ccp.local' } })).toThrow(/IPv4/);
  });
});
