import { describe, expect, it } from 'vitest';
import { LivenessCore, type LivenessEvent } from '../../agent/src/liveness/core.js';
import { decodeHeartbeat, encodeHeartbeat, MAX_HEARTBEAT_BYTES } from '../../agent/src/liveness/packet.js';

const T = { heartbeatMs: 100, deadAfterMs: 1000, meshHeartbeatMs: 500, unreachableAfterMs: 5000 };
const peer = (host: string, incarnation: number | null = 7, kind: 'watch' | 'mesh' = 'watch') => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, incarnation, kind });
const from = { address: '10.0.0.2', port: 1883 };
const hb = (seq: number, incarnation = 7, host = 'h2') => ({ host, incarnation, seq });

/** Runs a core through steps of [time, what happens]; returns the events with their times. */
type Step = [number, 'tick'] | [number, 'hb', number, number?] | [number, 'watch', number | null];
function run(steps: Step[], watched = true): string[] {
  const core = new LivenessCore('h1', 1, T);
  if (watched) core.watch(0, [peer('h2')]);
  const out: string[] = [];
  const note = (t: number, es: LivenessEvent[]) => out.push(...es.map((e) => `${t}:${e.host} ${e.state}`));
  for (const s of steps) {
    if (s[1] === 'tick') note(s[0], core.tick(s[0]).events);
    else if (s[1] === 'hb') {
      const r = core.onHeartbeat(s[0], hb(s[2], s[3] ?? 7), from);
      if (r.verdict !== 'accepted') out.push(`${s[0]}:${r.verdict}`);
      note(s[0], r.events);
    } else core.watch(s[0], [peer('h2', s[2])]);
  }
  return out;
}
/** Ticks every 100 ms from `a` to `b` inclusive. */
const ticks = (a: number, b: number): Step[] => Array.from({ length: (b - a) / 100 + 1 }, (_, i) => [a + i * 100, 'tick']);
/** A heartbeat every 100 ms from `a` to `b`, with sequence numbers from `seq0`. */
const beats = (a: number, b: number, seq0: number, skip: (i: number) => boolean = () => false): Step[] =>
  Array.from({ length: (b - a) / 100 + 1 }, (_, i): Step => [a + i * 100 + 1, 'hb', seq0 + i]).filter((_, i) => !skip(i));
const merge = (...lists: Step[][]): Step[] => lists.flat().sort((x, y) => x[0] - y[0]);

