import { describe, expect, it } from 'vitest';
import { CONTRACT, decode, encode, MAX_PAYLOAD_BYTES, mayPublish, maySubscribe, parseTopic, topicFor, type Presence } from '../../agent/src/contract/index.js';

const presence: Presence = {
  v: 1, cluster: 'home', host: 'pi1', address: '10.0.0.11', port: 1883, priority: 0, cores: 4, memMB: 3900,
  state: 'online', incarnation: 1, seq: 1, rendezvous: 'pi1', movedTo: null,
  facts: { model: 'Raspberry Pi 4 Model B', arch: 'arm64', cores: 4, memMB: 3900, tempC: 48.2, load1: 0.1 }, ccp: null, term: 0, unreachable: null, carrier: null, cert: 'AA==', ts: 1,
};

describe('message codec', () => {
  it('round-trips a presence', () => {
    const d = decode('presence', encode('presence', presence));
    expect(d).toEqual({ ok: true, msg: presence });
  });

  it.each([
    ['oversized', Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20)],
    ['malformed', Buffer.from('{"v":1,')],
    ['malformed', Buffer.from('[1,2]')],
    ['version', Buffer.from(JSON.stringify({ ...presence, v: 2 }))],
    ['version', Buffer.from(JSON.stringify({ ...presence, v: undefined }))],
    ['malformed', Buffer.from(JSON.stringify({ ...presence, port: 70000 }))],
    ['malformed', Buffer.from(JSON.stringify({ ...presence, host: '../etc' }))],
  ])('drops a payload that is %s', (reason, payload) => {
    const d = decode('presence', payload);
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toBe(reason);
  });

  it('never throws on random bytes', () => {
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(Math.random() * 300);
      const buf = Buffer.from(Array.from({ length: len }, () => Math.floor(Math.random() * 256)));
      expect(decode('presence', buf).ok).toBe(false);
    }
  });
});

describe('topics and access control', () => {
  it('every topic is in the contract with its QoS and retain flag', () => {
    for (const spec of Object.values(CONTRACT)) {
      expect([0, 1]).toContain(spec.qos);
      expect(typeof spec.retain).toBe('boolean');
      expect(spec.description.length).toBeGreaterThan(20);
    }
    expect(parseTopic('home', topicFor('presence', 'home', 'pi1'))).toEqual({ kind: 'presence', host: 'pi1' });
    expect(parseTopic('home', 'ivr/v1/other/presence/pi1')).toBeNull();
    expect(parseTopic('home', 'ivr/v1/home/nope/pi1')).toBeNull();
  });

  it.each([
    ['pi1', 'ivr/v1/home/presence/pi1', true],
    ['pi1', 'ivr/v1/home/presence/pi2', false],
    ['pi1', 'ivr/v1/home/directory/pi1', true],
    ['pi1', 'ivr/v1/other/presence/pi1', false],
    ['pi1', 'something/else', false],
    ['pi1', 'ivr/v1/home/presence/pi1/extra', false],
  ])('%s may publish on %s: %s', (user, topic, allowed) => {
    expect(mayPublish('home', user, topic)).toBe(allowed);
  });

  it('subscriptions are limited to the cluster subtree', () => {
    expect(maySubscribe('home', 'ivr/v1/home/presence/+')).toBe(true);
    expect(maySubscribe('home', '#')).toBe(false);
    expect(maySubscribe('home', 'ivr/v1/other/#')).toBe(false);
  });
});
