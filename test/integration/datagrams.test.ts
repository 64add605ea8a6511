import { afterEach, describe, expect, it } from 'vitest';
import { NativeDatagramPort, NodeDatagramPort, type Datagram, type DatagramPort } from '../../agent/src/liveness/datagrams.js';
import { systemClock } from '../../agent/src/util/clock.js';
import { describeIf, nativeAddon } from '../support/native.js';

/**
 * One contract for both heartbeat sockets (liveness/datagrams.ts), on real UDP sockets on
 * loopback: what the shell relies on, whichever backend the host got.
 */
const { why } = await nativeAddon();
const backends: [string, string | null, () => DatagramPort][] = [
  ['native (recvmmsg/sendmmsg)', why, () => new NativeDatagramPort(systemClock)],
  ['node:dgram', null, () => new NodeDatagramPort(systemClock)],
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let nextPort = 47_310;

for (const [name, reason, make] of backends) {
  describeIf(reason, `heartbeat socket contract: ${name}`, () => {
    const open: DatagramPort[] = [];
    const port = async (p = nextPort++) => {
      const s = make();
      open.push(s);
      await s.bind('127.0.0.1', p);
      return { s, p };
    };
    afterEach(() => {
      for (const s of open.splice(0)) s.close();
    });

    it('a batch sent in one call arrives whole, in order, with its sender, and drain takes it once', async () => {
      const a = await port();
      const b = await port();
      expect(b.s.drain()).toEqual([]);
      const data = [Buffer.from('one'), Buffer.from('two'), Buffer.from('three')];
      expect(a.s.send(data.map(() => ({ address: '127.0.0.1', port: b.p })), data)).toBe(3);
      await sleep(50);
      const got = b.s.drain();
      expect(got.map((d) => d.data.toString())).toEqual(['one', 'two', 'three']);
      expect(got.every((d) => d.address === '127.0.0.1' && d.port === a.p && !d.truncated)).toBe(true);
      expect(b.s.drain()).toEqual([]);
    });

    it('each datagram carries its arrival time, not the time of the drain', async () => {
      const a = await port();
      const b = await port();
      const sentAt = Date.now();
      a.s.send([{ address: '127.0.0.1', port: b.p }], [Buffer.from('hb')]);
      await sleep(250);
      const drainedAt = Date.now();
      const [d] = b.s.drain() as [Datagram];
      expect(d.at).toBeGreaterThanOrEqual(sentAt - 5);
      expect(d.at).toBeLessThan(drainedAt - 150);
    });

    it('a second socket on the same address and port is refused with the system error', async () => {
      const a = await port();
      await expect(port(a.p)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    });

    it('a datagram longer than the heartbeat limit is never handed over cut short without a flag', async () => {
      const a = await port();
      const b = await port();
      a.s.send([{ address: '127.0.0.1', port: b.p }], [Buffer.alloc(2000, 7)]);
      await sleep(50);
      const [d] = b.s.drain() as [Datagram];
      expect(d.truncated || d.data.length === 2000).toBe(true);
    });

    it('a burst larger than one receive batch is all taken in one drain', async () => {
      const a = await port();
      const b = await port();
      const data = Array.from({ length: 300 }, (_, i) => Buffer.from(String(i)));
      a.s.send(data.map(() => ({ address: '127.0.0.1', port: b.p })), data);
      await sleep(100);
      const got = b.s.drain().map((d) => Number(d.data.toString()));
      expect(got.length).toBeGreaterThan(250); // loopback drops none in practice; the kernel may
      expect(got).toEqual([...got].sort((x, y) => x - y));
    });

    it('after close nothing is sent or drained, and the port is free again', async () => {
      const a = await port();
      a.s.close();
      expect(a.s.send([{ address: '127.0.0.1', port: a.p }], [Buffer.from('x')])).toBe(0);
      expect(a.s.drain()).toEqual([]);
      const again = await port(a.p);
      expect(again.p).toBe(a.p);
    });
  });
}