describe('liveness core (table)', () => {
  it.each<[string, Step[], string[]]>([
    ['a peer is up at its first heartbeat', [[0, 'tick'], [50, 'hb', 1]], ['50:h2 up']],
    ['a peer never heard is never declared down (the keepalive decides for it)', ticks(0, 5000), []],
    ['a peer silent for longer than deadAfterMs is down', merge([[0, 'hb', 1]], ticks(0, 1200)), ['0:h2 up', '1100:h2 down']],
    ['a heartbeat after that brings it back up', merge([[0, 'hb', 1], [1500, 'hb', 2]], ticks(0, 1400)), ['0:h2 up', '1100:h2 down', '1500:h2 up']],
    ['9 heartbeats lost in a row: still up', merge(beats(0, 3000, 1, (i) => i >= 5 && i < 14), ticks(0, 3000)), ['1:h2 up']],
    ['a pulled cable (every heartbeat lost from 500 ms): down after deadAfterMs', merge(beats(0, 500, 1), ticks(0, 2000)), ['1:h2 up', '1600:h2 down']],
    ['a replayed heartbeat (an old sequence number) is refused', [[0, 'hb', 5], [10, 'hb', 5], [20, 'hb', 4]], ['0:h2 up', '10:replayed', '20:replayed']],
    ['a heartbeat of an older incarnation than the presence names is refused', [[0, 'watch', 9], [10, 'hb', 100, 8]], ['10:stale-incarnation']],
    ['a newer incarnation (the peer restarted) is taken, with its own numbering', [[0, 'hb', 100, 7], [10, 'hb', 1, 8], [20, 'hb', 50, 7]], ['0:h2 up', '20:stale-incarnation']],
    ['a peer whose clock went back across a reboot is taken at its presence\'s word', [[0, 'hb', 100, 9], [1500, 'tick'], [1700, 'watch', 3], [1710, 'hb', 1, 3]], ['0:h2 up', '1500:h2 down', '1710:h2 up']],
    ['this process stalled for 2 s: not the peer\'s silence', merge(beats(0, 400, 1), ticks(0, 400), [[2400, 'tick'], [2401, 'hb', 6]], ticks(2500, 2600)), ['1:h2 up']],
    ['a stall of 2 s, the peer\'s heartbeats during it taken at their arrival times: not the peer\'s silence', merge(beats(0, 400, 1), ticks(0, 400), [[1400, 'hb', 6], [2300, 'hb', 7], [2400, 'tick']], ticks(2500, 3200)), ['1:h2 up']],
    ['a stall of 2 s, the peer silent from before it until well after: down once the credit is used', merge(beats(0, 400, 1), ticks(0, 400), [[2400, 'tick']], ticks(2500, 3500)), ['1:h2 up', '3400:h2 down']],
    ['heartbeats of one batch taken out of order never move the last arrival back', [...ticks(0, 100), [150, 'hb', 2], [50, 'hb', 3], ...ticks(200, 1300)], ['150:h2 up', '1200:h2 down']],
  ])('%s', (_name, steps, events) => {
    expect(run(steps)).toEqual(events);
  });

  it('heartbeats go to the watched peers, and back to unwatched peers while they send', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2')]);
    expect(core.tick(0).send.map((s) => s.host)).toEqual(['h2']);
    core.onHeartbeat(50, hb(1, 3, 'h3'), { address: '10.0.0.3', port: 2000 });
    expect(core.tick(100).send).toEqual([{ host: 'h2', address: '10.0.0.2', port: 1883 }, { host: 'h3', address: '10.0.0.3', port: 2000 }]);
    for (let t = 200; t <= 3200; t += 100) core.tick(t);
    expect(core.tick(3300).send.map((s) => s.host)).toEqual(['h2']); // h3 went silent: forgotten
    expect(core.state('h3')).toBeNull();
  });

  it('mesh peers get a heartbeat every meshHeartbeatMs and tell whom this host reaches; their silence ends no session', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'mesh'), peer('h3', 7, 'mesh'), peer('h4', 7, 'watch')]);
    const sent: string[] = [];
    const events: LivenessEvent[] = [];
    for (let t = 0; t <= 6100; t += 100) {
      if (t <= 1000) core.onHeartbeat(t, hb(t / 100 + 1, 7, 'h2'), from); // h2 heard until 1 s, h3 never, h4 always
      core.onHeartbeat(t, hb(t / 100 + 1, 7, 'h4'), from);
      const out = core.tick(t);
      sent.push(...out.send.filter((x) => x.host !== 'h4').map((x) => `${t}:${x.host}`));
      events.push(...out.events);
      if (t === 4000) expect([core.reach('h2', t), core.reach('h3', t), core.reach('h4', t)]).toEqual(['yes', 'unknown', 'yes']);
    }
    expect(sent.filter((x) => x.endsWith('h3')).slice(0, 3)).toEqual(['0:h3', '500:h3', '1000:h3']);
    expect([core.reach('h2', 6100), core.reach('h3', 6100), core.reach('h4', 6100)]).toEqual(['no', 'no', 'yes']);
    expect(events).toEqual([]);
  });

  it('quiet: silent for longer than its own period and three heartbeats (a watched peer 400 ms, a mesh peer 800 ms)', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'watch'), peer('h3', 7, 'mesh'), peer('h4', 7, 'mesh')]);
    core.onHeartbeat(0, hb(1, 7, 'h2'), from);
    core.onHeartbeat(0, hb(1, 7, 'h3'), from);
    expect([core.quiet('h2', 399), core.quiet('h2', 400), core.quiet('h3', 799), core.quiet('h3', 800), core.quiet('h4', 5000)]).toEqual([false, true, false, true, false]);
  });

  it('dead: ten heartbeats missed at the rate it is heard (a watched peer after deadAfterMs, a mesh peer after unreachableAfterMs), also once it is no longer watched', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'watch'), peer('h3', 7, 'mesh'), peer('h4', 7, 'mesh')]);
    core.onHeartbeat(0, hb(1, 7, 'h2'), from);
    core.onHeartbeat(0, hb(1, 7, 'h3'), from);
    const d = T.deadAfterMs;
    const u = T.unreachableAfterMs;
    expect([core.dead('h2', d - 1), core.dead('h2', d), core.dead('h3', d), core.dead('h3', u - 1), core.dead('h3', u), core.dead('h4', u * 2)]).toEqual([false, true, false, false, true, false]);
    // Out of the view (no longer watched): judged at the rate it was heard.
    core.watch(10, []);
    expect([core.dead('h2', d), core.dead('h3', d), core.dead('h3', u)]).toEqual([true, false, true]);
  });

  it("ownLinkBack: the peers' silence while this host was cut off is not theirs; dead again only after deadAfterMs of silence since", () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'watch')]);
    core.onHeartbeat(0, hb(1, 7, 'h2'), from);
    for (let t = 100; t <= 1500; t += 100) core.tick(t);
    const during = core.dead('h2', 1500);
    core.ownLinkBack(1500);
    expect([during, core.dead('h2', 1600), core.dead('h2', 2499), core.dead('h2', 2500)]).toEqual([true, false, false, true]);
    // Its silence, and so how quiet it is and how long until its verdict, count from then too.
    expect([core.silence('h2', 1600), core.untilDead('h2', 1600), core.quiet('h2', 1600)]).toEqual([100, 900, false]);
  });

  it('a mesh peer no longer watched is judged at the mesh rate: not down after two lost heartbeats', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h3', 7, 'mesh')]);
    core.onHeartbeat(0, hb(1, 7, 'h3'), from);
    core.watch(100, []);
    for (let t = 100; t <= 2000; t += 100) core.tick(t);
    const early = core.dead('h3', 2000);
    core.onHeartbeat(2050, hb(2, 7, 'h3'), from);
    expect([early, core.dead('h3', 2100)]).toEqual([false, false]);
  });

  it('untilDead: what is left of the verdict at the rate the peer is heard (null: never heard; 0: dead)', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'watch'), peer('h3', 7, 'mesh'), peer('h4', 7, 'mesh')]);
    core.onHeartbeat(0, hb(1, 7, 'h2'), from);
    core.onHeartbeat(0, hb(1, 7, 'h3'), from);
    expect([core.untilDead('h2', 400), core.untilDead('h2', 1000), core.untilDead('h3', 400), core.untilDead('h4', 400)]).toEqual([600, 0, 4600, null]);
  });

  it('dead: a watched peer declared down stays dead when it is then watched as a mesh peer (the CCP host after its eviction), until it is heard', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'watch')]);
    core.onHeartbeat(0, hb(1, 7, 'h2'), from);
    for (let t = 100; t <= 1100; t += 100) core.tick(t);
    core.watch(1150, [peer('h2', 7, 'mesh')]);
    const before = [core.dead('h2', 1200), core.dead('h2', 3000)];
    core.onHeartbeat(3100, hb(2, 7, 'h2'), from);
    expect([...before, core.dead('h2', 3200)]).toEqual([true, true, false]);
  });

  it('a peer back from a restart is not reported unreachable for its silence while it was away', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'mesh'), peer('h3', 7, 'mesh')]);
    core.onHeartbeat(0, hb(1, 7, 'h2'), from);
    core.onHeartbeat(0, hb(1, 7, 'h3'), from);
    for (let t = 0; t <= 8000; t += 100) core.tick(t);
    expect([core.reach('h2', 8000), core.reach('h3', 8000)]).toEqual(['no', 'no']);
    core.watch(8000, [peer('h2', 9, 'mesh'), peer('h3', 7, 'mesh')]); // h2's presence: a new incarnation
    expect([core.reach('h2', 8000), core.reach('h3', 8000)]).toEqual(['unknown', 'no']);
    core.onHeartbeat(8050, hb(1, 9, 'h2'), from);
    expect(core.reach('h2', 8100)).toBe('yes');
    for (let t = 8100; t <= 13_200; t += 100) core.tick(t);
    expect(core.reach('h2', 13_200)).toBe('no'); // silent again since 8050: unreachable again
    core.watch(13_200, [peer('h2', 11, 'mesh')]);
    for (let t = 13_300; t <= 18_200; t += 100) core.tick(t);
    expect([core.reach('h2', 18_100), core.reach('h2', 18_200)]).toEqual(['unknown', 'no']); // never heard since: after unreachableAfterMs
  });

  it('when no heartbeat ever arrived (UDP filtered), nobody counts as unreachable', () => {
    const core = new LivenessCore('h1', 1, T);
    core.watch(0, [peer('h2', 7, 'mesh')]);
    for (let t = 0; t <= 10_000; t += 100) core.tick(t);
    expect(core.reach('h2', 10_000)).toBe('unknown');
  });

  it('its own heartbeats (a loop) are ignored; the number of peers is bounded', () => {
    const core = new LivenessCore('h1', 1, T, 2);
    expect(core.onHeartbeat(0, hb(1, 1, 'h1'), from).verdict).toBe('self');
    expect(core.onHeartbeat(0, hb(1, 1, 'h2'), from).verdict).toBe('accepted');
    expect(core.onHeartbeat(0, hb(1, 1, 'h3'), from).verdict).toBe('accepted');
    expect(core.onHeartbeat(0, hb(1, 1, 'h4'), from).verdict).toBe('full');
  });

  it('each tick numbers its heartbeat', () => {
    const core = new LivenessCore('h1', 42, T);
    expect([core.tick(0).heartbeat, core.tick(100).heartbeat]).toEqual([{ host: 'h1', incarnation: 42, seq: 1 }, { host: 'h1', incarnation: 42, seq: 2 }]);
  });
});

