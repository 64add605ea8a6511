import { describe, expect, it } from 'vitest';
import { violations } from '../../agent/src/lab/invariants.js';
import type { LabCluster, LabHostStatus, LabStatus } from '../../agent/src/lab/status.js';
import type { AgentStatus } from '../../agent/src/contract/status.js';

/**
 * The checker every scenario and the demo rely on, on hand-made lab states: each invariant must
 * be able to fail.
 */
const ep = (h: string) => `https://10.0.0.${h.slice(1)}:6443`;

function host(name: string, o: { role?: 'primary' | 'follower'; following?: string | null; ccpRunning?: boolean; agent?: 'running' | 'stopped' } = {}): LabHostStatus {
  const view = { role: o.role ?? 'follower' } as Pick<AgentStatus, 'role'> as AgentStatus;
  return { name, address: '', cable: 'in', loss: 0, agent: o.agent ?? 'running', pid: 1, following: o.following ?? null, readyNode: null, ccpRunning: o.ccpRunning ?? false, metrics: null, view: o.agent === 'stopped' ? null : view };
}

function cluster(members: string[], o: Partial<LabCluster> & { ccpHost?: string | null } = {}): LabCluster {
  const ccpHost = o.ccpHost === undefined ? members[0]! : o.ccpHost;
  return { id: `c@${members[0]}`, term: 1, primary: members[0]!, members, agreed: true, ccp: ccpHost ? { host: ccpHost, endpoint: ep(ccpHost), ready: true, generation: 1, nodes: members.map((name) => ({ name, ready: true })) } : null, ...o };
}

/** h1 primary and CCP host, h2 and h3 following it: every invariant holds. */
function healthy(): LabStatus {
  return {
    name: 't',
    dashboard: null,
    partition: null,
    hosts: [host('h1', { role: 'primary', ccpRunning: true }), host('h2', { following: ep('h1') }), host('h3', { following: ep('h1') })],
    clusters: [cluster(['h1', 'h2', 'h3'])],
  };
}

describe('lab invariants (table)', () => {
  it('a healthy cluster has no violations', () => {
    expect(violations(healthy())).toEqual([]);
  });

  it.each<[string, (s: LabStatus) => void, RegExp]>([
    ['a host in no cluster', (s) => (s.clusters[0]!.members = ['h1', 'h2']), /h3 is in 0 clusters/],
    ['a host in two clusters', (s) => s.clusters.push(cluster(['h3'], { ccpHost: 'h3' })), /h3 is in 2 clusters/],
    ['members disagree', (s) => (s.clusters[0]!.agreed = false), /members disagree/],
    ['a primary that is not a member', (s) => (s.clusters[0]!.primary = 'h9'), /primary h9 is not a member/],
    ['two hosts act as primary', (s) => (s.hosts[1]!.view!.role = 'primary'), /2 hosts act as primary/],
    ['no CCP', (s) => (s.clusters[0]!.ccp = null), /no CCP/],
    ['a CCP not ready', (s) => (s.clusters[0]!.ccp!.ready = false), /not ready/],
    ['no CCP process on its host', (s) => (s.hosts[0]!.ccpRunning = false), /no CCP process on h1/],
    ['a member following another endpoint', (s) => (s.hosts[2]!.following = ep('h2')), /h3 follows/],
    ['a member that is not a Ready node of the CCP', (s) => (s.clusters[0]!.ccp!.nodes![2]!.ready = false), /h3 is not a Ready node of the CCP on h1/],
    ['a member the CCP does not list', (s) => s.clusters[0]!.ccp!.nodes!.pop(), /h3 is not a Ready node/],
    ['a CCP whose nodes were not read', (s) => (s.clusters[0]!.ccp!.nodes = null), /the CCP on h1 has not listed its nodes/],
    ['a CCP running on a host that is not the CCP host', (s) => (s.hosts[1]!.ccpRunning = true), /a CCP runs on h2/],
  ])('catches %s', (_n, breakIt, want) => {
    const s = healthy();
    breakIt(s);
    expect(violations(s).join('\n')).toMatch(want);
  });

  it('with a reachability oracle: members that cannot reach each other', () => {
    expect(violations(healthy(), (a, b) => !(a === 'h2' && b === 'h3'))).toEqual(['c@h1: h2 and h3 cannot reach each other']);
  });

  it('a stopped agent is in no cluster without a violation', () => {
    const s = healthy();
    s.hosts[2] = host('h3', { agent: 'stopped' });
    s.clusters[0]!.members = ['h1', 'h2'];
    expect(violations(s)).toEqual([]);
  });
});
