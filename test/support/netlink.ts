/** Builds rtnetlink link messages as the kernel lays them out, for parser fixtures. */
export interface LinkFixture {
  type?: number;
  family?: number;
  ifindex: number;
  flags: number;
  attrs?: { type: number; data: Buffer }[];
}

const align4 = (n: number) => (n + 3) & ~3;

export const attr = {
  ifname: (s: string) => ({ type: 3, data: Buffer.from(`${s}\0`) }),
  mtu: (n: number) => ({ type: 4, data: u32(n) }),
  operstate: (n: number) => ({ type: 16, data: Buffer.from([n]) }),
  carrier: (b: boolean) => ({ type: 33, data: Buffer.from([b ? 1 : 0]) }),
  changes: (n: number) => ({ type: 35, data: u32(n) }),
  mac: (s: string) => ({ type: 1, data: Buffer.from(s.split(':').map((x) => parseInt(x, 16))) }),
  unknown: (type: number, len: number) => ({ type, data: Buffer.alloc(len, 0xab) }),
};

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function linkMessage(f: LinkFixture): Buffer {
  const attrs = (f.attrs ?? []).map((a) => {
    const b = Buffer.alloc(align4(4 + a.data.length));
    b.writeUInt16LE(4 + a.data.length, 0);
    b.writeUInt16LE(a.type, 2);
    a.data.copy(b, 4);
    return b;
  });
  const body = Buffer.concat(attrs);
  const m = Buffer.alloc(32 + body.length);
  m.writeUInt32LE(m.length, 0);
  m.writeUInt16LE(f.type ?? 16, 4);
  m.writeUInt8(f.family ?? 0, 16);
  m.writeInt32LE(f.ifindex, 20);
  m.writeUInt32LE(f.flags, 24);
  body.copy(m, 32);
  return m;
}

export function doneMessage(): Buffer {
  const m = Buffer.alloc(20);
  m.writeUInt32LE(20, 0);
  m.writeUInt16LE(3, 4);
  return m;
}

export function errorMessage(errno: number): Buffer {
  const m = Buffer.alloc(36);
  m.writeUInt32LE(36, 0);
  m.writeUInt16LE(2, 4);
  m.writeInt32LE(-errno, 16);
  return m;
}