describe('heartbeat datagram', () => {
  const key = Buffer.alloc(32, 7); // a pair's key (trust/keyring.ts derives it)
  const keyFor = (host: string) => (host === 'pi-7' ? key : null);
  const good = encodeHeartbeat(key, 'home', { host: 'pi-7', incarnation: 1_764_000_000_123, seq: 4_000_000_000 });

  it('round-trips', () => {
    expect(decodeHeartbeat(keyFor, 'home', good)).toEqual({ ok: true, hb: { host: 'pi-7', incarnation: 1_764_000_000_123, seq: 4_000_000_000 } });
    expect(good.length).toBeLessThanOrEqual(MAX_HEARTBEAT_BYTES);
  });

  it.each<[string, Buffer, string]>([
    ['another cluster', good, 'signature'],
    ['too large', Buffer.concat([good, Buffer.alloc(200)]), 'size'],
    ['too short', good.subarray(0, 10), 'size'],
    ['another magic', Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]), 'magic'],
    ['a length that does not match', Buffer.concat([good.subarray(0, 4), Buffer.from([9]), good.subarray(5)]), 'malformed'],
    ['a flipped bit', Buffer.from(good.map((b, i) => (i === 12 ? b ^ 1 : b))), 'signature'],
  ])('drops %s', (name, buf, reason) => {
    expect(decodeHeartbeat(keyFor, name === 'another cluster' ? 'lab' : 'home', buf)).toMatchObject({ ok: false, reason });
  });

  it("drops a datagram made with another pair's key, and one from a host whose certificate is not known", () => {
    expect(decodeHeartbeat(() => Buffer.alloc(32, 8), 'home', good)).toMatchObject({ ok: false, reason: 'signature' });
    expect(decodeHeartbeat(() => null, 'home', good)).toMatchObject({ ok: false, reason: 'unknown-peer' });
  });
});

describe('liveness core: replays after forgetting a peer', () => {
  it('a sender not tracked is answered only when its current presence vouches for it', () => {
    const core = new LivenessCore('h1', 1, T);
    const from = { address: '10.0.0.9', port: 1883 };
    // A stopped host's recorded heartbeats: its presence is offline, so it is not admitted.
    expect(core.onHeartbeat(0, hb(5, 1, 'h2'), from, false).verdict).toBe('unadmitted');
    expect(core.tick(100).send).toEqual([]);
    expect(core.onHeartbeat(200, hb(5, 2, 'h2'), from, true).verdict).toBe('accepted');
  });
});
