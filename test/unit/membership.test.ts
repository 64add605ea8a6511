import { describe, expect, it } from 'vitest';
import { MembershipCore } from '../../agent/src/membership/core.js';
import { compareRank } from '../../agent/src/membership/rank.js';
import type { MemberCard, Presence } from '../../agent/src/contract/index.js';
import { SimCluster } from '../support/sim.js';

const card = (host: string, o: Partial<MemberCard> = {}): MemberCard => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, priority: 0, cores: 4, memMB: 4096, ...o });
const TIMINGS = { probeIntervalMs: 1000, settleMs: 2000, forgetAfterMs: 60_000 };
const FACTS = { model: 'x', arch: 'arm64', cores: 4, memMB: 4096, tempC: null, load1: 0 };
const presence = (c: MemberCard, state: 'online' | 'offline', incarnation = 1): Presence => ({ v: 1, cluster: 'c', ...c, state, incarnation, seq: 1, rendezvous: null, movedTo: null, facts: FACTS, ccp: null, term: 0, unreachable: null, carrier: null, cert: 'AA==', ts: 0 });

describe('rank order', () => {
  it.each([
    ['higher priority wins over memory', card('h9', { priority: 1 }), card('h1', { memMB: 8192 })],
    ['more memory wins over cores', card('h9', { memMB: 8192 }), card('h1', { cores: 8 })],
    ['memory within one 256 MB step ties, then cores decide', card('h9', { memMB: 3900, cores: 8 }), card('h1', { memMB: 3950 })],
    ['names in natural order: h2 before h10', card('h2'), card('h10')],
  ])('%s', (_t, better, worse) => {
    expect(compareRank(better, worse)).toBeLessThan(0);
    expect(compareRank(worse, better)).toBeGreaterThan(0);
  });
});

