import { afterEach, describe, expect, it } from 'vitest';
import { encodeSigned } from '../../agent/src/contract/index.js';
import { ALG, sealEnvelope } from '../../agent/src/contract/envelope.js';
import { CcpConfigSchema } from '../../agent/src/config/ccp.js';
import { Secret } from '../../agent/src/config/secret.js';
import { KeyRing } from '../../agent/src/trust/keyring.js';
import { ClusterSealer } from '../../agent/src/trust/seal.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { LoopbackAgents } from '../support/agents.js';
import { connectTls, identityOf } from '../support/pki.js';

/**
 * The findings of the control-channel report (issue "A control channel no one can read, forge
 * or knock over"), each as a test that failed on commit 292e0d8: the attacker here holds a
 * member's key and the cluster secret (a compromised host), the strongest position short of
 * the CA's key.
 */
let cluster: LoopbackAgents | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

async function twoAgents(): Promise<LoopbackAgents> {
  const c = (cluster = await new LoopbackAgents(tempDir(), 'loop', 40).init(3));
  await c.make(1).start();
  await c.make(2).start();
  await waitFor(async () => (await Promise.all([c.status(1), c.status(2)])).every((s) => s.view.length === 2 && s.election.primary === 'n1'), 15_000, 'two agents in one view, n1 primary');
  return c;
}

describe('hostile payloads on the control channel', () => {
  it('a config whose ccp nests 4,000 arrays deep is dropped, a config not from the primary is not adopted, and every agent keeps running', async () => {
    const c = await twoAgents();
    // n3's key: a member without a running agent, so nothing it says is contradicted.
    const attacker = await connectTls({ address: c.address(1), port: c.port, tls: c.tls.n3!, clientId: 'ivr-n3-attack' });
    const publish = (topic: string, payload: Buffer | string) => new Promise<void>((resolve) => attacker.publish(topic, payload, { qos: 1, retain: true }, () => resolve()));
    const keys = new KeyRing(identityOf(c.tls.n3!, 'n3'), 'loop');
    const sealer = new ClusterSealer(new Secret(c.secret));
    const bomb = `{"v":1,"cluster":"loop","revision":99,"ccp":{"k":${nested(4000)}},"ts":1}`;
    await publish('ivr/v1/loop/config/n3', bomb);
    await publish('ivr/v1/loop/config/n3', sealEnvelope({ alg: ALG.ecdsaP256, signer: 'n3', cert: keys.cert, body: Buffer.from(bomb), sealer }, (b) => keys.sign(b)));
    await publish('ivr/v1/loop/claim/n3', sealEnvelope({ alg: ALG.ecdsaP256, signer: 'n3', cert: keys.cert, body: Buffer.from(`{"v":1,"members":${nested(4000)}}`) }, (b) => keys.sign(b)));
    const forged = CcpConfigSchema.parse({ revision: 99, manifests: [{ name: 'evil.yaml', content: 'kind: ConfigMap' }] });
    await publish('ivr/v1/loop/config/n3', encodeSigned('config', { v: 1, cluster: 'loop', revision: 99, ccp: forged, ts: 1 }, keys, sealer));
    attacker.end(true);
    await waitFor(async () => (await c.status(1)).dropped.malformed >= 3, 5000, 'the three bombs dropped as malformed');
    for (const i of [1, 2]) {
      const s = await c.status(i);
      expect(s.view).toEqual(['n1', 'n2']);
      expect(s.election.primary).toBe('n1');
      expect(s.election.configRevision, 'a configuration not from the primary is not adopted').toBe(1);
    }
  });
});
