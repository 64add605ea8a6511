import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSigned, encodeSigned, type Claim, type ClusterConfigMessage } from '../../agent/src/contract/index.js';
import { ALG, openEnvelope, sealEnvelope } from '../../agent/src/contract/envelope.js';
import { depthWithin, parseJsonBounded } from '../../agent/src/util/json.js';
import { CcpConfigSchema } from '../../agent/src/config/ccp.js';
import { Secret } from '../../agent/src/config/secret.js';
import { KeyRing } from '../../agent/src/trust/keyring.js';
import { ClusterSealer } from '../../agent/src/trust/seal.js';
import { identityOf, makePki } from '../support/pki.js';
import { suiteTempDirs } from '../support/tmp.js';

const suiteDir = suiteTempDirs();

const sealer = new ClusterSealer(new Secret('envelope-test-secret-123'));
const claim: Claim = { v: 1, cluster: 'c', term: 3, primary: 'h1', members: ['h1', 'h2'], ccp: { host: 'h2', generation: 2, endpoint: 'https://10.0.0.2:6443' }, placement: 'x', configRevision: 1, ts: 5 };
const config: ClusterConfigMessage = { v: 1, cluster: 'c', revision: 2, ccp: CcpConfigSchema.parse({ revision: 2, manifests: [{ name: 'a.yaml', content: 'kind: Secret\ndata: {password: aHVudGVyMg==}' }] }), ts: 5 };
const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);

let h1: KeyRing;
let h2: KeyRing;
let foreign: KeyRing;
beforeAll(async () => {
  const tls = await makePki(suiteDir(), 'c', ['h1', 'h2']);
  h1 = new KeyRing(identityOf(tls.h1!, 'h1'), 'c');
  h2 = new KeyRing(identityOf(tls.h2!, 'h2'), 'c');
  const other = await makePki(suiteDir(), 'c', ['h1']);
  foreign = new KeyRing(identityOf(other.h1!, 'h1'), 'c');
});

describe('bounded JSON', () => {
  it.each<[string, string, boolean]>([
    ['flat', '{"a":1}', true],
    ['16 deep', nested(16), true],
    ['17 deep', nested(17), false],
    ['4,000 deep (the bomb)', nested(4000), false],
    ['brackets inside strings do not count', `{"a":"${'['.repeat(100)}"}`, true],
    ['an escaped quote does not end a string', `{"a":"\\"${'['.repeat(100)}"}`, true],
  ])('%s', (_n, text, ok) => {
    expect(depthWithin(text, 16)).toBe(ok);
    expect(parseJsonBounded(Buffer.from(text), 1 << 20).ok).toBe(ok);
  });

  it('refuses an oversized buffer before reading it', () => {
    expect(parseJsonBounded(Buffer.alloc(100, 0x20), 99)).toMatchObject({ ok: false, reason: 'oversized' });
  });
});

describe('signed envelope (ECDSA P-256 with the signer host key, its certificate inside)', () => {
  it('round-trips a claim, verified by another host, and names its signer', () => {
    expect(decodeSigned('claim', encodeSigned('claim', claim, h1, sealer), h2, sealer)).toEqual({ ok: true, msg: claim, signer: 'h1' });
  });

  it('seals the configuration: its manifests are not in the bytes, and it opens only with the cluster secret', () => {
    const buf = encodeSigned('config', config, h1, sealer);
    expect(buf.includes(Buffer.from('aHVudGVyMg=='))).toBe(false);
    expect(buf.includes(Buffer.from('kind: Secret'))).toBe(false);
    expect(decodeSigned('config', buf, h2, sealer)).toEqual({ ok: true, msg: config, signer: 'h1' });
    expect(decodeSigned('config', buf, h2, new ClusterSealer(new Secret('another-secret-of-16+')))).toMatchObject({ ok: false, reason: 'signature' });
  });

  it('a flipped byte anywhere fails the signature or the framing, never throws', () => {
    const buf = encodeSigned('claim', claim, h1, sealer);
    for (let i = 0; i < buf.length; i++) {
      const b = Buffer.from(buf);
      b[i] = b[i]! ^ 0x01;
      expect(decodeSigned('claim', b, h2, sealer).ok, `byte ${i}`).toBe(false);
    }
  });

  it('a host cannot sign as another: its own certificate under another name, or a certificate of another CA', () => {
    const asH2 = sealEnvelope({ alg: ALG.ecdsaP256, signer: 'h2', cert: h1.cert, body: Buffer.from(JSON.stringify(claim)) }, (b) => h1.sign(b));
    expect(decodeSigned('claim', asH2, h2, sealer)).toMatchObject({ ok: false, reason: 'signature' });
    expect(decodeSigned('claim', encodeSigned('claim', claim, foreign, sealer), h2, sealer)).toMatchObject({ ok: false, reason: 'signature' });
    const hmac = sealEnvelope({ alg: ALG.hmacSha256, signer: 'h1', body: Buffer.from(JSON.stringify(claim)) }, () => Buffer.alloc(32));
    expect(decodeSigned('claim', hmac, h2, sealer)).toMatchObject({ ok: false, reason: 'signature' });
  });

  it('a bomb in a body is never parsed unless signed, and refused by depth if it is', () => {
    const body = Buffer.from(`{"v":1,"cluster":"c","revision":9,"ccp":{"k":${nested(4000)}},"ts":1}`);
    const forged = sealEnvelope({ alg: ALG.ecdsaP256, signer: 'h1', cert: h1.cert, body, sealer }, () => Buffer.alloc(64));
    expect(decodeSigned('config', forged, h2, sealer)).toMatchObject({ ok: false, reason: 'signature' });
    const signed = sealEnvelope({ alg: ALG.ecdsaP256, signer: 'h1', cert: h1.cert, body, sealer }, (b) => h1.sign(b));
    expect(decodeSigned('config', signed, h2, sealer)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('a configuration in clear where the contract seals it is refused', () => {
    const clear = sealEnvelope({ alg: ALG.ecdsaP256, signer: 'h1', cert: h1.cert, body: Buffer.from(JSON.stringify(config)) }, (b) => h1.sign(b));
    expect(decodeSigned('config', clear, h2, sealer)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it.each<[string, () => Buffer]>([
    ['empty', () => Buffer.alloc(0)],
    ['JSON instead of an envelope', () => Buffer.from(JSON.stringify(claim))],
    ['a body length past the end', () => Buffer.concat([Buffer.from('IVS1'), Buffer.from([2, 2]), Buffer.from('h1'), Buffer.from([0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 1])])],
    ['a signer that is not a host name', () => sealEnvelope({ alg: ALG.ecdsaP256, signer: 'h1', body: Buffer.from('{}') }, () => Buffer.alloc(64)).fill(0x2f, 6, 8)],
  ])('rejects %s as malformed', (_n, buf) => {
    expect(openEnvelope(buf(), 1 << 20)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('heartbeat pair keys', () => {
  it('both ends of a pair derive the same key; it differs for every pair; an unknown peer has none', () => {
    expect(h1.learn('h2', h2.cert)).toBe(true);
    expect(h2.learn('h1', h1.cert)).toBe(true);
    expect(h1.pairKey('h2')!.equals(h2.pairKey('h1')!)).toBe(true);
    expect(h1.pairKey('h2')!.equals(h1.pairKey('h1')!)).toBe(false);
    expect(h1.pairKey('h9')).toBeNull();
    expect(h1.learn('h9', h2.cert), 'a certificate under another name').toBe(false);
    expect(h1.learn('h1', foreign.cert), 'another CA').toBe(false);
  });
});
