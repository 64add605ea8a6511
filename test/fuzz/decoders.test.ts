import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT, decode, decodeSigned, encodeSigned, type Claim, type JsonKind } from '../../agent/src/contract/index.js';
import { openEnvelope } from '../../agent/src/contract/envelope.js';
import { validateConfig, readYaml } from '../../agent/src/config/load.js';
import { CcpConfigSchema } from '../../agent/src/config/ccp.js';
import { Secret } from '../../agent/src/config/secret.js';
import { decodeHeartbeat, encodeHeartbeat } from '../../agent/src/liveness/packet.js';
import { LineReader, parseLine, RequestSchema } from '../../agent/src/lab/guest/protocol.js';
import { StateFile } from '../../agent/src/state/atomic-file.js';
import { FrameScanner } from '../../agent/src/broker/frame-guard.js';
import { KeyRing } from '../../agent/src/trust/keyring.js';
import { ClusterSealer } from '../../agent/src/trust/seal.js';
import { ConfigError, CorruptStateError } from '../../agent/src/util/errors.js';
import { identityOf, makePki } from '../support/pki.js';
import { suiteTempDirs } from '../support/tmp.js';

/**
 * Property-based fuzzing (fast-check) of every decoder that reads the network or a file: the
 * MQTT payloads (JSON and signed envelopes), the heartbeat datagram, the MQTT framing check,
 * the lab's guest protocol, state files and the agent config. Each runs on random bytes and on
 * mutations of a corpus (test/fuzz/corpus: valid samples and the inputs of past findings). The
 * property: it never throws, and whatever it accepts satisfies its schema.
 *
 * CI runs a short pass (FUZZ_RUNS, default 300 per property); a long one:
 *   FUZZ_RUNS=200000 npx vitest run test/fuzz        (docs/security.md has the figures)
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined } as const;
const CORPUS = join(import.meta.dirname, 'corpus');
const corpus = (dir: string): Buffer[] => readdirSync(join(CORPUS, dir)).map((f) => readFileSync(join(CORPUS, dir, f)));
const suiteDir = suiteTempDirs();

/** Random bytes, or a corpus sample with bytes flipped, inserted, cut or repeated. */
function mutated(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  const mutate = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'cut', 'dup')), { maxLength: 8 })).map(([seed, ops]) => {
    let b = Buffer.from(seed);
    for (const [at, v, op] of ops) {
      const i = b.length === 0 ? 0 : at % b.length;
      if (op === 'flip' && b.length) b[i] = b[i]! ^ (1 << (v % 8));
      else if (op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([v]), b.subarray(i)]);
      else if (op === 'cut') b = b.subarray(0, i);
      else b = Buffer.concat([b.subarray(0, i), b.subarray(0, i), b.subarray(i)]);
    }
    return b;
  });
  return fc.oneof(mutate, fc.uint8Array({ maxLength: 512 }).map((u) => Buffer.from(u)), fc.json({ depthSize: 'large' }).map((s) => Buffer.from(s)));
}

const neverThrows = <T>(fn: (x: T) => unknown) => (x: T) => {
  fn(x);
  return true;
};

