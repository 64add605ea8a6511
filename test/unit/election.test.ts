import { describe, expect, it } from 'vitest';
import { decide, localGoal, mergeWinner, type ElectionInput, type ViewMember } from '../../agent/src/election/core.js';
import type { Claim } from '../../agent/src/contract/index.js';
import type { MemberCard } from '../../agent/src/contract/index.js';

const card = (host: string, priority = 0): MemberCard => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, priority, cores: 4, memMB: 4096 });
const ep = (h: string) => `https://10.0.0.${h.slice(1)}:6443`;
const server = (gen: number, h: string, state: 'ready' | 'starting' | 'failed' = 'ready') => ({ role: 'server' as const, generation: gen, state, endpoint: ep(h), reach: null, clusterSize: null });
const agentOf = (gen: number, h: string) => ({ role: 'agent' as const, generation: gen, state: null, endpoint: ep(h), reach: null, clusterSize: null });
const member = (h: string, ccp: ViewMember['ccp'] = null, priority = 0): ViewMember => ({ card: card(h, priority), ccp });
const claim = (o: Partial<Claim> & Pick<Claim, 'primary' | 'term'>): Claim => ({ v: 1, cluster: 'c', members: [], ccp: null, placement: '', configRevision: 1, ts: 0, ...o });

const base = (o: Partial<ElectionInput>): ElectionInput => ({
  now: 10_000, self: 'h1', cluster: 'c', view: [], claim: null, remembered: null, highestTerm: 0, highestGeneration: 0,
  ccpReachable: null, ccpHostAgentAlive: null, failed: new Map(), viewStableSince: 0, justLeftGroup: false, settleMs: 2000, port: 6443, configRevision: 1, ...o,
});

