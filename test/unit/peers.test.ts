import { describe, expect, it } from 'vitest';
import { PeerWatch, type BrokerPort, type LivenessPort } from '../../agent/src/daemon/peers.js';
import type { Reach, WatchedPeer } from '../../agent/src/liveness/core.js';
import { MembershipCore, type Action } from '../../agent/src/membership/core.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import type { MemberCard } from '../../agent/src/contract/index.js';

const card = (host: string): MemberCard => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, priority: 0, cores: 4, memMB: 4096 });
const FACTS = { model: 'x', arch: 'arm64', cores: 4, memMB: 4096, tempC: null, load1: 0 };

/** h4 on h1's broker with h1, h2, h3 online; heartbeats and broker faked. */
function setup(reach: Record<string, Reach>, clients: string[] = []) {
  let now = 1000;
  const core = new MembershipCore(card('h4'), { cluster: 'c', timings: { probeIntervalMs: 1000, settleMs: 2000, forgetAfterMs: 60_000 }, hasSeeds: false }, ['h1', 'h2', 'h3'].map((h) => ({ ...card(h), lastSeen: 1 })));
  core.onSessionUp(now, 'h1');
  for (const h of ['h1', 'h2', 'h3']) core.onPresence(now, { v: 1, cluster: 'c', ...card(h), state: 'online', incarnation: 5, seq: 1, rendezvous: 'h1', movedTo: null, facts: FACTS, ccp: null, term: 0, unreachable: null, carrier: null, cert: 'AA==', ts: 0 }, 1);
  const watched: WatchedPeer[][] = [];
  const liveness: LivenessPort = { watch: (p: WatchedPeer[]) => void watched.push(p), reach: (h: string) => reach[h] ?? 'unknown' };
  const evicted: string[] = [];
  const broker: BrokerPort = { clientHosts: () => clients, evict: (h: string) => (evicted.push(h), 1) };
  const ran: Action[] = [];
  const dropped: string[] = [];
  let published = 0;
  const w = new PeerWatch({
    self: 'h4', log: silentLogger(), clock: { now: () => now }, liveness, broker, core,
    rendezvous: () => 'h1', ccpHost: () => 'h2', run: (a) => ran.push(...a), dropSession: (r) => dropped.push(r), presenceChanged: () => published++, excludedRetryMs: 60_000,
  });
  return { w, watched, evicted, ran, dropped, published: () => published, at: (t: number) => (now = t) };
}

describe('peer watch (the agent side of heartbeats)', () => {
  it('fast heartbeats with the rendezvous and this broker\'s clients, mesh with the rest of the view and the CCP host', () => {
    const s = setup({}, ['h3']);
    s.w.tick(1000);
    expect(s.watched.at(-1)!.map((p) => `${p.host}:${p.kind}`).sort()).toEqual(['h1:watch', 'h2:mesh', 'h3:watch']);
  });

  it.each<[string, Record<string, Reach>, string[] | null]>([
    ['no heartbeat ever arrived: it cannot judge (null)', {}, null],
    ['it hears everyone', { h1: 'yes', h2: 'yes', h3: 'yes' }, []],
    ['h3 silent for unreachableAfterMs', { h1: 'yes', h2: 'yes', h3: 'no' }, ['h3']],
  ])('reports whom it does not reach: %s', (_n, reach, want) => {
    const s = setup(reach);
    s.w.tick(1000);
    expect(s.w.unreachable).toEqual(want);
    expect(s.published()).toBe(want === null ? 0 : 1); // null is where it started
  });

  it('a dead rendezvous ends the session; a dead client is evicted from this broker', () => {
    const s = setup({});
    s.w.onLiveness({ host: 'h1', state: 'down', silentMs: 1020 });
    expect(s.dropped).toEqual(['no heartbeat from h1 for 1020 ms']);
    s.w.onLiveness({ host: 'h3', state: 'down', silentMs: 1100 });
    expect(s.evicted).toEqual(['h1', 'h3']);
    expect(s.dropped).toHaveLength(1);
  });

  it('excluded: bars the broker and moves; comes back once it hears every member there', () => {
    const reach: Record<string, Reach> = { h1: 'yes', h2: 'no', h3: 'no' };
    const s = setup(reach);
    s.w.onExcluded(['h1', 'h2', 'h3'], 'h1/3/500');
    expect(s.ran).toContainEqual({ type: 'event', name: 'excluded', fields: { rendezvous: 'h1' } });
    s.w.onExcluded(['h1', 'h2', 'h3'], 'h1/3/500'); // once
    expect(s.ran.filter((a) => a.type === 'event' && a.name === 'excluded')).toHaveLength(1);
    s.w.tick(2000);
    expect(s.watched.at(-1)!.map((p) => p.host).sort()).toEqual(['h1', 'h2', 'h3']); // still listens for them
    expect(s.w.exclusion).not.toBeNull();
    reach.h2 = 'yes';
    reach.h3 = 'yes';
    s.w.tick(3000);
    expect(s.w.exclusion).toBeNull();
    expect(s.ran).toContainEqual({ type: 'event', name: 'readmitted', fields: { rendezvous: 'h1' } });
    // Back on h1's broker, the retained claim that left it out is not obeyed again: it stays
    // until the primary decides anew. A newer claim that still leaves it out is obeyed.
    s.ran.length = 0;
    s.w.onExcluded(['h1', 'h2', 'h3'], 'h1/3/500');
    expect(s.w.exclusion).toBeNull();
    expect(s.ran).toEqual([]);
    s.w.onExcluded(['h1', 'h2', 'h3'], 'h1/3/4200');
    expect(s.w.exclusion).toMatchObject({ host: 'h1', claim: 'h1/3/4200' });
    expect(s.ran).toContainEqual({ type: 'event', name: 'excluded', fields: { rendezvous: 'h1' } });
  });

  it('excluded for good (a member there left meanwhile): tries again after a minute', () => {
    const s = setup({ h1: 'yes', h2: 'no', h3: 'yes' });
    s.w.onExcluded(['h1', 'h2', 'h3'], 'h1/3/500');
    s.w.tick(30_000);
    expect(s.w.exclusion).not.toBeNull();
    s.at(61_500);
    s.w.tick(61_500);
    expect(s.w.exclusion).toBeNull();
  });
});