describe('fuzz: MQTT payloads', () => {
  const json = mutated(corpus('json'));
  it.each<JsonKind>(['presence', 'directory'])('decode(%s) never throws; what it accepts passes the schema', (kind) => {
    fc.assert(
      fc.property(json, (buf) => {
        const d = decode(kind, buf);
        if (d.ok) expect(CONTRACT[kind].schema.safeParse(d.msg).success).toBe(true);
        return true;
      }),
      params,
    );
  });

  let keys: KeyRing;
  const sealer = new ClusterSealer(new Secret('fuzz-test-cluster-secret'));
  let seeds: Buffer[] = [];
  beforeAll(async () => {
    const tls = await makePki(suiteDir(), 'c', ['h1']);
    keys = new KeyRing(identityOf(tls.h1!, 'h1'), 'c');
    const claim: Claim = { v: 1, cluster: 'c', term: 2, primary: 'h1', members: ['h1'], ccp: null, placement: 'p', configRevision: 1, ts: 1 };
    seeds = [encodeSigned('claim', claim, keys, sealer), encodeSigned('config', { v: 1, cluster: 'c', revision: 1, ccp: CcpConfigSchema.parse({}), ts: 1 }, keys, sealer)];
  });

  it('decodeSigned (claim, config) never throws; a mutated envelope is never accepted', () => {
    fc.assert(
      fc.property(fc.integer(), (n) => n === n), // keeps fast-check's parameters checked before the corpus exists
      { numRuns: 1 },
    );
    const arb = mutated(seeds);
    fc.assert(
      fc.property(arb, (buf) => {
        openEnvelope(buf, 1 << 20);
        for (const kind of ['claim', 'config'] as const) {
          const d = decodeSigned(kind, buf, keys, sealer);
          if (d.ok) expect(seeds.some((s) => s.equals(buf)), 'only an unaltered envelope verifies').toBe(true);
        }
        return true;
      }),
      params,
    );
  });
});

describe('fuzz: heartbeat datagram and MQTT framing', () => {
  const key = Buffer.alloc(32, 3);
  const good = encodeHeartbeat(key, 'home', { host: 'pi-7', incarnation: 1_764_000_000_123, seq: 9 });
  it('decodeHeartbeat never throws; only the unaltered datagram verifies', () => {
    fc.assert(
      fc.property(mutated([good]), (buf) => {
        const d = decodeHeartbeat(() => key, 'home', buf);
        if (d.ok) expect(buf.equals(good)).toBe(true);
        return true;
      }),
      params,
    );
  });

  it('the framing check never throws, never lets a packet over its limit through, whatever the chunking', () => {
    fc.assert(
      fc.property(mutated(corpus('frames')), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 16 }), (buf, cuts) => {
        const s = new FrameScanner({ connectMax: 1024, packetMax: 4096 });
        let at = 0;
        for (const c of [...cuts, buf.length]) {
          if (s.feed(buf.subarray(at, at + c))) break;
          at += c;
          if (at >= buf.length) break;
        }
        return true;
      }),
      params,
    );
    expect(new FrameScanner({ connectMax: 1024, packetMax: 4096 }).feed(corpus('frames').find((b) => b.length === 5)!)).toBe('connect-too-large');
  });
});

describe('fuzz: files and the lab channel', () => {
  it('guest protocol lines: never throw, accepted ones pass the schema', () => {
    fc.assert(
      fc.property(mutated(corpus('guest')), (buf) => {
        const r = new LineReader(4096);
        for (const line of r.push(Buffer.concat([buf, Buffer.from('\n')]))) {
          const req = parseLine(line, RequestSchema);
          if (req) expect(RequestSchema.safeParse(req).success).toBe(true);
        }
        return true;
      }),
      params,
    );
  });

  it('state files: a corrupt file is refused with CorruptStateError, never anything else', () => {
    const dir = suiteDir();
    fc.assert(
      fc.property(mutated(corpus('state')), (buf) => {
        const path = join(dir, 'f.json');
        writeFileSync(path, buf);
        try {
          new StateFile(path, 'infravisor.membership', 1, (b) => b).read();
        } catch (err) {
          expect(err).toBeInstanceOf(CorruptStateError);
        }
        return true;
      }),
      { ...params, numRuns: Math.min(RUNS, 200) },
    );
  });

  it('agent config: YAML and values of any shape are refused with ConfigError, never anything else', () => {
    const dir = suiteDir();
    fc.assert(
      fc.property(fc.oneof(mutated(corpus('yaml')), fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)))), (buf) => {
        const path = join(dir, 'c.yaml');
        writeFileSync(path, buf);
        try {
          validateConfig(readYaml(path), path);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
        }
        return true;
      }),
      { ...params, numRuns: Math.min(RUNS, 200) },
    );
    void neverThrows;
  });
});
