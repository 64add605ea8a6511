import type { CriClient } from '../cri/client.js';
import type { ContainerConfig, PodSandboxConfig } from '../cri/types.js';
import { RuntimeError } from '../errors.js';
import type { Workload } from '../inventory.js';
import { targetName, type Deployer, type TargetRef } from './deployer.js';

/** The sandbox a plain containerd container gets on a CRI target: its own pod, same network mode. */
export function sandboxFor(w: Workload): PodSandboxConfig {
  if (w.cri) return w.cri.sandbox;
  const name = targetName(w).toLowerCase();
  return {
    metadata: { name, uid: w.id, namespace: 'infravisor-migrated', attempt: 0 },
    hostname: w.hostNetwork ? '' : name.slice(0, 63),
    labels: { 'io.infravisor.migrated-from': w.id },
    linux: { securityContext: { namespaceOptions: { network: w.hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

/** The CRI container config on the target: the source's own config, with the state image. */
export function containerConfigFor(w: Workload, image: string): ContainerConfig {
  const mounts = w.mounts.map((m) => ({ containerPath: m.destination, hostPath: m.source, readonly: m.readonly }));
  if (w.cri) return { ...w.cri.container, image: { image }, mounts: w.cri.container.mounts ?? mounts, labels: { ...(w.cri.container.labels ?? {}) } };
  return {
    metadata: { name: targetName(w).toLowerCase(), attempt: 0 },
    image: { image },
    // The state image's entrypoint is the container's argv; its env, cwd and user are in the image too.
    mounts,
    labels: { ...w.labels, 'io.infravisor.migrated-from': w.id },
    logPath: `${targetName(w)}.log`,
  };
}

/**
 * CRI-O (or any CRI runtime) through runtime.v1 on its socket: one pod sandbox per source pod
 * (same metadata, labels, annotations, namespaces), then each container with its original
 * CRI config and mounts, from its state image.
 */
export class CriDeployer implements Deployer {
  readonly runtime = 'cri-o' as const;
  /** Source pod sandbox id → target pod sandbox id, shared by the containers of one pod. */
  private readonly pods = new Map<string, Promise<string>>();
  /** Target pod sandboxes this migration made (they may be removed when emptied). */
  private readonly ours = new Set<string>();

  constructor(private readonly cri: CriClient) {}

  adopt(pods: Record<string, string>): void {
    for (const [src, dst] of Object.entries(pods)) {
      if (!this.pods.has(src)) this.pods.set(src, Promise.resolve(dst));
      this.ours.add(dst);
    }
  }

  async check(): Promise<string> {
    const v = await this.cri.version();
    return `${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`;
  }

  private pod(w: Workload, record: (ref: TargetRef) => void): Promise<{ id: string; created: boolean }> {
    const key = w.cri?.podSandboxId ?? `plain:${w.id}`;
    const have = this.pods.get(key);
    if (have) return have.then((id) => ({ id, created: false }));
    const p = this.cri.runPodSandbox(sandboxFor(w));
    this.pods.set(key, p);
    p.catch(() => this.pods.delete(key));
    return p.then((id) => {
      this.ours.add(id);
      record({ kind: 'cri', podSandboxId: id, createdPod: true });
      return { id, created: true };
    });
  }

  async prepare(w: Workload, record: (ref: TargetRef) => void): Promise<void> {
    await this.pod(w, record);
  }

  async deploy(w: Workload, image: string, record: (ref: TargetRef) => void): Promise<TargetRef> {
    if (!(await this.cri.imageStatus(image))) throw new RuntimeError('TARGET', `the target runtime does not see image ${image} after it was stored; is --storage-root the store the runtime uses?`);
    const pod = await this.pod(w, record);
    const ref: TargetRef = { kind: 'cri', podSandboxId: pod.id, createdPod: pod.created };
    record(ref);
    const sandbox = sandboxFor(w);
    const containerId = await this.cri.createContainer(pod.id, containerConfigFor(w, image), sandbox);
    const created: TargetRef = { ...ref, containerId };
    record(created);
    await this.cri.startContainer(containerId);
    return created;
  }

  async running(ref: TargetRef): Promise<boolean> {
    if (ref.kind !== 'cri' || !ref.containerId) return false;
    const s = await this.cri.containerStatus(ref.containerId).catch(() => null);
    return s?.status.state === 'CONTAINER_RUNNING';
  }

  async remove(ref: TargetRef): Promise<void> {
    if (ref.kind !== 'cri') return;
    if (ref.containerId) {
      await this.cri.stopContainer(ref.containerId, 0).catch(() => undefined);
      await this.cri.removeContainer(ref.containerId).catch(() => undefined);
    }
    if (ref.podSandboxId && (ref.createdPod || this.ours.has(ref.podSandboxId))) {
      const left = await this.cri.listContainers(ref.podSandboxId).catch(() => []);
      if (left.length === 0) {
        await this.cri.stopPodSandbox(ref.podSandboxId).catch(() => undefined);
        await this.cri.removePodSandbox(ref.podSandboxId).catch(() => undefined);
        for (const [k, v] of this.pods) if ((await v.catch(() => '')) === ref.podSandboxId) this.pods.delete(k);
        this.ours.delete(ref.podSandboxId);
      }
    }
  }
}
