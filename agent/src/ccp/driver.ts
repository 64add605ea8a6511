import type { CcpNode } from '../contract/status.js';
import type { Health } from './health.js';
import type { AgentSpec, RenderedFile, ServerSpec } from './k3s/render.js';

/** What runs on this host, as found on disk and in the service manager. */
export interface RunningCcp {
  cluster: string;
  generation: number;
  host: string;
  config: string;
  active: boolean;
  pid: number | null;
}

export type { CcpNode };

/**
 * A cluster control plane driver. k3s is the production one (ccp/k3s/driver.ts); the
 * fault-handling logic and the runtime migration both use this interface only.
 */
export interface CcpDriver {
  renderServer(spec: ServerSpec): { files: RenderedFile[]; script: string };
  renderAgent(spec: AgentSpec): RenderedFile[];
  /** Applies the configuration through the initialization script and starts the server. */
  startServer(spec: ServerSpec): Promise<{ output: string }>;
  health(endpoint: string): Promise<Health>;
  /** The nodes the CCP server of this host lists (GET /api/v1/nodes with its admin kubeconfig). */
  nodes(endpoint: string): Promise<CcpNode[]>;
  stopServer(): Promise<void>;
  /** Stops the server and moves its data directory aside (never deletes it). Returns where. */
  archiveServer(reason: string): Promise<string | null>;
  /** The CCP server this host runs, if any (after an agent restart). */
  adopt(): Promise<RunningCcp | null>;
  /** Points this host's k3s agent at a server; returns false when it already was. */
  follow(spec: AgentSpec): Promise<boolean>;
  /** The server URL this host's k3s agent follows, if it runs one. */
  following(): Promise<string | null>;
  stopAgent(): Promise<void>;
}
