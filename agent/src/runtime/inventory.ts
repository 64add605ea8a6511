import type { CriClient } from './cri/client.js';
import type { ContainerConfig, PodSandboxConfig } from './cri/types.js';
import { RuntimeError } from './errors.js';
import type { Containerd, CtrContainerInfo } from './source/containerd.js';

/** A bind mount of a container: a host path that stays where it is and is mounted again. */
export interface BindMount {
  source: string;
  destination: string;
  readonly: boolean;
}

/** A running container of the source, with everything needed to run it again elsewhere. */
export interface Workload {
  /** containerd's container id. */
  id: string;
  /** pod/container for CRI containers, the container id for plain ones. */
  name: string;
  kind: 'cri' | 'plain';
  image: string;
  snapshotKey: string;
  snapshotter: string;
  process: { args: string[]; env: string[]; cwd: string; user?: string };
  /** Shares the host's network namespace (CRI network NODE, or no network namespace in the spec). */
  hostNetwork: boolean;
  mounts: BindMount[];
  labels: Record<string, string>;
  task: 'RUNNING' | 'PAUSED';
  cri?: { podSandboxId: string; sandbox: PodSandboxConfig; container: ContainerConfig };
}

const MAP_FIELDS = new Set(['labels', 'annotations', 'sysctls', 'label_selector']);
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The runtimes' verbose info carries the CRI request as snake_case JSON; map keys stay as they are. */
export function camelize(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => camelize(x));
  if (v && typeof v === 'object') {
    if (MAP_FIELDS.has(key)) return { ...(v as Record<string, unknown>) };
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [camel(k), camelize(x, k)]));
  }
  return v;
}

/** Mounts a runtime adds by itself (network files, /dev/shm, service account tokens are user mounts and stay). */
const RUNTIME_MOUNTS = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev/shm', '/dev/termination-log']);

export function bindMounts(spec: CtrContainerInfo['Spec']): BindMount[] {
  return (spec.mounts ?? [])
    .filter((m) => (m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind')) && m.source && !RUNTIME_MOUNTS.has(m.destination))
    .map((m) => ({ source: m.source!, destination: m.destination, readonly: (m.options ?? []).includes('ro') }));
}

export function userOf(spec: CtrContainerInfo['Spec']): string | undefined {
  const u = spec.process.user;
  if (!u) return undefined;
  if (u.username) return u.username;
  return u.uid === 0 && u.gid === 0 ? undefined : `${u.uid}:${u.gid}`;
}

/** Does a workload match one of the --only names (pod/container, container name, id or id prefix)? */
export function matchesOnly(w: Pick<Workload, 'id' | 'name'>, only: string[]): boolean {
  if (only.length === 0) return true;
  return only.some((o) => o === w.name || w.name.endsWith(`/${o}`) || (o.length >= 6 && w.id.startsWith(o)));
}

/**
 * Step 1: every running container of the namespace — CRI pods' containers (their original
 * CRI configs, from the runtime's verbose status) and plain containerd containers made with
 * ctr or nerdctl (their OCI spec).
 */
export async function inventory(source: Containerd, cri: CriClient | null, only: string[] = []): Promise<Workload[]> {
  const tasks = await source.tasks();
  const out: Workload[] = [];
  const seen = new Set<string>();
  if (cri) {
    const sandboxes = new Map<string, PodSandboxConfig>();
    for (const c of await cri.listContainers()) {
      if (c.state !== 'CONTAINER_RUNNING') continue;
      const status = await cri.containerStatus(c.id);
      const info = JSON.parse(status.info.info ?? '{}') as { config?: unknown; snapshotKey?: string; snapshotter?: string; runtimeSpec?: CtrContainerInfo['Spec'] };
      if (!sandboxes.has(c.podSandboxId)) {
        const sb = await cri.podSandboxStatus(c.podSandboxId);
        const sbInfo = JSON.parse(sb.info.info ?? '{}') as { config?: unknown };
        sandboxes.set(c.podSandboxId, camelize(sbInfo.config ?? {}) as PodSandboxConfig);
      }
      const sandbox = sandboxes.get(c.podSandboxId)!;
      const container = camelize(info.config ?? {}) as ContainerConfig;
      const ctrInfo = await source.info(c.id);
      const spec = info.runtimeSpec ?? ctrInfo.Spec;
      seen.add(c.id);
      out.push({
        id: c.id,
        name: `${sandbox.metadata?.namespace ?? 'default'}/${sandbox.metadata?.name ?? c.podSandboxId.slice(0, 12)}/${c.metadata.name}`,
        kind: 'cri',
        image: ctrInfo.Image || c.image?.image || '',
        snapshotKey: info.snapshotKey ?? ctrInfo.SnapshotKey,
        snapshotter: info.snapshotter ?? ctrInfo.Snapshotter,
        process: { args: spec.process.args, env: spec.process.env ?? [], cwd: spec.process.cwd ?? '/', user: userOf(spec) },
        mounts: (container.mounts ?? []).map((m) => ({ source: m.hostPath, destination: m.containerPath, readonly: !!m.readonly })),
        labels: { ...(container.labels ?? {}) },
        hostNetwork: sandbox.linux?.securityContext?.namespaceOptions?.network === 'NODE',
        task: tasks.get(c.id)?.status === 'PAUSED' ? 'PAUSED' : 'RUNNING',
        cri: { podSandboxId: c.podSandboxId, sandbox, container },
      });
    }
  }
  for (const id of await source.containerIds()) {
    if (seen.has(id)) continue;
    const t = tasks.get(id);
    if (!t || (t.status !== 'RUNNING' && t.status !== 'PAUSED')) continue;
    const info = await source.info(id);
    if (info.Labels?.['io.cri-containerd.kind']) continue; // a CRI sandbox, or a CRI container the CRI did not list as running
    out.push({
      id,
      name: id,
      kind: 'plain',
      image: info.Image,
      snapshotKey: info.SnapshotKey,
      snapshotter: info.Snapshotter,
      process: { args: info.Spec.process.args, env: info.Spec.process.env ?? [], cwd: info.Spec.process.cwd ?? '/', user: userOf(info.Spec) },
      mounts: bindMounts(info.Spec),
      labels: { ...(info.Labels ?? {}) },
      hostNetwork: !(info.Spec.linux?.namespaces ?? []).some((n) => n.type === 'network'),
      task: t.status === 'PAUSED' ? 'PAUSED' : 'RUNNING',
    });
  }
  const chosen = out.filter((w) => matchesOnly(w, only));
  const missing = only.filter((o) => !out.some((w) => matchesOnly(w, [o])));
  if (missing.length) throw new RuntimeError('USAGE', `--only ${missing.join(', ')}: no running container has that name; \`infravisor runtime plan\` lists them`, { exitCode: 2 });
  for (const w of chosen) if (!w.image) throw new RuntimeError('SOURCE', `container ${w.name} has no image recorded; it cannot be rebuilt from a base image`);
  return chosen;
}
