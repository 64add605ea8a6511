import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Agent } from '../../agent/src/daemon/agent.js';
import { resolveConfig, validateConfig } from '../../agent/src/config/load.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { fetchStatus } from '../../agent/src/status/server.js';
import type { AgentStatus } from '../../agent/src/contract/status.js';
import { tempDir } from '../support/tmp.js';
import { encodeSigned } from '../../agent/src/contract/index.js';
import { ALG, sealEnvelope } from '../../agent/src/contract/envelope.js';
import { CcpConfigSchema } from '../../agent/src/config/ccp.js';
import { Secret } from '../../agent/src/config/secret.js';
import { ClusterKeySigner } from '../../agent/src/trust/signer.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'hostile-test-secret-0123';
const FACTS = { model: 'test', arch: 'x64', cores: 4, memMB: 4096, tempC: null, load1: 0 };
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

function makeAgent(dir: string, i: number, port: number): Agent {
  const name = `n${i}`;
  const cfg = resolveConfig(validateConfig({ cluster: 'loop', host: { name, address: `127.0.0.${40 + i}`, port }, seeds: [`127.0.0.41:${port}`], secret: SECRET, stateDir: join(dir, name) }), 'test');
  const a = new Agent(cfg, { log: silentLogger(), linkWatcher: null, facts: { initial: () => FACTS, enrich: async () => FACTS, refresh: async () => FACTS } });
  agents.push(a);
  return a;
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('hostile payloads on the control channel', () => {
  it('a config whose ccp nests 4,000 arrays deep is dropped, a config not from the primary is not adopted, and every agent keeps running', async () => {
    const dir = tempDir();
    const port = 31000 + Math.floor(Math.random() * 10000);
    await makeAgent(dir, 1, port).start();
    await makeAgent(dir, 2, port).start();
    const statusOf = (i: number) => fetchStatus<AgentStatus>(join(dir, `n${i}`, 'agent.sock'));
    await waitFor(async () => (await Promise.all([statusOf(1), statusOf(2)])).every((s) => s.view.length === 2 && s.election.primary === 'n1'), 15_000, 'two agents in one view, n1 primary');
    const attacker = mqtt.connect({ host: '127.0.0.41', port, protocolVersion: 4, username: 'n2', password: SECRET, clientId: 'ivr-n2-attack', reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      attacker.once('connect', () => resolve());
      attacker.once('error', reject);
    });
    const publish = (topic: string, payload: Buffer | string) => new Promise<void>((resolve) => attacker.publish(topic, payload, { qos: 1, retain: true }, () => resolve()));
    const signer = new ClusterKeySigner('n2', new Secret(SECRET));
    // The payload of the report: JSON on the config topic, then the same inside an envelope
    // signed with the cluster key (an attacker who holds it), then a well-formed configuration
    // at a higher revision from a host that is not the primary.
    const bomb = `{"v":1,"cluster":"loop","revision":99,"ccp":{"k":${nested(4000)}},"ts":1}`;
    await publish('ivr/v1/loop/config/n2', bomb);
    await publish('ivr/v1/loop/config/n2', sealEnvelope({ alg: ALG.hmacSha256, signer: 'n2', sealed: false, body: Buffer.from(bomb) }, (b) => signer.sign(b)));
    await publish('ivr/v1/loop/claim/n2', sealEnvelope({ alg: ALG.hmacSha256, signer: 'n2', sealed: false, body: Buffer.from(`{"v":1,"members":${nested(4000)}}`) }, (b) => signer.sign(b)));
    const forged = CcpConfigSchema.parse({ revision: 99, manifests: [{ name: 'evil.yaml', content: 'kind: ConfigMap' }] });
    await publish('ivr/v1/loop/config/n2', encodeSigned('config', { v: 1, cluster: 'loop', revision: 99, ccp: forged, ts: 1 }, signer));
    attacker.end(true);
    await new Promise((r) => setTimeout(r, 500));
    for (const i of [1, 2]) {
      const s = await statusOf(i);
      expect(s.view).toEqual(['n1', 'n2']);
      expect(s.election.primary).toBe('n1');
      expect(s.election.configRevision, 'a configuration not from the primary is not adopted').toBe(1);
    }
  });
});
