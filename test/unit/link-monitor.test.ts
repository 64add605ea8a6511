import { describe, expect, it } from 'vitest';
import { LinkMonitor } from '../../agent/src/link/monitor.js';
import { MockLinkWatcher } from '../../agent/src/link/mock.js';
import type { LinkEvent } from '../../agent/src/link/types.js';

const ev = (o: Partial<LinkEvent>): LinkEvent => ({ ...MockLinkWatcher.link('eth0', 2), kind: 'new', ...o });

describe('link monitor (grace and flaps)', () => {
  it.each([
    // [what, grace, timeline of [ms, up, carrier], expected decisions with their time]
    ['a loss longer than the grace isolates; the return is at once', 300, [[0, true, true], [100, true, false], [1000, true, true]], [[400, 'link-lost'], [1000, 'link-back']]],
    ['a flap shorter than the grace is ignored', 300, [[0, true, true], [100, true, false], [250, true, true]], []],
    ['with no grace, a loss isolates at once', 0, [[0, true, true], [100, true, false]], [[100, 'link-lost']]],
    ['the interface set down counts as a loss', 300, [[0, true, true], [100, false, false]], [[400, 'link-lost']]],
    ['six flaps within 3 s, each 200 ms, never isolate', 300, Array.from({ length: 13 }, (_, i): [number, boolean, boolean] => [i * 240, true, i % 2 === 0]), []],
  ] as [string, number, [number, boolean, boolean][], [number, string][]][])('%s', (_what, grace, timeline, expected) => {
    const m = new LinkMonitor('eth0', grace);
    const got: [number, string][] = [];
    let i = 0;
    for (let t = 0; t <= 4000; t += 50) {
      while (i < timeline.length && timeline[i]![0] <= t) {
        const [, up, carrier] = timeline[i]!;
        for (const d of m.onEvents(t, [ev({ up, carrier })])) got.push([t, d.type]);
        i++;
      }
      for (const d of m.tick(t)) got.push([t, d.type]);
    }
    expect(got).toEqual(expected);
  });

  it('ignores other interfaces and counts debounced flaps', () => {
    const m = new LinkMonitor('eth0', 300);
    expect(m.onEvents(0, [ev({ ifname: 'wlan0', carrier: false })])).toEqual([]);
    m.onEvents(0, [ev({})]);
    m.onEvents(10, [ev({ carrier: false })]);
    m.onEvents(20, [ev({ carrier: true })]);
    expect(m.state.flapsDebounced).toBe(1);
    expect(m.state.lost).toBe(false);
  });
});
