import { IFF_LOWER_UP, IFF_UP, OPERSTATES, type LinkEvent } from './types.js';

/**
 * The TypeScript twin of native/src/nlparse.c, for the ffi backend: walks a buffer of netlink
 * messages and returns the link messages of family AF_UNSPEC. Every read is bounds-checked;
 * a truncated message or attribute ends the walk, unknown attributes are skipped. The two
 * parsers are held to the same fixtures and fuzzed (test/unit/link-parse.test.ts).
 */
const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, OPERSTATE: 16, CARRIER: 33, CARRIER_CHANGES: 35 } as const;

const align4 = (n: number) => (n + 3) & ~3;

export interface ParseResult {
  links: LinkEvent[];
  done: boolean;
  error: number;
  truncated: boolean;
}

export function parseNetlink(buf: Buffer, ts = 0, dump = false): ParseResult {
  const out: ParseResult = { links: [], done: false, error: 0, truncated: false };
  let off = 0;
  while (buf.length - off >= NLMSG_HDRLEN) {
    const mlen = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    if (mlen < NLMSG_HDRLEN || mlen > buf.length - off) {
      out.truncated = true;
      break;
    }
    if (type === NLMSG_DONE) out.done = true;
    else if (type === NLMSG_ERROR) {
      if (mlen >= NLMSG_HDRLEN + 4) {
        const err = buf.readInt32LE(off + NLMSG_HDRLEN);
        if (err !== 0) out.error = -err;
      }
    } else if ((type === RTM_NEWLINK || type === RTM_DELLINK) && mlen >= NLMSG_HDRLEN + IFINFOMSG_LEN) {
      const ifi = off + NLMSG_HDRLEN;
      const family = buf.readUInt8(ifi);
      const ev: LinkEvent = {
        ts,
        kind: type === RTM_DELLINK ? 'del' : dump ? 'dump' : 'new',
        ifindex: buf.readInt32LE(ifi + 4),
        ifname: null,
        flags: buf.readUInt32LE(ifi + 8),
        up: false,
        carrier: false,
        operstate: 'unknown',
        changes: null,
        mtu: null,
        mac: null,
      };
      let carrierAttr: boolean | null = null;
      const end = off + mlen;
      let a = ifi + IFINFOMSG_LEN;
      while (end - a >= 4) {
        const rlen = buf.readUInt16LE(a);
        const rtype = buf.readUInt16LE(a + 2) & 0x3fff;
        if (rlen < 4 || rlen > end - a) break;
        const d = a + 4;
        const dlen = rlen - 4;
        switch (rtype) {
          case IFLA.IFNAME: {
            let n = 0;
            while (n < dlen && n < 15 && buf[d + n] !== 0) n++;
            ev.ifname = buf.toString('latin1', d, d + n);
            break;
          }
          case IFLA.MTU:
            if (dlen >= 4) ev.mtu = buf.readUInt32LE(d);
            break;
          case IFLA.OPERSTATE:
            if (dlen >= 1) ev.operstate = OPERSTATES[buf[d]!] ?? 'unknown';
            break;
          case IFLA.CARRIER:
            if (dlen >= 1) carrierAttr = buf[d] !== 0;
            break;
          case IFLA.CARRIER_CHANGES:
            if (dlen >= 4) ev.changes = buf.readUInt32LE(d);
            break;
          case IFLA.ADDRESS: {
            const n = Math.min(dlen, 32);
            if (n > 0) ev.mac = [...buf.subarray(d, d + n)].map((b) => b.toString(16).padStart(2, '0')).join(':');
            break;
          }
        }
        const step = align4(rlen);
        if (step > end - a) break;
        a += step;
      }
      ev.up = (ev.flags & IFF_UP) !== 0;
      ev.carrier = carrierAttr ?? (ev.flags & IFF_LOWER_UP) !== 0;
      if (family === 0) out.links.push(ev);
    }
    const step = align4(mlen);
    if (step > buf.length - off) break;
    off += step;
  }
  return out;
}

/** A link-dump request (RTM_GETLINK, NLM_F_REQUEST|NLM_F_DUMP, family AF_UNSPEC). */
export function dumpRequest(seq: number): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + IFINFOMSG_LEN);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(18, 4); // RTM_GETLINK
  b.writeUInt16LE(0x1 | 0x300, 6); // NLM_F_REQUEST | NLM_F_DUMP
  b.writeUInt32LE(seq, 8);
  return b;
}
