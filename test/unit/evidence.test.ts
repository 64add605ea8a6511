import { describe, expect, it } from 'vitest';
import type { MemberCard } from '../../agent/src/contract/index.js';
import type { ViewMember } from '../../agent/src/election/core.js';
import { goneEndpoints, noneBetterOnTheWay } from '../../agent/src/election/evidence.js';

const card = (host: string, priority = 0): MemberCard => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, priority, cores: 4, memMB: 4096 });
const ep = (h: string) => `https://10.0.0.${h.slice(1)}:6443`;
const following = (host: string, ccpHost: string): ViewMember => ({ card: card(host), ccp: { role: 'agent', generation: 3, state: null, endpoint: ep(ccpHost), reach: null, clusterSize: null }, unreachable: null });
const hostOf = (e: string) => (e.startsWith('https://10.0.0.') ? `h${e.split('.')[3]!.split(':')[0]}` : null);

describe('goneEndpoints (table)', () => {
  it.each<[string, ViewMember[], string[], string[]]>([
    ['members follow a CCP whose host is dead: gone', [following('h3', 'h1'), following('h4', 'h1')], ['h1'], [ep('h1')]],
    ['…whose host is alive: not gone', [following('h3', 'h1')], [], []],
    ['this host\'s own endpoint is never gone by its own heartbeats', [following('h3', 'h2')], ['h2'], []],
    ['an endpoint of no known host: not gone', [{ ...following('h3', 'h1'), ccp: { ...following('h3', 'h1').ccp!, endpoint: 'https://192.0.2.9:6443' } }], ['h1'], []],
  ])('%s', (_n, view, deadHosts, want) => {
    expect(goneEndpoints(view, 'h2', (e) => (e.includes('192.0.2.') ? null : hostOf(e)), (h) => deadHosts.includes(h))).toEqual(want);
  });
});

describe('noneBetterOnTheWay (table)', () => {
  it.each<[string, MemberCard[], string[], boolean]>([
    ['the only better-ranked member (h1) is dead', [card('h1'), card('h3')], ['h1'], true],
    ['h1 is alive: it may still be on its way', [card('h1'), card('h3')], [], false],
    ['only worse-ranked members known', [card('h3'), card('h4')], [], true],
    ['a member better by priority, alive', [card('h9', 10)], [], false],
  ])('%s', (_n, known, deadHosts, want) => {
    expect(noneBetterOnTheWay(card('h2'), known, (h) => deadHosts.includes(h))).toBe(want);
  });
});
