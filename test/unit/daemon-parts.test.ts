import { beforeAll, describe, expect, it } from 'vitest';
import { Stopper } from '../../agent/src/daemon/stopper.js';
import { Publisher, type PublishSink } from '../../agent/src/daemon/publisher.js';
import { decode, decodeSigned, type Claim } from '../../agent/src/contract/index.js';
import { Secret } from '../../agent/src/config/secret.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { KeyRing } from '../../agent/src/trust/keyring.js';
import { ClusterSealer } from '../../agent/src/trust/seal.js';
import { identityOf, makePki } from '../support/pki.js';
import { suiteTempDirs } from '../support/tmp.js';

const suiteDir = suiteTempDirs();
import { servedClusterSize } from '../../agent/src/election/core.js';
import { ccpReady, clusterId } from '../../agent/src/daemon/snapshot.js';

describe('stopper', () => {
  it('stops every part, the last started first, and reports every failure at once', async () => {
    const s = new Stopper();
    const order: string[] = [];
    s.add('broker', () => order.push('broker'));
    s.add('liveness', () => {
      order.push('liveness');
      throw new Error('socket already closed');
    });
    s.add('session', async () => {
      order.push('session');
      throw new Error('no DISCONNECT sent');
    });
    await expect(s.stopAll()).rejects.toThrow(/2 parts: session: no DISCONNECT sent; liveness: socket already closed/);
    expect(order).toEqual(['session', 'liveness', 'broker']);
    await expect(s.stopAll()).resolves.toBeUndefined(); // a second stop does nothing
  });
});

describe('publisher', () => {
  const sealer = new ClusterSealer(new Secret('publisher-test-secret-1'));
  let signer: KeyRing;
  let pub: Publisher;
  beforeAll(async () => {
    const tls = await makePki(suiteDir(), 'c', ['h1']);
    signer = new KeyRing(identityOf(tls.h1!, 'h1'), 'c');
    pub = new Publisher({ cluster: 'c', self: 'h1', signer, sealer, log: silentLogger() });
  });
  const sent: { topic: string; payload: Buffer; qos: number; retain: boolean }[] = [];
  const sink: PublishSink = { publish: async (topic, payload, qos, retain) => void sent.push({ topic, payload, qos, retain }) };

  it('takes topic, encoding, QoS and retain from the contract', async () => {
    const claim: Claim = { v: 1, cluster: 'c', term: 1, primary: 'h1', members: ['h1'], ccp: null, placement: '', configRevision: 1, ts: 1 };
    await pub.publish(sink, 'claim', claim);
    const dir = { v: 1 as const, cluster: 'c', host: 'h1', rendezvous: null, members: [], ts: 1 };
    await pub.publish(sink, 'directory', dir);
    expect(sent.map((s) => [s.topic, s.qos, s.retain])).toEqual([
      ['ivr/v1/c/claim/h1', 1, true],
      ['ivr/v1/c/directory/h1', 1, true],
    ]);
    expect(decodeSigned('claim', sent[0]!.payload, signer, sealer)).toEqual({ ok: true, msg: claim, signer: 'h1' });
    expect(decode('directory', sent[1]!.payload)).toEqual({ ok: true, msg: dir });
  });

  it('without a session, nothing is sent and nothing fails', async () => {
    await expect(pub.publish(null, 'directory', { v: 1, cluster: 'c', host: 'h1', rendezvous: null, members: [], ts: 1 })).resolves.toBeUndefined();
  });
});

describe('servedClusterSize (table)', () => {
  const claim = (ccpHost: string, members: string[]): Claim => ({ v: 1, cluster: 'c', term: 1, primary: 'h1', members, ccp: { host: ccpHost, generation: 1, endpoint: 'https://10.0.0.1:6443' }, placement: '', configRevision: 1, ts: 1 });
  it.each<[string, number | null, Parameters<typeof servedClusterSize>[1], number | null]>([
    ['a claim naming this host: its member count', null, { self: 'h1', claim: claim('h1', ['h1', 'h2', 'h3']), isolated: false, serving: true }, 3],
    ['no claim (a change of broker): the size is kept', 3, { self: 'h1', claim: null, isolated: false, serving: true }, 3],
    ['cut off: it serves itself only', 3, { self: 'h1', claim: null, isolated: true, serving: true }, 1],
    ['no server here: none', 3, { self: 'h1', claim: claim('h1', ['h1']), isolated: false, serving: false }, null],
    ['a claim naming another CCP host: kept', 2, { self: 'h1', claim: claim('h2', ['h1', 'h2']), isolated: false, serving: true }, 2],
  ])('%s', (_n, prev, o, want) => {
    expect(servedClusterSize(prev, o)).toBe(want);
  });
});


describe('clusterId (table)', () => {
  it.each([
    ['on its broker', { host: 'h1', connected: true }, ['h1', 'h4'], 'c@h1'],
    ['between brokers, others still in view', { host: 'h1', connected: false }, ['h1', 'h2', 'h4'], 'c@h1'],
    ['refused by every broker, alone', { host: 'h1', connected: false }, ['h4'], 'c@h4'],
    ['never connected', { host: null, connected: false }, ['h4'], null],
  ])('%s', (_t, rendezvous, view, id) => {
    expect(clusterId('c', 'h4', rendezvous, view)).toBe(id);
  });
});

describe('ccpReady (table)', () => {
  const a = { host: 'h2', generation: 4 };
  const server = (generation: number, state: 'starting' | 'ready' | null) => ({ role: 'server', generation, state });
  const agent = { role: 'agent', generation: 3, state: null };
  it.each<[string, typeof a | null, string, { report: ReturnType<typeof server> | typeof agent; ready: boolean }, ReturnType<typeof server> | typeof agent | null, boolean]>([
    ['no CCP assigned', null, 'h1', { report: agent, ready: true }, null, false],
    ['this host was just chosen: its probe still says it reached the old CCP', a, 'h2', { report: agent, ready: true }, null, false],
    ['this host serves the generation and its probe says ready', a, 'h2', { report: server(4, 'ready'), ready: true }, null, true],
    ['this host was just chosen and its server is starting (the follower probe\'s flag left over)', a, 'h2', { report: server(4, 'starting'), ready: true }, null, false],
    ['this host serves an older generation', a, 'h2', { report: server(3, 'ready'), ready: true }, null, false],
    ['the CCP host reports the generation ready', a, 'h1', { report: agent, ready: false }, server(4, 'ready'), true],
    ['the CCP host reports it starting', a, 'h1', { report: agent, ready: false }, server(4, 'starting'), false],
    ['the CCP host reports an older generation ready', a, 'h1', { report: agent, ready: false }, server(3, 'ready'), false],
    ['the CCP host is not a server', a, 'h1', { report: agent, ready: true }, agent, false],
  ])('%s', (_n, assignment, self, own, hostReport, want) => {
    expect(ccpReady(assignment, self, own, hostReport)).toBe(want);
  });
});
