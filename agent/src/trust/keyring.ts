import { createHash, createSecretKey, diffieHellman, hkdfSync, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { ALG, type EnvelopeParts, type Signer, type Verifier } from '../contract/envelope.js';
import { certHash, subjectOf, type Identity, type Role } from './identity.js';

export type PeerCheck = { ok: true; name: string; role: string; publicKey: KeyObject; der: Buffer } | { ok: false; why: string };

/**
 * What this host knows of keys: its own (from its Identity) and its peers', each peer's taken
 * from a certificate it presented (in a signed envelope, or its presence) and checked against
 * the cluster CA. Signs envelopes as this host (ECDSA P-256), verifies them as their signer, and
 * derives a key per pair of hosts for heartbeats (ECDH + HKDF): a host can speak only as itself.
 */
export class KeyRing implements Signer, Verifier {
  readonly alg = ALG.ecdsaP256;
  readonly name: string;
  readonly cert: Buffer;
  private readonly checked = new Map<string, PeerCheck>();
  private readonly pairs = new Map<string, KeyObject>();
  /** The certificate last seen for each host (presence). */
  private readonly peers = new Map<string, Buffer>();

  constructor(private readonly id: Identity, private readonly cluster: string, private readonly maxCache = 1024) {
    this.name = id.name;
    this.cert = id.certDer;
  }

  /** A certificate from the network: issued by the cluster CA, not expired, with a host name. Cached. */
  check(der: Buffer): PeerCheck {
    const h = certHash(der);
    const hit = this.checked.get(h);
    if (hit) return hit;
    let out: PeerCheck;
    try {
      const cert = new X509Certificate(der);
      const s = subjectOf(cert);
      if (!cert.checkIssued(this.id.ca) || !cert.verify(this.id.ca.publicKey)) out = { ok: false, why: 'not issued by the cluster CA' };
      else if (new Date(cert.validTo).getTime() < Date.now()) out = { ok: false, why: `expired on ${cert.validTo}` };
      else if (!s.name || !s.role) out = { ok: false, why: 'no host name or role in the subject' };
      else out = { ok: true, name: s.name, role: s.role, publicKey: cert.publicKey, der: Buffer.from(der) };
    } catch {
      out = { ok: false, why: 'not a certificate' };
    }
    if (this.checked.size >= this.maxCache) this.checked.clear();
    this.checked.set(h, out);
    return out;
  }

  sign(bytes: Buffer): Buffer {
    return sign('sha256', bytes, { key: this.id.key, dsaEncoding: 'ieee-p1363' });
  }

  /** An envelope signed with the key of the certificate it carries, issued to its signer as a host. */
  verify(parts: EnvelopeParts): boolean {
    if (parts.alg !== ALG.ecdsaP256 || parts.sig.length !== 64) return false;
    const c = this.check(parts.cert);
    if (!c.ok || c.name !== parts.signer || c.role !== 'host') return false;
    return verify('sha256', parts.signed, { key: c.publicKey, dsaEncoding: 'ieee-p1363' }, parts.sig);
  }

  /** A peer's certificate as its presence carried it (checked, and for that host). */
  learn(host: string, der: Buffer, role: Role = 'host'): boolean {
    const known = this.peers.get(host);
    if (known && known.equals(der)) return true;
    const c = this.check(der);
    if (!c.ok || c.name !== host || c.role !== role) return false;
    this.peers.set(host, c.der);
    this.pairs.delete(host); // a new certificate (a rotation): a new pair key
    return true;
  }

  /** The heartbeat key shared by this host and `peer` (null: no valid certificate of it is
   * known), derived once per certificate: this runs for every datagram. */
  pairKey(peer: string): KeyObject | null {
    const hit = this.pairs.get(peer);
    if (hit) return hit;
    const der = peer === this.name ? this.cert : this.peers.get(peer);
    if (!der) return null;
    const c = this.check(der);
    if (!c.ok) return null;
    const shared = diffieHellman({ privateKey: this.id.key, publicKey: c.publicKey });
    const [a, b] = [this.name, peer].sort();
    const key = createSecretKey(Buffer.from(hkdfSync('sha256', shared, createHash('sha256').update(this.cluster).digest(), `infravisor heartbeat v2 ${a} ${b}`, 32)));
    if (this.pairs.size >= this.maxCache) this.pairs.clear();
    this.pairs.set(peer, key);
    return key;
  }
}
