import type { Client } from '@grpc/grpc-js';
import { newClient, protoPackage, socketPath, unary, type grpc } from '../grpc.js';
import type { ContainerConfig, ContainerStatus, CriContainer, CriImage, PodSandbox, PodSandboxConfig } from './types.js';

/**
 * A CRI (runtime.v1) client over a Unix socket: the RuntimeService and ImageService calls the
 * migration needs. Every call has a deadline; failures become RuntimeError with the method,
 * the endpoint and the gRPC status, so "socket missing" and "runtime refused" read differently.
 */
export class CriClient {
  private readonly runtime: Client;
  private readonly images: Client;

  constructor(
    readonly endpoint: string,
    private readonly timeoutMs = 30_000,
    /** The command-line option that sets this endpoint, for the error message. */
    option = '--target-endpoint',
  ) {
    const path = socketPath(endpoint, option);
    const pkg = (protoPackage('cri-runtime-v1.proto').runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
    this.runtime = newClient(pkg.RuntimeService, path);
    this.images = newClient(pkg.ImageService, path);
  }

  private call<T>(client: Client, method: string, req: object, timeoutMs = this.timeoutMs): Promise<T> {
    return unary<T>(client, `CRI on ${this.endpoint}:`, method, req, timeoutMs);
  }

  version(): Promise<{ version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    return this.call(this.runtime, 'Version', { version: 'v1' }, Math.min(this.timeoutMs, 5000));
  }

  async listPodSandbox(): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', {})).items;
  }

  async podSandboxStatus(id: string): Promise<{ status: PodSandbox; info: Record<string, string> }> {
    return this.call(this.runtime, 'PodSandboxStatus', { podSandboxId: id, verbose: true });
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return (await this.call<{ podSandboxId: string }>(this.runtime, 'RunPodSandbox', { config, runtimeHandler })).podSandboxId;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { podSandboxId: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { podSandboxId: id });
  }

  async listContainers(podSandboxId?: string): Promise<CriContainer[]> {
    const filter = podSandboxId ? { podSandboxId } : {};
    return (await this.call<{ containers: CriContainer[] }>(this.runtime, 'ListContainers', { filter })).containers;
  }

  async containerStatus(id: string): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
    return this.call(this.runtime, 'ContainerStatus', { containerId: id, verbose: true });
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    return (await this.call<{ containerId: string }>(this.runtime, 'CreateContainer', { podSandboxId, config, sandboxConfig })).containerId;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'StartContainer', { containerId: id });
  }

  async stopContainer(id: string, timeoutS = 10): Promise<void> {
    await this.call(this.runtime, 'StopContainer', { containerId: id, timeout: timeoutS }, (timeoutS + 10) * 1000);
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'RemoveContainer', { containerId: id });
  }

  async execSync(id: string, cmd: string[], timeoutS = 10): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.call<{ stdout: Buffer; stderr: Buffer; exitCode: number }>(this.runtime, 'ExecSync', { containerId: id, cmd, timeout: timeoutS }, (timeoutS + 5) * 1000);
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
  }

  async imageStatus(image: string): Promise<CriImage | null> {
    return (await this.call<{ image: CriImage | null }>(this.images, 'ImageStatus', { image: { image } })).image;
  }


  close(): void {
    this.runtime.close();
    this.images.close();
  }
}
