import type { CcpDriver, CcpNode, RunningCcp } from '../../agent/src/ccp/driver.js';
import type { VipPort } from '../../agent/src/ccp/vip.js';
import type { Health } from '../../agent/src/ccp/health.js';
import type { AgentSpec, RenderedFile, ServerSpec } from '../../agent/src/ccp/k3s/render.js';

/**
 * A CCP driver in memory: a typed double (it implements the interface, so a renamed or new
 * method breaks its compilation). What runs is two fields; each operation can be made to fail.
 */
export class FakeCcpDriver implements CcpDriver {
  server: RunningCcp | null = null;
  followingUrl: string | null = null;
  readonly calls = { startServer: 0, follow: 0, archiveServer: [] as string[] };
  /** Makes the next calls of an operation fail (a count per operation). */
  failNext: Partial<Record<'startServer' | 'follow', number>> = {};
  ready = true;

  private fail(op: 'startServer' | 'follow', why: string): void {
    const n = this.failNext[op] ?? 0;
    if (n > 0) {
      this.failNext[op] = n - 1;
      throw new Error(why);
    }
  }
  renderServer(_spec: ServerSpec): { files: RenderedFile[]; script: string } {
    return { files: [], script: '' };
  }
  renderAgent(_spec: AgentSpec): RenderedFile[] {
    return [];
  }
  async startServer(spec: ServerSpec): Promise<{ output: string }> {
    this.calls.startServer++;
    this.fail('startServer', 'the supervisor of k3s did not start its process');
    this.server = { cluster: spec.cluster, generation: spec.generation, host: spec.host.name, config: '', active: true, pid: 1 };
    return { output: '' };
  }
  async health(_endpoint: string): Promise<Health> {
    return { ready: this.ready, reachable: true, status: this.ready ? 200 : 503, detail: '', ms: 1 };
  }
  nodeList: CcpNode[] = [];
  async nodes(_endpoint: string): Promise<CcpNode[]> {
    return this.nodeList;
  }
  async stopServer(): Promise<void> {
    this.server = null;
  }
  async archiveServer(reason: string): Promise<string | null> {
    this.calls.archiveServer.push(reason);
    this.server = null;
    return `/archive/${this.calls.archiveServer.length}`;
  }
  async adopt(): Promise<RunningCcp | null> {
    return this.server;
  }
  async follow(spec: AgentSpec): Promise<boolean> {
    this.calls.follow++;
    this.fail('follow', 'the supervisor of k3s-agent did not start its process');
    const changed = this.followingUrl !== spec.serverUrl;
    this.followingUrl = spec.serverUrl;
    return changed;
  }
  async following(): Promise<string | null> {
    return this.followingUrl;
  }
  async stopAgent(): Promise<void> {
    this.followingUrl = null;
  }
}

/** The cluster address in memory: whether this host holds it, and every operation in order. */
export class FakeVip implements VipPort {
  held = new Set<string>();
  readonly ops: string[] = [];
  async hold(address: string): Promise<void> {
    this.ops.push(`hold ${address}`);
    this.held.add(address);
  }
  async release(address: string): Promise<void> {
    this.ops.push(`release ${address}`);
    this.held.delete(address);
  }
  async announce(address: string): Promise<void> {
    this.ops.push(`announce ${address}`);
  }
  async forget(address: string): Promise<void> {
    this.ops.push(`forget ${address}`);
  }
}
