import { describe, expect, it } from 'vitest';
import { Secret } from '../../agent/src/config/secret.js';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { decode, topicFor, type MemberCard, type Presence } from '../../agent/src/contract/index.js';
import { EventLog } from '../../agent/src/daemon/events.js';
import { Publisher } from '../../agent/src/daemon/publisher.js';
import { Rendezvous, type RendezvousPorts } from '../../agent/src/daemon/rendezvous.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { MembershipCore } from '../../agent/src/membership/core.js';
import { membershipFile } from '../../agent/src/membership/store.js';
import type { Session, SessionOptions } from '../../agent/src/transport/session.js';
import { ClusterSealer } from '../../agent/src/trust/seal.js';
import { Debouncer } from '../../agent/src/util/debounce.js';
import { suiteTempDirs } from '../support/tmp.js';

const tmp = suiteTempDirs();
const card = (host: string): MemberCard => ({ host, address: `10.0.0.${host.slice(1)}`, port: 1883, priority: 0, cores: 4, memMB: 4096 });
const FACTS = { model: 'x', arch: 'arm64', cores: 4, memMB: 4096, tempC: null, load1: 0 };
const presence = (host: string, state: 'online' | 'offline', movedTo: string | null = null): Presence => ({
  v: 1, cluster: 'c', ...card(host), state, incarnation: 1, seq: 1, rendezvous: null, movedTo, facts: FACTS, ccp: null, term: 0, unreachable: null, carrier: null, cert: 'AA==', ts: 0,
});

type SessionPart = Pick<Session, 'open' | 'activate' | 'publish' | 'close' | 'fail'>;

/** A session that opens at once and lets the test deliver messages on it. */
class FakeSession implements SessionPart {
  readonly published: { topic: string; payload: Buffer }[] = [];
  closed = false;
  constructor(readonly opts: Pick<SessionOptions, 'host' | 'onMessage' | 'onDown'>) {}
  open = async (): Promise<void> => undefined;
  activate = (): void => undefined;
  publish = async (topic: string, payload: Buffer): Promise<void> => void this.published.push({ topic, payload });
  close = async (): Promise<void> => void (this.closed = true);
  fail = (reason: string): void => this.opts.onDown(reason);
  deliver(p: Presence): void {
    this.opts.onMessage(topicFor('presence', 'c', p.host), Buffer.from(JSON.stringify(p)));
  }
}

function shell(reachableAtFirst = ['10.0.0.2']) {
  const sessions: FakeSession[] = [];
  const local: { topic: string; payload: Buffer; retain: boolean }[] = [];
  const heard: Presence[] = [];
  let now = 1_000;
  const clock = { now: () => now };
  // h3 knows h1 and h2 (better ranked than itself) from before; h1 is down at first.
  const reachable = new Set(reachableAtFirst);
  const core = new MembershipCore(card('h3'), { cluster: 'c', timings: TimingsSchema.parse({}), hasSeeds: false }, [{ ...card('h1'), lastSeen: 1 }, { ...card('h2'), lastSeen: 1 }]);
  const log = silentLogger();
  const signer = { name: 'h3', alg: 1 as const, cert: Buffer.alloc(0), sign: () => Buffer.alloc(32) };
  const ports: RendezvousPorts = {
    presence: (state, movedTo = null) => ({ ...presence('h3', state, movedTo) }),
    publishLocal: async (topic, payload, retain) => void local.push({ topic, payload, retain }),
    probeTcp: async (address) => reachable.has(address),
    openSession: (o) => {
      const s = new FakeSession(o);
      sessions.push(s);
      return s as unknown as Session;
    },
    heardFrom: () => true,
    onMessage: (topic, payload) => {
      const r = decode('presence', payload);
      if (r.ok) heard.push(r.msg);
    },
    onRendezvousChanged: () => undefined,
    onSessionUp: () => undefined,
    dropped: () => undefined,
  };
  const rv = new Rendezvous(
    {
      cfg: { cluster: 'c', host: { name: 'h3', address: '10.0.0.3', port: 1883, priority: 0 }, seeds: [], secret: new Secret('rendezvous-test-secret'), timings: TimingsSchema.parse({}) },
      core, store: membershipFile(tmp()), clock, log, events: new EventLog(clock, log),
      publisher: new Publisher({ cluster: 'c', self: 'h3', signer, sealer: new ClusterSealer(new Secret('rendezvous-test-secret')), log }),
      debounce: new Debouncer({ presence: 10, directory: 10, persist: 10 }),
      tls: () => { throw new Error('no TLS in this test'); },
    },
    ports,
  );
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  };
  return {
    rv, sessions, heard, local,
    /** Started: h1 is down, so h3 joins h2's broker. */
    start: async () => {
      rv.run(core.start(now));
      await settle();
    },
    /** h1 is back: the next probe finds it and h3 moves there. */
    h1Back: async () => {
      reachable.add('10.0.0.1');
      now += 60_000;
      rv.run(core.tick(now));
      await settle();
    },
  };
}

describe('rendezvous shell', () => {
  it('a move is make before break: the old broker is told where this host went, then left', async () => {
    const { rv, sessions, start, h1Back } = shell();
    await start();
    expect(rv.host).toBe('h2');
    await h1Back();
    expect(rv.host).toBe('h1');
    expect(sessions.map((s) => s.opts.host)).toEqual(['h2', 'h1']);
    const [old] = sessions;
    expect(old!.closed).toBe(true);
    const said = old!.published.map((p) => decode('presence', p.payload)).map((r) => r.ok && [r.msg.state, r.msg.movedTo]);
    expect(said).toEqual([
      ['online', null],
      ['offline', 'h1'],
    ]);
  });

  it("leaving its own broker, a host clears the claim it left retained there; leaving another's, it does not", async () => {
    const claims = (l: { topic: string; payload: Buffer; retain: boolean }[]) => l.filter((p) => p.topic === topicFor('claim', 'c', 'h3')).map((p) => [p.payload.length, p.retain]);
    const own = shell([]); // only its own broker answers at first
    await own.start();
    expect(own.rv.host).toBe('h3');
    await own.h1Back();
    expect(own.rv.host).toBe('h1');
    expect(claims(own.local)).toEqual([[0, true]]);
    // A reconnect to its own broker is not leaving it: the claim stays.
    const again = shell([]);
    await again.start();
    again.sessions[0]!.fail('keepalive lapsed');
    await new Promise((r) => setTimeout(r, 20));
    expect(again.sessions.map((s) => s.opts.host)).toEqual(['h3', 'h3']);
    expect(claims(again.local)).toEqual([]);
    const other = shell();
    await other.start();
    expect(other.rv.host).toBe('h2');
    await other.h1Back();
    expect(other.rv.host).toBe('h1');
    expect(claims(other.local)).toEqual([]);
  });

  it('what the old session delivers after a move is not read as news from the new broker', async () => {
    // The lab, after a restarted primary: h3 and h5 both leave h2 for h1. h5's "offline, moved
    // to h1" came in on h3's old session after h3 had moved, and h3 left h5 out of its view.
    const { rv, sessions, heard, start, h1Back } = shell();
    await start();
    const [onH2] = sessions;
    onH2!.deliver(presence('h5', 'online'));
    await h1Back();
    expect(rv.host).toBe('h1');
    onH2!.deliver(presence('h5', 'offline', 'h1'));
    sessions[1]!.deliver(presence('h5', 'online'));
    expect(heard.map((p) => [p.host, p.state])).toEqual([
      ['h5', 'online'],
      ['h5', 'online'],
    ]);
  });
});
