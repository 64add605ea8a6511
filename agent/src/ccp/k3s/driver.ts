import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { CcpHost } from '../../config/ccp.js';
import type { CcpDriver, CcpNode, RunningCcp } from '../driver.js';
import { CcpStartError } from '../errors.js';
import { probeReady, type Health } from '../health.js';
import type { ServiceManager, Unit } from '../service.js';
import { writeFileAtomic } from '../../state/atomic-file.js';
import { CommandError, run } from '../../util/exec.js';
import { listNodes } from './nodes.js';
import { paths, renderAgentFiles, renderInitScript, renderServerFiles, type AgentSpec, type RenderedFile, type ServerSpec } from './render.js';

const MarkerSchema = z.object({ cluster: z.string(), generation: z.number().int(), host: z.string(), config: z.string() });

/** The k3s CCP: files and paths as k3s documents them, processes through a service manager. */
export class K3sDriver implements CcpDriver {
  private readonly p;

  /**
   * `units` names the service of the server and of the agent: `k3s` / `k3s-agent` normally;
   * the runtime migration runs its second control plane as `k3s-next` beside the first.
   */
  constructor(
    private readonly local: CcpHost,
    private readonly services: ServiceManager,
    private readonly units: { server: Unit; agent: Unit } = { server: 'k3s', agent: 'k3s-agent' },
  ) {
    this.p = paths(local);
  }

  private serverArgv(): string[] {
    return [this.local.bin, 'server', '--config', this.p.serverConfig];
  }

  private agentArgv(): string[] {
    return [this.local.bin, 'agent', '--config', this.p.agentConfig];
  }

  renderServer(spec: ServerSpec): { files: RenderedFile[]; script: string } {
    return { files: renderServerFiles(spec), script: renderInitScript(spec, this.services.commands(this.units.server, this.units.agent, this.serverArgv())) };
  }

  renderAgent(spec: AgentSpec): RenderedFile[] {
    return renderAgentFiles(spec);
  }

  async startServer(spec: ServerSpec): Promise<{ output: string }> {
    const { script } = this.renderServer(spec); // refuses a bad configuration before anything is written
    writeFileAtomic(this.p.script, script, 0o700);
    try {
      const output = await run(['sh', this.p.script], { timeoutMs: 180_000 });
      return { output: output.trim() };
    } catch (err) {
      const out = err instanceof CommandError ? err.stderr : String(err);
      throw new CcpStartError(`the CCP initialization script ${this.p.script} failed: ${out.trim().split('\n').slice(-3).join(' | ')}`, out);
    }
  }

  health(endpoint: string): Promise<Health> {
    return probeReady(endpoint, { caFile: this.p.serverCa });
  }

  nodes(endpoint: string): Promise<CcpNode[]> {
    return listNodes(endpoint, { kubeconfig: this.p.kubeconfig, caFile: this.p.serverCa });
  }

  async stopServer(): Promise<void> {
    await this.services.stop(this.units.server);
  }

  async archiveServer(reason: string): Promise<string | null> {
    await this.stopServer();
    const marker = this.readMarker();
    if (!existsSync(this.p.serverData)) return null;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const dest = join(this.local.archiveDir, `${marker?.cluster ?? 'unknown'}-gen${marker?.generation ?? 0}-${marker?.host ?? 'host'}-${stamp}`);
    mkdirSync(dest, { recursive: true, mode: 0o700 });
    // A rename keeps everything (same file system); across file systems, copy then remove.
    try {
      renameSync(this.p.serverData, join(dest, 'server'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await run(['cp', '-a', this.p.serverData, join(dest, 'server')], { timeoutMs: 600_000 });
      rmSync(this.p.serverData, { recursive: true, force: true });
    }
    writeFileSync(join(dest, 'ARCHIVED.json'), JSON.stringify({ reason, at: new Date().toISOString(), marker }, null, 2) + '\n');
    if (existsSync(this.p.marker)) renameSync(this.p.marker, join(dest, 'infravisor-ccp.json'));
    return dest;
  }

  private readMarker(): z.infer<typeof MarkerSchema> | null {
    try {
      return MarkerSchema.parse(JSON.parse(readFileSync(this.p.marker, 'utf8')));
    } catch {
      return null;
    }
  }

  async adopt(): Promise<RunningCcp | null> {
    const marker = this.readMarker();
    if (!marker) return null;
    const active = await this.services.isActive(this.units.server);
    return { ...marker, active, pid: active ? await this.services.mainPid(this.units.server) : null };
  }

  async follow(spec: AgentSpec): Promise<boolean> {
    const files = renderAgentFiles(spec);
    const same = files.every((f) => existsSync(f.path) && readFileSync(f.path, 'utf8') === f.content);
    if (same && (await this.services.isActive(this.units.agent))) return false;
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileAtomic(f.path, f.content, f.mode);
    }
    // The agent's load balancer caches the servers it knew and would keep trying them.
    for (const cache of this.p.agentLbCache) rmSync(cache, { force: true });
    await this.services.stop(this.units.server);
    await this.services.restart(this.units.agent, this.agentArgv());
    return true;
  }

  async following(): Promise<string | null> {
    if (!(await this.services.isActive(this.units.agent))) return null;
    try {
      const m = /^server:\s*(\S+)$/m.exec(readFileSync(this.p.agentConfig, 'utf8'));
      return m?.[1] ?? null;
    } catch {
      return null;
    }
  }

  async stopAgent(): Promise<void> {
    await this.services.stop(this.units.agent);
  }
}
