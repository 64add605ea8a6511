import { describe, expect, it } from 'vitest';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { agentElsewhere, probeDeadline, probeDue, reachVerdict, recordAgentProbe, recordProbe, recordProbeStart, type ReachRecord } from '../../agent/src/election/reach.js';
import { noteFailedHosts, selectClaim } from '../../agent/src/election/claims.js';
import { chooseRendezvous, type ReachState } from '../../agent/src/membership/choose.js';
import type { Claim, MemberCard } from '../../agent/src/contract/index.js';

const t = TimingsSchema.parse({});
const KEY = '3@https://10.0.0.1:6443';
const record = (probes: [number, boolean][]): ReachRecord | null => probes.reduce<ReachRecord | null>((r, [at, ok]) => recordProbe(r, KEY, ok, at), null);

describe('reachVerdict: when the CCP counts as lost (table)', () => {
  it.each<[string, [number, boolean][], number | null, number, boolean | null]>([
    ['no probe yet: unknown', [], 100, 1000, null],
    ['one failed probe while the CCP host is heard: not yet', [[1000, false]], 100, 1000, null],
    ['one failed probe after a second without its heartbeats: lost (a pulled cable)', [[1000, false]], 1200, 1000, false],
    ['…but not without heartbeats to judge by (UDP filtered): the probes must add up', [[1000, false]], null, 1000, null],
    ['two failed probes a second apart: lost, heartbeats or not', [[1000, false], [2000, false]], null, 2000, false],
    ['two failed probes 0.5 s apart: not yet (ccpLossMs)', [[1000, false], [1500, false]], null, 1500, null],
    ['its agent is silent but the CCP answers (the agent died): kept', [[1000, true]], 5000, 1000, true],
    ['a success from before the silence began: unknown', [[1000, true]], 1200, 3000, null],
    ['a success older than reachFreshMs: unknown', [[1000, true]], 100, 1000 + t.reachFreshMs + 1, null],
    ['a success then a failure: the failure counts from one', [[1000, true], [2000, false]], null, 2000, null],
  ])('%s', (_n, probes, silent, now, want) => {
    expect(reachVerdict(record(probes), KEY, silent, now, t)).toBe(want);
  });

  it.each<[string, number | null, number | null, boolean | null]>([
    ['a success after the last heartbeat, then a probe unanswered for ccpDeadProbeTimeoutMs while the heartbeats are missing: unknown', 1300, 2200, null],
    ['…unanswered for less: still vouched for', 1300, 2300, true],
    ['…while the host is heard: a slow answer is no verdict', 100, 2200, true],
    ['no probe pending: vouched for', 1300, null, true],
  ])('%s', (_n, silent, pendingSince, want) => {
    // A success at 2000; at 2500 the host has been silent since 2500 - silent (1200: before the success).
    const ok = record([[2000, true]]);
    const rec = pendingSince === null ? ok : recordProbeStart(ok, KEY, pendingSince);
    expect(reachVerdict(rec, KEY, silent, 2500, t)).toBe(want);
  });

  it('a record of another assignment says nothing', () => {
    expect(reachVerdict(record([[1000, true]]), '4@https://10.0.0.2:6443', null, 1000, t)).toBeNull();
  });
});

describe('agentElsewhere: the CCP host lives in another cluster (table)', () => {
  it.each<[string, boolean, boolean, number, boolean | null]>([
    ['it does not answer', false, false, 1000, false],
    ['it answers and is in the view', true, true, 1000, true],
    ['it answers from outside the view, just now', true, false, 1000, null],
    ['it answers from outside the view for ccpElsewhereMs', true, false, 1000 + t.ccpElsewhereMs, true],
  ])('%s', (_n, ok, inView, now, want) => {
    let rec = recordAgentProbe(null, 'h1', ok, 1000);
    rec = recordAgentProbe(rec, 'h1', ok, now);
    expect(agentElsewhere(rec, 'h1', inView, now, t).alive).toBe(want);
  });

  it('is a query: the record it returns carries the time, the one passed in is unchanged', () => {
    const rec = recordAgentProbe(null, 'h1', true, 1000);
    const out = agentElsewhere(rec, 'h1', false, 1000, t);
    expect(rec.elsewhereSince).toBe(1000);
    expect(out.rec).not.toBe(rec);
    expect(agentElsewhere(out.rec, 'h1', true, 1500, t).rec!.elsewhereSince).toBeNull();
  });
});

describe('probeDue (table)', () => {
  it.each<[string, { inFlight: boolean; calm: boolean; lastCalmProbe: number }, number, boolean]>([
    ['one probe at a time', { inFlight: true, calm: false, lastCalmProbe: 0 }, 10_000, false],
    ['not calm: every tick', { inFlight: false, calm: false, lastCalmProbe: 9_999 }, 10_000, true],
    ['calm and probed 1 s ago: not yet', { inFlight: false, calm: true, lastCalmProbe: 9_000 }, 10_000, false],
    ['calm and probed ccpProbeMs ago: due', { inFlight: false, calm: true, lastCalmProbe: 10_000 - t.ccpProbeMs }, 10_000, true],
  ])('%s', (_n, s, now, want) => {
    expect(probeDue(now, s, t)).toBe(want);
  });
});

