import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { NAME_RE } from '../config/names.js';

/**
 * The heartbeat datagram (UDP, on the broker's port number; docs/mqtt-contract.md, "Liveness"):
 *
 *   0  4  magic "IVH1"
 *   4  1  length L of the host name (1..63)
 *   5  L  host name (ASCII, a DNS label)
 *   .  8  incarnation (u64, big-endian: the sender agent's start time in ms)
 *   .  4  sequence number (u32, big-endian, +1 per heartbeat of one incarnation)
 *   . 16  HMAC-SHA256 over the cluster name and every byte above, truncated to 16 bytes
 *
 * The key is the pair's own: derived from the two hosts' certificate keys (ECDH, HKDF;
 * trust/keyring.ts), so only the sender (or the receiver) could have made the MAC. A datagram
 * larger than MAX_HEARTBEAT_BYTES, of another magic, with a malformed name, from a host whose
 * certificate is not known, or with a wrong MAC is dropped.
 */
export const HEARTBEAT_MAGIC = Buffer.from('IVH1', 'ascii');
export const MAX_HEARTBEAT_BYTES = 4 + 1 + 63 + 8 + 4 + 16;
const MAC_BYTES = 16;

export interface Heartbeat {
  host: string;
  incarnation: number;
  seq: number;
}

export type HeartbeatDrop = 'size' | 'magic' | 'malformed' | 'unknown-peer' | 'signature';

function mac(key: Buffer | KeyObject, cluster: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(cluster).update('\0').update(body).digest().subarray(0, MAC_BYTES);
}

/** The heartbeat without its MAC: the same for every peer of one tick. */
export function heartbeatBody(hb: Heartbeat): Buffer {
  const name = Buffer.from(hb.host, 'ascii');
  const body = Buffer.alloc(4 + 1 + name.length + 8 + 4);
  HEARTBEAT_MAGIC.copy(body, 0);
  body.writeUInt8(name.length, 4);
  name.copy(body, 5);
  body.writeBigUInt64BE(BigInt(hb.incarnation), 5 + name.length);
  body.writeUInt32BE(hb.seq >>> 0, 13 + name.length);
  return body;
}

/** The datagram for one peer: the body and its MAC with the pair's key. */
export function sealHeartbeat(key: Buffer | KeyObject, cluster: string, body: Buffer): Buffer {
  return Buffer.concat([body, mac(key, cluster, body)]);
}

export function encodeHeartbeat(key: Buffer | KeyObject, cluster: string, hb: Heartbeat): Buffer {
  return sealHeartbeat(key, cluster, heartbeatBody(hb));
}

/** Checks a datagram: size, magic, name, then the MAC with the key of the pair (this host and
 * the sender it names). Never throws. */
export function decodeHeartbeat(keyFor: (host: string) => Buffer | KeyObject | null, cluster: string, buf: Buffer): { ok: true; hb: Heartbeat } | { ok: false; reason: HeartbeatDrop; host?: string } {
  if (buf.length > MAX_HEARTBEAT_BYTES || buf.length < 4 + 1 + 1 + 8 + 4 + MAC_BYTES) return { ok: false, reason: 'size' };
  if (!buf.subarray(0, 4).equals(HEARTBEAT_MAGIC)) return { ok: false, reason: 'magic' };
  const len = buf.readUInt8(4);
  if (buf.length !== 4 + 1 + len + 8 + 4 + MAC_BYTES) return { ok: false, reason: 'malformed' };
  const host = buf.subarray(5, 5 + len).toString('ascii');
  if (!NAME_RE.test(host)) return { ok: false, reason: 'malformed' };
  const key = keyFor(host);
  if (!key) return { ok: false, reason: 'unknown-peer', host };
  const body = buf.subarray(0, buf.length - MAC_BYTES);
  const got = buf.subarray(buf.length - MAC_BYTES);
  if (!timingSafeEqual(got, mac(key, cluster, body))) return { ok: false, reason: 'signature', host };
  const incarnation = Number(buf.readBigUInt64BE(5 + len));
  if (!Number.isSafeInteger(incarnation)) return { ok: false, reason: 'malformed' };
  return { ok: true, hb: { host, incarnation, seq: buf.readUInt32BE(13 + len) } };
}
