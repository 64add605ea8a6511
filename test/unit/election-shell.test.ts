import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ElectionShell } from '../../agent/src/election/shell.js';
import type { CcpPort, LocalCcpGoal } from '../../agent/src/ccp/goal.js';
import type { CcpReport, Claim } from '../../agent/src/contract/index.js';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { electionFile } from '../../agent/src/election/store.js';
import { CcpConfigSchema } from '../../agent/src/config/ccp.js';
import { silentLogger } from '../../agent/src/log/logger.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CCP = { host: 'h1', generation: 3, endpoint: 'https://10.0.0.1:6443' };
const KEY = `${CCP.generation}@${CCP.endpoint}`;

/** The CCP as the election sees it: a typed double of the controller's port. */
class CcpStub implements CcpPort {
  report: CcpReport = { role: 'agent', generation: 3, state: null, endpoint: CCP.endpoint, reach: null, clusterSize: null };
  followedHost: string | null = CCP.host;
  goals: LocalCcpGoal[] = [];
  setGoal(goal: LocalCcpGoal): void {
    this.goals.push(goal);
  }
}

/** A shell on h2 that knows (from disk) the CCP on h1, and hears h1's heartbeats as `silence` says. */
function shellOn(silence: () => number | null, ccp = new CcpStub(), dead: () => boolean = () => false) {
  const dir = mkdtempSync(join(tmpdir(), 'ivr-shell-'));
  dirs.push(dir);
  const file = electionFile(dir);
  file.write({ highestTerm: 4, highestGeneration: 3, config: null, lastCcp: CCP });
  const shell = new ElectionShell({
    cluster: 'c', self: () => ({ host: 'h2', address: '10.0.0.2', port: 1883, priority: 0, cores: 4, memMB: 4096 }), port: 6443,
    timings: TimingsSchema.parse({}), configured: CcpConfigSchema.parse({}), file, ccp, log: silentLogger(),
    publish: () => undefined, presenceChanged: () => undefined, onExcluded: () => undefined, silence: () => silence(), dead: () => dead(),
  });
  shell.load(0, false);
  return shell;
}

describe('election shell: when the CCP counts as lost (table)', () => {
  it.each<[string, [number, boolean][], number | null, boolean | null]>([
    ['one failed probe while the CCP host is heard: not yet', [[1000, false]], 100, null],
    ['one failed probe after a second without its heartbeats: lost (a pulled cable)', [[1000, false]], 1200, false],
    ['…but not without heartbeats to judge by (UDP filtered): the probes must add up', [[1000, false]], null, null],
    ['two failed probes a second apart: lost, heartbeats or not', [[1000, false], [2000, false]], null, false],
    ['its agent is silent but the CCP answers (the agent died): kept', [[1000, true]], 5000, true],
  ])('%s', (_name, probes, silent, want) => {
    const shell = shellOn(() => silent);
    for (const [at, ok] of probes) shell.onReach(KEY, ok, at);
    expect(shell.reachReport(probes.at(-1)![0])).toBe(want);
  });

  it('a success from before the CCP host fell silent no longer counts (a member must not vouch for a CCP it last saw before the cut)', () => {
    let silent = 100;
    const shell = shellOn(() => silent);
    shell.onReach(KEY, true, 1000);
    expect(shell.reachReport(1500)).toBe(true);
    silent = 1200; // heard last at 1800: the success at 1000 predates the silence
    expect(shell.reachReport(3000)).toBeNull();
    silent = 1900; // heard last at 1100: still after the success
    expect(shell.reachReport(3000)).toBeNull();
    silent = 900;
    expect(shell.reachReport(3000)).toBe(true);
  });
});

