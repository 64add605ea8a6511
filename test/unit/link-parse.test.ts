import { beforeAll, describe, expect, it } from 'vitest';
import { parseNetlink } from '../../agent/src/link/parse.js';
import { attr, doneMessage, errorMessage, linkMessage } from '../support/netlink.js';
import { describeIf, nativeAddon } from '../support/native.js';

const IFF = { UP: 0x1, RUNNING: 0x40, LOWER_UP: 0x10000 };

const fixtures: [string, Buffer][] = [
  ['a link with every attribute', linkMessage({ ifindex: 2, flags: IFF.UP | IFF.RUNNING | IFF.LOWER_UP, attrs: [attr.ifname('eth0'), attr.mtu(1500), attr.operstate(6), attr.carrier(true), attr.changes(3), attr.mac('02:00:5e:00:00:01')] })],
  ['a pulled cable (up, no carrier, operstate down)', linkMessage({ ifindex: 2, flags: IFF.UP, attrs: [attr.ifname('eth0'), attr.operstate(2), attr.carrier(false), attr.changes(4)] })],
  ['an interface set down', linkMessage({ ifindex: 2, flags: 0, attrs: [attr.ifname('eth0'), attr.operstate(2), attr.carrier(false)] })],
  ['carrier from IFF_LOWER_UP when IFLA_CARRIER is absent', linkMessage({ ifindex: 7, flags: IFF.UP | IFF.LOWER_UP, attrs: [attr.ifname('wlan0')] })],
  ['unknown attributes are skipped', linkMessage({ ifindex: 3, flags: IFF.UP, attrs: [attr.unknown(999, 7), attr.ifname('eth1'), attr.unknown(0x8000 | 500, 12), attr.mtu(9000)] })],
  ['an over-long name is cut at 15 bytes', linkMessage({ ifindex: 4, flags: 0, attrs: [{ type: 3, data: Buffer.from('abcdefghijklmnopqrstuvwxyz') }] })],
  ['a deleted link', linkMessage({ type: 17, ifindex: 9, flags: 0, attrs: [attr.ifname('veth9')] })],
  ['a bridge copy is ignored', linkMessage({ family: 7, ifindex: 5, flags: IFF.UP, attrs: [attr.ifname('p-h1')] })],
  ['a dump: two links then DONE', Buffer.concat([linkMessage({ ifindex: 1, flags: IFF.UP | IFF.LOWER_UP, attrs: [attr.ifname('lo')] }), linkMessage({ ifindex: 2, flags: IFF.UP, attrs: [attr.ifname('eth0'), attr.carrier(false)] }), doneMessage()])],
  ['an NLMSG_ERROR', errorMessage(16)],
];

describe('netlink parser (TypeScript, ffi backend)', () => {
  it('reads a pulled cable as up without carrier, and a downed interface as not up', () => {
    const pulled = parseNetlink(fixtures[1]![1]).links[0]!;
    expect(pulled).toMatchObject({ ifname: 'eth0', up: true, carrier: false, operstate: 'down', changes: 4 });
    const down = parseNetlink(fixtures[2]![1]).links[0]!;
    expect(down).toMatchObject({ up: false, carrier: false });
    const full = parseNetlink(fixtures[0]![1]).links[0]!;
    expect(full).toMatchObject({ ifindex: 2, ifname: 'eth0', mtu: 1500, operstate: 'up', carrier: true, changes: 3, mac: '02:00:5e:00:00:01' });
    expect(parseNetlink(fixtures[8]![1])).toMatchObject({ done: true, links: [{ ifname: 'lo' }, { ifname: 'eth0', carrier: false }] });
    expect(parseNetlink(fixtures[7]![1]).links).toEqual([]);
    expect(parseNetlink(fixtures[9]![1]).error).toBe(16);
  });

  it('survives every truncation and random mutation without throwing', () => {
    const base = fixtures[8]![1];
    for (let cut = 0; cut <= base.length; cut++) expect(() => parseNetlink(base.subarray(0, cut))).not.toThrow();
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const r = parseNetlink(b.subarray(0, Math.floor(rnd() * (b.length + 1))));
      for (const l of r.links) expect(l.ifname === null || l.ifname.length <= 15).toBe(true);
    }
  });
});

const native = await nativeAddon();
describeIf(native.why, 'netlink parser (C, native addon) matches the TypeScript one', () => {
  let parse: (b: Buffer) => unknown;
  beforeAll(() => {
    if (!native.addon) throw new Error(native.why ?? 'no addon');
    parse = native.addon.parse;
  });

  it.each(fixtures)('%s', (_name, buf) => {
    expect(parse(buf)).toEqual(parseNetlink(buf));
  });

  it('agrees on every truncation and on random mutations', () => {
    const base = fixtures[8]![1];
    for (let cut = 0; cut <= base.length; cut++) expect(parse(base.subarray(0, cut))).toEqual(parseNetlink(base.subarray(0, cut)));
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = b.subarray(0, Math.floor(rnd() * (b.length + 1)));
      expect(parse(cut)).toEqual(parseNetlink(cut));
    }
  });
});
