import type { Workload } from '../inventory.js';

/** What a deployer made on the target, recorded in the journal as soon as it exists. */
export type TargetRef =
  | { kind: 'podman'; name: string; id?: string; pidfile?: string }
  | { kind: 'cri'; podSandboxId?: string; containerId?: string; createdPod?: boolean };

/** Runs a state image under the target runtime with the source container's configuration. */
export interface Deployer {
  readonly runtime: 'cri-o' | 'podman';
  /** Reachable and working: returns a version string, or throws with what to do. */
  check(): Promise<string>;
  /** Pod sandboxes a previous run made (source pod id → target pod id), from the journal. */
  adopt?(pods: Record<string, string>): void;
  /** Work that does not depend on the container's state (a CRI pod sandbox), done before it is frozen. */
  prepare?(w: Workload, record: (ref: TargetRef) => void): Promise<void>;
  /** Creates and starts the container; `record` is called with each thing made, before the next step. */
  deploy(w: Workload, image: string, record: (ref: TargetRef) => void): Promise<TargetRef>;
  /** True when the target container is running. */
  running(ref: TargetRef): Promise<boolean>;
  /** Removes what deploy made (idempotent: a ref recorded before a crash may be partial). */
  remove(ref: TargetRef): Promise<void>;
}

/** A name the target runtimes accept, unique per source container. */
export function targetName(w: Pick<Workload, 'id' | 'name'>): string {
  const base = w.name.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[-.]+/, '').slice(0, 48) || 'container';
  return `${base}-${w.id.slice(0, 8)}`;
}

/** The containers-storage / containerd name of a workload's state image. */
export function stateImageName(w: Pick<Workload, 'id' | 'name'>): string {
  return `localhost/infravisor-migrated/${targetName(w).toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}:state`;
}
