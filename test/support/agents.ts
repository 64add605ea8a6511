import { join } from 'node:path';
import { Agent, type AgentDeps } from '../../agent/src/daemon/agent.js';
import { resolveConfig, validateConfig, type AgentConfig } from '../../agent/src/config/load.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { fetchStatus } from '../../agent/src/status/server.js';
import type { AgentStatus } from '../../agent/src/contract/status.js';
import { identityOf, makePki, type TlsPaths } from './pki.js';

export const TEST_FACTS = { model: 'test', arch: 'x64', cores: 4, memMB: 4096, tempC: null, load1: 0 };

/**
 * Real agents in this process, each on its own loopback address (127.0.0.0/8), with a CA of
 * their own: discovery without root or namespaces. `stop()` ends every agent made.
 */
export class LoopbackAgents {
  readonly port = 21000 + Math.floor(Math.random() * 20000);
  tls: Record<string, TlsPaths> = {};
  private readonly agents: Agent[] = [];

  constructor(readonly dir: string, readonly cluster: string, private readonly base: number, readonly secret = `${cluster}-loopback-secret-0123`) {}

  address(i: number): string {
    return `127.0.0.${this.base + i}`;
  }

  /** A CA and a certificate for n1..nN. */
  async init(n: number): Promise<this> {
    this.tls = await makePki(this.dir, this.cluster, Array.from({ length: n }, (_, i) => `n${i + 1}`));
    return this;
  }

  config(i: number, extra: Record<string, unknown> = {}, seed = 1): AgentConfig {
    const name = `n${i}`;
    return resolveConfig(
      validateConfig({ cluster: this.cluster, host: { name, address: this.address(i), port: this.port }, seeds: [`${this.address(seed)}:${this.port}`], secret: this.secret, tls: this.tls[name], stateDir: join(this.dir, name), ...extra }),
      'test',
    );
  }

  make(i: number, o: { extra?: Record<string, unknown>; deps?: Partial<AgentDeps>; seed?: number } = {}): Agent {
    const cfg = this.config(i, o.extra, o.seed);
    const a = new Agent(cfg, { log: silentLogger(), linkWatcher: null, facts: { initial: () => TEST_FACTS, enrich: async () => TEST_FACTS, refresh: async () => TEST_FACTS }, identity: identityOf(this.tls[`n${i}`]!, `n${i}`), ...o.deps });
    this.agents.push(a);
    return a;
  }

  status(i: number): Promise<AgentStatus> {
    return fetchStatus<AgentStatus>(join(this.dir, `n${i}`, 'agent.sock'));
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.splice(0).map((a) => a.stop().catch(() => undefined)));
  }
}