describe('election core (table)', () => {
  it.each<[string, Partial<ElectionInput>, { role: string; publish?: Partial<Claim> | null; reason?: string }]>([
    ['a member that is not the best-ranked follows', { self: 'h2', view: [member('h1'), member('h2')] }, { role: 'follower' }],
    ['the best-ranked member places the first CCP on the best host once the view has settled', { view: [member('h1'), member('h2'), member('h3')] }, { role: 'primary', publish: { term: 1, primary: 'h1', ccp: { host: 'h1', generation: 1, endpoint: ep('h1') } } }],
    ['…but not while the view is still forming', { view: [member('h1'), member('h2')], viewStableSince: 9000 }, { role: 'primary', publish: null }],
    ['priority decides the CCP host', { view: [member('h1'), member('h2', null, 5)], self: 'h2' }, { role: 'primary', publish: { ccp: { host: 'h2', generation: 1, endpoint: ep('h2') } } }],
    [
      'a group that lost its primary but reaches its CCP keeps it (new term, same CCP)',
      { self: 'h2', view: [member('h2', server(3, 'h2')), member('h3', agentOf(3, 'h2'))], claim: claim({ primary: 'h1', term: 4, ccp: { host: 'h2', generation: 3, endpoint: ep('h2') } }), highestTerm: 4, highestGeneration: 3 },
      { role: 'primary', publish: { term: 5, primary: 'h2', ccp: { host: 'h2', generation: 3, endpoint: ep('h2') } } },
    ],
    [
      'a group that lost its CCP (host gone, endpoint unreachable) starts a new generation on its best host',
      { self: 'h3', view: [member('h3', agentOf(3, 'h2')), member('h4', agentOf(3, 'h2'))], claim: claim({ primary: 'h3', term: 5, ccp: { host: 'h2', generation: 3, endpoint: ep('h2') } }), highestTerm: 5, highestGeneration: 3, ccpReachable: false },
      { role: 'primary', publish: { term: 6, ccp: { host: 'h3', generation: 4, endpoint: ep('h3') } } },
    ],
    [
      'a CCP whose host left the view but still answers while its agent does not (agent crashed) is kept',
      { self: 'h3', view: [member('h3', agentOf(3, 'h2'))], claim: claim({ primary: 'h3', term: 5, ccp: { host: 'h2', generation: 3, endpoint: ep('h2') }, members: ['h3'] }), highestTerm: 5, ccpReachable: true, ccpHostAgentAlive: false },
      { role: 'primary', publish: null },
    ],
    [
      'a CCP whose host is alive in another cluster is not ours (non-transitive partition)',
      { self: 'h4', view: [member('h4', agentOf(3, 'h3')), member('h5', agentOf(3, 'h3'))], claim: claim({ primary: 'h4', term: 5, ccp: { host: 'h3', generation: 3, endpoint: ep('h3') }, members: ['h4', 'h5'] }), highestTerm: 5, highestGeneration: 3, ccpReachable: true, ccpHostAgentAlive: true },
      { role: 'primary', publish: { term: 6, ccp: { host: 'h4', generation: 4, endpoint: ep('h4') } } },
    ],
    [
      'an unknown reachability is not a loss: no failover on a single missing probe',
      { self: 'h3', view: [member('h3', agentOf(3, 'h2'))], claim: claim({ primary: 'h3', term: 5, ccp: { host: 'h2', generation: 3, endpoint: ep('h2') }, members: ['h3'] }), highestTerm: 5, ccpReachable: null },
      { role: 'primary', publish: null },
    ],
    [
      'heal: the CCP with more followers wins, whatever the generations',
      { view: [member('h1', server(2, 'h1')), member('h2', server(3, 'h2')), member('h3', agentOf(3, 'h2')), member('h4', agentOf(3, 'h2'))], claim: claim({ primary: 'h1', term: 7, ccp: { host: 'h1', generation: 2, endpoint: ep('h1') } }), highestTerm: 8, highestGeneration: 3 },
      { role: 'primary', publish: { term: 9, ccp: { host: 'h2', generation: 3, endpoint: ep('h2') } } },
    ],
    [
      'heal: nothing is published until the merged view has settled',
      { view: [member('h1', server(2, 'h1')), member('h2', server(3, 'h2'))], claim: claim({ primary: 'h1', term: 7, ccp: { host: 'h1', generation: 2, endpoint: ep('h1') } }), highestTerm: 7, viewStableSince: 9500 },
      { role: 'primary', publish: null },
    ],
    [
      'heal, the other CCP host not in the view yet: members following a newer CCP wait for the view to settle (not re-pointed first)',
      { view: [member('h1', server(2, 'h1')), member('h3', agentOf(3, 'h2')), member('h4', agentOf(3, 'h2'))], claim: claim({ primary: 'h1', term: 7, ccp: { host: 'h1', generation: 2, endpoint: ep('h1') } }), highestTerm: 8, highestGeneration: 3, viewStableSince: 9500 },
      { role: 'primary', publish: null },
    ],
    [
      'a failover on a new broker whose retained claim is older: members following the newer CCP of this side, its host dead by heartbeats, do not wait for a merge',
      { self: 'h2', view: [member('h2', agentOf(3, 'h1')), member('h3', agentOf(3, 'h1')), member('h4', agentOf(3, 'h1'))], claim: claim({ primary: 'h2', term: 2, ccp: { host: 'h2', generation: 2, endpoint: ep('h2') }, members: ['h2', 'h3'] }), highestTerm: 3, highestGeneration: 3, viewStableSince: 9500, goneEndpoints: [ep('h1')] },
      { role: 'primary', publish: { term: 4, ccp: { host: 'h2', generation: 2, endpoint: ep('h2') } } },
    ],
    [
      '…while the same view with that host alive is a heal: it waits for the view to settle',
      { self: 'h2', view: [member('h2', agentOf(3, 'h1')), member('h3', agentOf(3, 'h1')), member('h4', agentOf(3, 'h1'))], claim: claim({ primary: 'h2', term: 2, ccp: { host: 'h2', generation: 2, endpoint: ep('h2') }, members: ['h2', 'h3'] }), highestTerm: 3, highestGeneration: 3, viewStableSince: 9500, goneEndpoints: [ep('h5')] },
      { role: 'primary', publish: null, reason: 'members follow another CCP; waiting for the merged view to settle' },
    ],
    [
      'after a failover, members still on the older CCP, its host dead, do not hold the new claim back',
      { self: 'h3', view: [member('h3', server(4, 'h3')), member('h4', agentOf(3, 'h2'))], claim: claim({ primary: 'h3', term: 6, ccp: { host: 'h3', generation: 4, endpoint: ep('h3') }, members: ['h3', 'h4'] }), highestTerm: 6, highestGeneration: 4, viewStableSince: 9500, goneEndpoints: [ep('h2')] },
      { role: 'primary', publish: null, reason: 'claim up to date' }, // the heal wait does not apply: not 'members follow another CCP'
    ],
    [
      'heal: the other CCP host looks dead by this host\'s heartbeats (stale), but the arriving members report reaching it: it waits for the view to settle',
      { view: [member('h1', server(4, 'h1')), member('h3', { ...agentOf(5, 'h2'), reach: true }), member('h4', agentOf(5, 'h2'))], claim: claim({ primary: 'h1', term: 6, ccp: { host: 'h1', generation: 4, endpoint: ep('h1') }, members: ['h1'] }), highestTerm: 6, highestGeneration: 5, viewStableSince: 9500, goneEndpoints: [ep('h2')] },
      { role: 'primary', publish: null, reason: 'members follow another CCP; waiting for the merged view to settle' },
    ],
    [
      'heal, the other CCP older and its host not in the view yet: members following it wait for the view to settle (an isolated host coming back does not win them)',
      { view: [member('h1', server(4, 'h1')), member('h3', agentOf(2, 'h2')), member('h4', agentOf(2, 'h2')), member('h5', agentOf(2, 'h2'))], claim: claim({ primary: 'h1', term: 6, ccp: { host: 'h1', generation: 4, endpoint: ep('h1') }, members: ['h1'] }), highestTerm: 6, highestGeneration: 4, viewStableSince: 9500 },
      { role: 'primary', publish: null, reason: 'members follow another CCP; waiting for the merged view to settle' },
    ],
    [
      'a member that saw a higher term is outbid with a new term',
      { view: [member('h1', server(1, 'h1')), member('h2', agentOf(1, 'h1'))], claim: claim({ primary: 'h1', term: 3, ccp: { host: 'h1', generation: 1, endpoint: ep('h1') }, members: ['h1', 'h2'] }), highestTerm: 6, highestGeneration: 1 },
      { role: 'primary', publish: { term: 7, ccp: { host: 'h1', generation: 1, endpoint: ep('h1') } } },
    ],
    [
      'a host whose CCP failed to start is skipped: the next-best host gets it',
      { view: [member('h1', server(1, 'h1', 'failed')), member('h2')], claim: claim({ primary: 'h1', term: 1, ccp: { host: 'h1', generation: 1, endpoint: ep('h1') } }), highestTerm: 1, highestGeneration: 1, failed: new Map([['h1', 40_000]]) },
      { role: 'primary', publish: { term: 2, ccp: { host: 'h2', generation: 2, endpoint: ep('h2') } } },
    ],
    [
      'after a restart, the remembered CCP (its host elsewhere) is probed before anything is decided',
      { view: [member('h1'), member('h3')], remembered: { host: 'h2', generation: 5, endpoint: ep('h2') }, highestTerm: 9, highestGeneration: 5, ccpReachable: null },
      { role: 'primary', publish: null },
    ],
    [
      '…and adopted when it answers: no second CCP',
      { view: [member('h1'), member('h3')], remembered: { host: 'h2', generation: 5, endpoint: ep('h2') }, highestTerm: 9, highestGeneration: 5, ccpReachable: true, ccpHostAgentAlive: false },
      { role: 'primary', publish: { term: 10, ccp: { host: 'h2', generation: 5, endpoint: ep('h2') } } },
    ],
    [
      'a bridge at the primary (h1 reaches all; h2,h3 and h4,h5 do not reach each other): the best-ranked clique stays, the rest are excluded',
      { view: [member('h1', server(1, 'h1')), { ...member('h2', agentOf(1, 'h1')), unreachable: ['h4', 'h5'] }, { ...member('h3', agentOf(1, 'h1')), unreachable: ['h4', 'h5'] }, { ...member('h4', agentOf(1, 'h1')), unreachable: ['h2', 'h3'] }, { ...member('h5', agentOf(1, 'h1')), unreachable: ['h2', 'h3'] }], claim: claim({ primary: 'h1', term: 2, members: ['h1', 'h2', 'h3', 'h4', 'h5'], ccp: { host: 'h1', generation: 1, endpoint: ep('h1') } }), highestTerm: 2, highestGeneration: 1 },
      { role: 'primary', publish: { term: 2, members: ['h1', 'h2', 'h3'], excluded: ['h4', 'h5'], ccp: { host: 'h1', generation: 1, endpoint: ep('h1') } } },
    ],
    [
      'one report of a cut pair is enough (the other side may not have judged yet)',
      { view: [member('h1'), member('h2'), { ...member('h3'), unreachable: ['h2'] }], viewStableSince: 0 },
      { role: 'primary', publish: { members: ['h1', 'h2'], excluded: ['h3'] } },
    ],
    [
      'a CCP host left out of the clique is not kept: a new CCP inside it, a new term',
      { view: [member('h1'), { ...member('h2', agentOf(4, 'h3')), unreachable: ['h3'] }, member('h3', server(4, 'h3'))], claim: claim({ primary: 'h1', term: 6, members: ['h1', 'h2', 'h3'], ccp: { host: 'h3', generation: 4, endpoint: ep('h3') } }), highestTerm: 6, highestGeneration: 4, ccpReachable: true, ccpHostAgentAlive: true },
      { role: 'primary', publish: { term: 7, members: ['h1', 'h2'], excluded: ['h3'], ccp: { host: 'h1', generation: 5, endpoint: ep('h1') } } },
    ],
    [
      'members that do not know whom they reach (null) are all kept; no `excluded` field',
      { view: [member('h1'), { ...member('h2'), unreachable: null }, { ...member('h3'), unreachable: [] }] },
      { role: 'primary', publish: { members: ['h1', 'h2', 'h3'] } },
    ],
  ])('%s', (_what, input, want) => {
    const out = decide(base(input));
    expect(out.role).toBe(want.role);
    if (out.role === 'primary' && 'publish' in want) {
      if (want.publish === null) expect(out.publish).toBeNull();
      else expect(out.publish).toMatchObject(want.publish!);
      if (out.publish && !want.publish?.excluded) expect(out.publish).not.toHaveProperty('excluded');
      if (want.reason) expect(out.reason).toBe(want.reason);
    }
  });

  it('the merge winner: followers, then the older generation, then rank', () => {
    const a = { host: 'h1', generation: 2, endpoint: ep('h1') };
    const b = { host: 'h2', generation: 3, endpoint: ep('h2') };
    expect(mergeWinner([member('h1', server(2, 'h1')), member('h2', server(3, 'h2'))], [a, b])).toEqual(a);
    expect(mergeWinner([member('h1', server(2, 'h1')), member('h2', server(3, 'h2')), member('h3', agentOf(3, 'h2'))], [a, b])).toEqual(b);
    // Followers not yet in the merged view count through the size the server reports.
    expect(mergeWinner([member('h1', server(2, 'h1')), member('h2', { ...server(3, 'h2'), clusterSize: 4 })], [a, b])).toEqual(b);
  });

  it('the local goal: the CCP host runs the server, everyone else follows it', () => {
    const c = claim({ primary: 'h1', term: 1, members: ['h1', 'h2', 'h3'], ccp: { host: 'h2', generation: 1, endpoint: ep('h2') } });
    expect(localGoal('h2', c)).toEqual({ role: 'server', assignment: c.ccp });
    expect(localGoal('h3', c)).toEqual({ role: 'agent', assignment: c.ccp });
    expect(localGoal('h3', null)).toEqual({ role: 'keep' });
  });

  it('a claim binds its members only: a CCP host that joins after it was decided keeps its CCP', () => {
    // After a heal: h1's claim was made before h4 (which runs the other side's CCP) was in its view.
    const c = claim({ primary: 'h1', term: 4, members: ['h1', 'h5'], ccp: { host: 'h1', generation: 1, endpoint: ep('h1') } });
    expect(localGoal('h4', c)).toEqual({ role: 'keep' });
    expect(localGoal('h5', c)).toEqual({ role: 'agent', assignment: c.ccp });
  });
});