describe('membership core (one agent, fake time)', () => {
  it('a newcomer reads its seed, joins the rendezvous the seed names, then announces itself', () => {
    const core = new MembershipCore(card('h5'), { cluster: 'c', timings: TIMINGS, hasSeeds: true });
    expect(core.start(0)).toEqual([{ type: 'bootstrap' }]);
    const a1 = core.onBootstrap(10, [{ ...card('h1'), lastSeen: 5 }, { ...card('h2'), lastSeen: 5 }], 'h2');
    expect(a1.filter((a) => a.type === 'probe')).toEqual([{ type: 'probe', targets: [card('h2')] }]);
    const a2 = core.onProbe(20, 'h2', true);
    expect(a2).toContainEqual({ type: 'connect', target: card('h2') });
    const a3 = core.onSessionUp(30, 'h2');
    expect(a3).toContainEqual({ type: 'publish-presence' });
    // Now settled on h2, it looks for better-ranked brokers: h1.
    expect(a3).toContainEqual({ type: 'probe', targets: [card('h1')] });
  });

  it('after losing its rendezvous it waits for probes of better members before settling lower', () => {
    const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [
      { ...card('h1'), lastSeen: 1 },
      { ...card('h2'), lastSeen: 1 },
    ]);
    expect(core.start(0)).toEqual([{ type: 'probe', targets: [card('h1'), card('h2')] }]);
    core.onProbe(5, 'h1', true);
    core.onProbe(6, 'h2', true);
    core.onSessionUp(10, 'h1');
    const lost = core.onSessionDown(2000, 'h1');
    expect(lost).toContainEqual({ type: 'probe', targets: [card('h2')] });
    expect(lost.some((a) => a.type === 'connect')).toBe(false); // not itself while h2 is unknown
    expect(core.onProbe(2100, 'h2', true)).toContainEqual({ type: 'connect', target: card('h2') });
  });

  it('a host whose probes all fail becomes its own rendezvous (isolated)', () => {
    const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }]);
    const a = core.start(0);
    expect(a).toEqual([{ type: 'probe', targets: [card('h1')] }]);
    expect(core.onProbe(500, 'h1', false)).toContainEqual({ type: 'connect', target: card('h3') });
  });

  it('a host whose own broker refuses it (revoked) tries it again after a doubling wait, not at once', () => {
    const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }]);
    core.start(0);
    expect(core.onProbe(0, 'h1', false)).toContainEqual({ type: 'connect', target: card('h3') });
    const connects = (a: ReturnType<typeof core.tick>) => a.filter((x) => x.type === 'connect');
    // Refused: 100 ms, then 200, 400, 800, then the probe interval (1000) at most.
    const at: number[] = [];
    let t = 0;
    expect(connects(core.onConnectFailed(t, 'h3'))).toEqual([]);
    while (at.length < 6) {
      t += 10;
      let a = core.tick(t);
      // h1 is probed again each probe interval; it stays unreachable.
      if (a.some((x) => x.type === 'probe')) a = [...a, ...core.onProbe(t, 'h1', false)];
      const c = connects(a);
      if (c.length) {
        at.push(t);
        expect(connects(core.onConnectFailed(t, 'h3'))).toEqual([]);
      }
    }
    const waits = at.map((x, i) => x - (i ? at[i - 1]! : 0));
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000]);
    // Once its broker takes it, the next refusal starts again from 100 ms.
    core.onSessionUp(t, 'h3');
    expect(connects(core.onSessionDown(t + 5, 'h3'))).toEqual([{ type: 'connect', target: card('h3') }]);
    core.onConnectFailed(t + 10, 'h3');
    expect(connects(core.tick(t + 109))).toEqual([]);
    expect(connects(core.tick(t + 110))).toEqual([{ type: 'connect', target: card('h3') }]);
  });

  it('re-probes better members once per probe interval while on a lesser broker', () => {
    const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }]);
    core.start(0);
    core.onProbe(500, 'h1', false);
    core.onSessionUp(520, 'h3');
    expect(core.tick(900).some((a) => a.type === 'probe')).toBe(false);
    expect(core.tick(1500)).toContainEqual({ type: 'probe', targets: [card('h1')] });
    expect(core.onProbe(1510, 'h1', true)).toContainEqual({ type: 'connect', target: card('h1') });
  });

  it('a host left out of the cluster on its broker moves to the next-best broker, and returns when readmitted', () => {
    const core = new MembershipCore(card('h4'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }, { ...card('h2'), lastSeen: 1 }]);
    core.start(0);
    core.onProbe(5, 'h1', true);
    core.onProbe(6, 'h2', false);
    core.onSessionUp(10, 'h1');
    const out = core.exclude(100, 'h1');
    expect(out).toContainEqual({ type: 'event', name: 'excluded', fields: { rendezvous: 'h1' } });
    expect(out).toContainEqual({ type: 'connect', target: card('h4') }); // h2 unreachable: its own broker
    core.onSessionUp(120, 'h4');
    expect(core.exclude(130, 'h1')).toEqual([]); // once
    expect(core.tick(2000)).toContainEqual({ type: 'probe', targets: [card('h2')] }); // h1 is not probed while barred
    core.onProbe(2010, 'h2', false);
    expect(core.readmit(2100, 'h1')).toContainEqual({ type: 'probe', targets: [card('h1')] });
    expect(core.onProbe(2110, 'h1', true)).toContainEqual({ type: 'connect', target: card('h1') });
    expect(core.snapshot(2100).barred).toEqual([]);
  });

  it('members of the old view that do not reappear within settleMs leave; a presence from an older incarnation is ignored', () => {
    const core = new MembershipCore(card('h1'), { cluster: 'c', timings: TIMINGS, hasSeeds: false });
    core.start(0);
    core.onSessionUp(0, 'h1');
    core.onPresence(10, presence(card('h2'), 'online', 5), 1);
    core.onPresence(10, presence(card('h3'), 'online', 5), 1);
    expect(core.view()).toEqual(['h1', 'h2', 'h3']);
    core.onPresence(20, presence(card('h3'), 'offline', 4), 1);
    expect(core.view()).toEqual(['h1', 'h2', 'h3']);
    core.onPresence(30, presence(card('h3'), 'offline', 5), 1);
    expect(core.view()).toEqual(['h1', 'h2']);
    core.onSessionDown(100, 'h1');
    expect(core.view()).toEqual(['h1', 'h2']); // h2 pending
    core.tick(100 + 1999);
    expect(core.view()).toEqual(['h1', 'h2']);
    const left = core.tick(100 + 2000);
    expect(left).toContainEqual({ type: 'event', name: 'member-left', fields: { member: 'h2', reason: 'not seen on the new rendezvous' } });
    expect(core.view()).toEqual(['h1']);
  });

  it('a presence claiming this host name from a newer process is reported as a duplicate', () => {
    const core = new MembershipCore(card('h1'), { cluster: 'c', timings: TIMINGS, hasSeeds: false });
    expect(core.onPresence(0, presence(card('h1'), 'online', 99), 1)).toEqual([{ type: 'event', name: 'duplicate-host-name', fields: { member: 'h1', address: '10.0.0.1' } }]);
  });
});