describe('probeDeadline (table)', () => {
  const dt = TimingsSchema.parse({});
  it.each<[string, boolean, { timeoutMs: number; dead: boolean }]>([
    ['heard lately (or a pause, or never heard): the long deadline (a lossy link may need a SYN again)', false, { timeoutMs: 1500, dead: false }],
    ['dead by its heartbeats: the short one', true, { timeoutMs: 300, dead: true }],
  ])('%s', (_n, dead, want) => {
    expect(probeDeadline(dead, dt)).toEqual(want);
  });
  it('never longer than ccpProbeTimeoutMs', () => {
    expect(probeDeadline(true, { ...dt, ccpProbeTimeoutMs: 200 }).timeoutMs).toBe(200);
  });
  it.each<[string, number, number]>([
    ['heartbeats paused, 600 ms to the verdict: the probe ends with it', 600, 600],
    ['…10 ms to it: not sooner than the short deadline', 10, 300],
    ['…a mesh peer, 4 s to it: not longer than the long deadline', 4000, 1500],
  ])('%s', (_n, untilDeadMs, want) => {
    expect(probeDeadline(false, dt, untilDeadMs)).toEqual({ timeoutMs: want, dead: false });
  });
});

const card = (host: string, priority = 0): MemberCard => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, priority, cores: 4, memMB: 4096 });
const claim = (primary: string, term: number): Claim => ({ v: 1, cluster: 'c', term, primary, members: [], ccp: null, placement: '', configRevision: 1, ts: 0 });

describe('selectClaim (table)', () => {
  it.each<[string, Claim[], string[], number, string | null]>([
    ['none', [], ['h1'], 0, null],
    ['the highest term wins', [claim('h1', 3), claim('h2', 5)], ['h1', 'h2'], 0, 'h2@5'],
    ['a claim of a primary out of the view does not count', [claim('h9', 9), claim('h1', 3)], ['h1', 'h2'], 0, 'h1@3'],
    ['older than the highest term seen: ignored', [claim('h1', 3)], ['h1'], 4, null],
    ['equal terms: the better-ranked primary', [claim('h2', 5), claim('h1', 5)], ['h1', 'h2'], 0, 'h1@5'],
  ])('%s', (_n, claims, view, highest, want) => {
    const c = selectClaim(claims, view.map((h) => card(h)), highest);
    expect(c ? `${c.primary}@${c.term}` : null).toBe(want);
  });
});

describe('noteFailedHosts', () => {
  it('marks a failed host until its retry time, once', () => {
    const a = noteFailedHosts(new Map(), [{ host: 'h1', failed: true }, { host: 'h2', failed: false }], 1000, 30_000);
    expect([...a.failed]).toEqual([['h1', 31_000]]);
    expect(a.marked).toEqual(['h1']);
    const b = noteFailedHosts(a.failed, [{ host: 'h1', failed: true }], 2000, 30_000);
    expect(b.marked).toEqual([]);
    expect(noteFailedHosts(b.failed, [{ host: 'h1', failed: true }], 31_000, 30_000).marked).toEqual(['h1']);
  });
});

describe('chooseRendezvous (table)', () => {
  const ranked = ['h1', 'h2', 'h3', 'h4'].map((h) => card(h));
  it.each<[string, { self: string; current: string | null; barred?: string[]; reach: Record<string, ReachState> }, string | null, string[]]>([
    ['the best reachable member', { self: 'h4', current: null, reach: { h1: 'ok' } }, 'h1', []],
    ['a better one not probed yet holds the choice back', { self: 'h4', current: null, reach: { h1: 'unknown', h2: 'ok' } }, null, ['h1']],
    ['…but not while connected: probe it, keep the current one', { self: 'h4', current: 'h3', reach: { h1: 'unknown', h2: 'failed' } }, 'h3', ['h1']],
    ['nobody above answers: this host itself', { self: 'h3', current: null, reach: { h1: 'failed', h2: 'failed' } }, 'h3', []],
    ['a barred broker is skipped', { self: 'h4', current: null, barred: ['h1'], reach: { h1: 'ok', h2: 'ok' } }, 'h2', []],
  ])('%s', (_n, o, target, probe) => {
    const c = chooseRendezvous(ranked, { self: o.self, current: o.current, barred: new Set(o.barred ?? []), reach: (h) => o.reach[h] ?? 'unknown' });
    expect(c.target?.host ?? null).toBe(target);
    expect(c.probe.map((p) => p.host)).toEqual(probe);
  });
});
