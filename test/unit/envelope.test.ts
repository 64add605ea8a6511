import { describe, expect, it } from 'vitest';
import { decodeSigned, encodeSigned, type Claim } from '../../agent/src/contract/index.js';
import { ALG, openEnvelope, sealEnvelope } from '../../agent/src/contract/envelope.js';
import { depthWithin, parseJsonBounded } from '../../agent/src/contract/json.js';
import { Secret } from '../../agent/src/config/secret.js';
import { ClusterKeySigner } from '../../agent/src/trust/signer.js';

const secret = new Secret('envelope-test-secret-123');
const h1 = new ClusterKeySigner('h1', secret);
const claim: Claim = { v: 1, cluster: 'c', term: 3, primary: 'h1', members: ['h1', 'h2'], ccp: { host: 'h2', generation: 2, endpoint: 'https://10.0.0.2:6443' }, placement: 'x', configRevision: 1, ts: 5 };
const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);

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

describe('signed envelope', () => {
  it('round-trips a claim and names its signer', () => {
    const d = decodeSigned('claim', encodeSigned('claim', claim, h1), h1);
    expect(d).toEqual({ ok: true, msg: claim, signer: 'h1' });
  });

  it('a flipped byte anywhere fails the signature or the framing, never throws', () => {
    const buf = encodeSigned('claim', claim, h1);
    for (let i = 0; i < buf.length; i++) {
      const b = Buffer.from(buf);
      b[i] = b[i]! ^ 0x01;
      const d = decodeSigned('claim', b, h1);
      expect(d.ok, `byte ${i}`).toBe(false);
    }
  });

  it('another cluster key does not verify', () => {
    const d = decodeSigned('claim', encodeSigned('claim', claim, h1), new ClusterKeySigner('h1', new Secret('another-secret-of-16+')));
    expect(d).toMatchObject({ ok: false, reason: 'signature' });
  });

  it('a bomb in a body is never parsed unless signed, and refused by depth if it is', () => {
    const body = Buffer.from(`{"v":1,"cluster":"c","revision":9,"ccp":{"k":${nested(4000)}},"ts":1}`);
    const forged = sealEnvelope({ alg: ALG.hmacSha256, signer: 'h2', sealed: false, body }, () => Buffer.alloc(32));
    expect(decodeSigned('config', forged, h1)).toMatchObject({ ok: false, reason: 'signature' });
    const signed = sealEnvelope({ alg: ALG.hmacSha256, signer: 'h1', sealed: false, body }, (b) => h1.sign(b));
    expect(decodeSigned('config', signed, h1)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it.each<[string, Buffer]>([
    ['empty', Buffer.alloc(0)],
    ['JSON instead of an envelope', Buffer.from(JSON.stringify(claim))],
    ['a body length past the end', Buffer.concat([Buffer.from('IVS1'), Buffer.from([1, 2]), Buffer.from('h1'), Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1, 1])])],
    ['a signer that is not a host name', sealEnvelope({ alg: ALG.hmacSha256, signer: 'h1', sealed: false, body: Buffer.from('{}') }, () => Buffer.alloc(32)).fill(0x2f, 6, 8)],
  ])('rejects %s as malformed', (_n, buf) => {
    expect(openEnvelope(buf, 1 << 20)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