describe('membership across a simulated cluster', () => {
  const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);
  const converged = (sim: SimCluster, group: string[], rendezvous: string) =>
    group.every((h) => sim.rendezvousOf(h) === rendezvous && sim.viewOf(h).join() === [...group].sort().join());

  it('hosts started with one seed address learn every member and meet on the best-ranked broker', () => {
    const sim = new SimCluster();
    for (const h of hosts(8)) sim.add(h, { seeds: ['h1'] });
    sim.run(5000);
    expect(converged(sim, hosts(8), 'h1')).toBe(true);
  });

  it('a newcomer that outranks the rendezvous is learned first, then everyone moves to it', () => {
    const sim = new SimCluster();
    for (const h of hosts(4)) sim.add(h, { seeds: ['h1'] });
    sim.run(3000);
    sim.add('h9', { priority: 10, seeds: ['h3'] });
    sim.run(4000);
    expect(converged(sim, [...hosts(4), 'h9'], 'h9')).toBe(true);
  });

  it('when the rendezvous host loses its cable the rest converge on the next-best, and merge back after', () => {
    const sim = new SimCluster();
    for (const h of hosts(5)) sim.add(h, { seeds: ['h1'] });
    sim.run(3000);
    sim.pullCable('h1');
    sim.run(5000);
    expect(converged(sim, ['h2', 'h3', 'h4', 'h5'], 'h2')).toBe(true);
    expect(sim.viewOf('h1')).toEqual(['h1']);
    sim.plugCable('h1');
    sim.run(4000);
    expect(converged(sim, hosts(5), 'h1')).toBe(true);
  });

  it('a 2/3 split gives two groups, each on its own best broker; heal gives one', () => {
    const sim = new SimCluster();
    for (const h of hosts(5)) sim.add(h, { seeds: ['h1'] });
    sim.run(3000);
    sim.partition([['h1', 'h2'], ['h3', 'h4', 'h5']]);
    sim.run(5000);
    expect(converged(sim, ['h1', 'h2'], 'h1')).toBe(true);
    expect(converged(sim, ['h3', 'h4', 'h5'], 'h3')).toBe(true);
    sim.partition(null);
    sim.run(4000);
    expect(converged(sim, hosts(5), 'h1')).toBe(true);
  });

  it('a dead member leaves every view within 2 s of its death', () => {
    const sim = new SimCluster();
    for (const h of hosts(5)) sim.add(h, { seeds: ['h1'] });
    sim.run(3000);
    sim.kill('h4');
    sim.run(1999);
    expect(['h1', 'h2', 'h3', 'h5'].every((h) => !sim.viewOf(h).includes('h4'))).toBe(true);
  });
});

describe('membership core: own link', () => {
  it('a lost link isolates at once: everyone leaves the view, the session is dropped, it becomes its own rendezvous', () => {
    const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }]);
    core.start(0);
    core.onProbe(10, 'h1', true);
    core.onSessionUp(20, 'h1');
    core.onPresence(30, presence(card('h1'), 'online'), 1);
    expect(core.view()).toEqual(['h1', 'h3']);
    const a = core.onLink(100, false, 'eth0 has no carrier');
    expect(a).toContainEqual({ type: 'drop-session' });
    expect(a).toContainEqual({ type: 'connect', target: card('h3') });
    expect(core.view()).toEqual(['h3']);
    expect(core.isIsolated).toBe(true);
  });

  it('a returning link probes at once, without waiting for the probe interval', () => {
    const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TIMINGS, hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }]);
    core.start(0);
    core.onProbe(10, 'h1', true);
    core.onSessionUp(20, 'h1');
    core.onLink(100, false);
    core.onSessionUp(120, 'h3');
    expect(core.tick(300).some((a) => a.type === 'probe')).toBe(false); // h1 failed 200 ms ago
    expect(core.onLink(400, true)).toContainEqual({ type: 'probe', targets: [card('h1')] });
  });
});