describe('election shell: a follower that just changed broker', () => {
  const h3 = { host: 'h3', address: '10.0.0.3', port: 1883, priority: 10, cores: 4, memMB: 4096 };
  const newCcp = { host: 'h3', generation: 4, endpoint: 'https://10.0.0.3:6443' };
  const claim: Claim = { v: 1, cluster: 'c', term: 5, primary: 'h3', members: ['h2', 'h3'], ccp: newCcp, placement: '', configRevision: 1, ts: 0 };
  it.each<[string, boolean, LocalCcpGoal['role']]>([
    ['keeps the CCP it follows while settling, if that CCP host is not dead by its heartbeats (a heal: the merge must count it on its old side)', false, 'keep'],
    ['follows the new CCP at once if that CCP host is dead by its heartbeats (a failover: no merge can count it)', true, 'agent'],
  ])('%s', (_n, dead, role) => {
    const ccp = new CcpStub();
    const shell = shellOn(() => null, ccp, () => dead);
    shell.brokerChanged(1000);
    shell.onClaim(claim, 'h3');
    shell.step(1500, [{ card: h3, ccp: { role: 'server', generation: 4, state: 'ready', endpoint: newCcp.endpoint, reach: true, clusterSize: 2 }, term: 5, unreachable: null }], ccp.report);
    expect(ccp.goals.at(-1)?.role).toBe(role);
    if (role === 'agent') expect(ccp.goals.at(-1)).toMatchObject({ assignment: newCcp });
  });
});

describe('election shell: the claim hold after a change of view', () => {
  const h1 = { host: 'h1', address: '10.0.0.1', port: 1883, priority: 0, cores: 4, memMB: 4096 };
  const h3 = { host: 'h3', address: '10.0.0.3', port: 1883, priority: 0, cores: 4, memMB: 4096 };
  /** h2 has just moved broker; the CCP on h1 fails its probe after a second of h1's silence: lost. */
  function afterCut(h1Dead: boolean) {
    const dir = mkdtempSync(join(tmpdir(), 'ivr-shell-'));
    dirs.push(dir);
    const file = electionFile(dir);
    file.write({ highestTerm: 4, highestGeneration: 3, config: null, lastCcp: CCP });
    const claims: Claim[] = [];
    const ccp = new CcpStub();
    const shell = new ElectionShell({
      cluster: 'c', self: () => ({ host: 'h2', address: '10.0.0.2', port: 1883, priority: 0, cores: 4, memMB: 4096 }), port: 6443,
      timings: TimingsSchema.parse({}), configured: CcpConfigSchema.parse({}), file, ccp, log: silentLogger(),
      publish: (kind, msg) => void (kind === 'claim' && claims.push(msg as Claim)), presenceChanged: () => undefined, onExcluded: () => undefined,
      silence: () => 1200, dead: (h) => h === 'h1' && h1Dead, known: () => [h1, h3], hostOf: (e) => (e === CCP.endpoint ? 'h1' : null),
    });
    shell.load(0, false);
    shell.brokerChanged(1000);
    shell.onReach(KEY, false, 1000);
    return { shell, claims, ccp };
  }

  it.each<[string, boolean, boolean]>([
    ['a better-ranked member (h1) is known and not dead: the new primary holds its claim for claimHoldMs (h1 may still be on its way)', false, false],
    ['every better-ranked member is dead by its heartbeats (a failover): it claims at once, on the view it has', true, true],
  ])('%s', (_n, h1Dead, claimsAtOnce) => {
    const { shell, claims, ccp } = afterCut(h1Dead);
    const peers = [{ card: h3, ccp: ccp.report, term: 4, unreachable: null }];
    shell.step(1050, peers, ccp.report);
    expect(claims.length > 0).toBe(claimsAtOnce);
    shell.step(1400, peers, ccp.report); // the view held still for claimHoldMs: a claim either way
    expect(claims.length > 0).toBe(true);
  });

  it('while the view fills after a failover, claims go at most every 100 ms, each with the members then in view', () => {
    const { shell, claims, ccp } = afterCut(true);
    const h4 = { ...h3, host: 'h4', address: '10.0.0.4' };
    const h5 = { ...h3, host: 'h5', address: '10.0.0.5' };
    const p = (c: typeof h3) => ({ card: c, ccp: ccp.report, term: 4, unreachable: null });
    shell.step(1050, [p(h3)], ccp.report);
    shell.step(1060, [p(h3), p(h4)], ccp.report);
    shell.step(1070, [p(h3), p(h4), p(h5)], ccp.report);
    shell.step(1160, [p(h3), p(h4), p(h5)], ccp.report);
    expect(claims.map((c) => c.members.join())).toEqual(['h2,h3', 'h2,h3,h4,h5']);
  });
});
