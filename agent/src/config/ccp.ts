import { isIP } from 'node:net';
import { z } from 'zod';

/** The packaged k3s components `disable:` may name. */
export const K3S_COMPONENTS = ['coredns', 'servicelb', 'traefik', 'local-storage', 'metrics-server', 'runtimes'] as const;

/**
 * The CCP configuration: cluster-wide settings of the control plane, the same on every host
 * (the primary replicates it with the cluster configuration). Host-local paths live in the
 * agent's own config (`ccp:` there). See docs/ccp.md.
 */
const label = z.string().regex(/^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*$/, 'must be key=value');
const taint = z.string().regex(/^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$/, 'must be key[=value]:NoSchedule|PreferNoSchedule|NoExecute');

export const ManifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,100}$/, 'must be a file-name-safe name: a-z 0-9 . -'),
  content: z.string().max(1024 * 1024),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const CcpConfigSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** Raise it when you change this file: the primary replicates the highest revision. */
  revision: z.number().int().min(0).default(1),
  k3s: z
    .strictObject({
      /** Packaged components the server does not deploy. */
      disable: z.array(z.enum(K3S_COMPONENTS)).default(['traefik', 'servicelb']),
      nodeLabels: z.array(label).default([]),
      nodeTaints: z.array(taint).default([]),
      /** The interface flannel uses between nodes (default: k3s's choice). */
      flannelIface: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/).optional(),
      /** A CRI socket instead of k3s's embedded containerd (CRI-O: /var/run/crio/crio.sock). */
      containerRuntimeEndpoint: z.string().min(1).optional(),
      /** Further k3s server keys, checked against the keys k3s accepts. */
      server: z.record(z.string(), z.unknown()).default({}),
      /** Further k3s agent keys, likewise. */
      agent: z.record(z.string(), z.unknown()).default({}),
    })
    .default({ disable: ['traefik', 'servicelb'], nodeLabels: [], nodeTaints: [], server: {}, agent: {} }),
  /**
   * The cluster's virtual address (IPv4, on the hosts' own subnet, held by no host of its own):
   * the CCP host of each side holds it and announces it by gratuitous ARP, and every k3s agent
   * uses it as its server, so a member follows a new CCP without restarting anything
   * (docs/ccp.md, "The cluster's virtual address"). Without it, each member re-points its k3s
   * agent at the new CCP host's own address, which restarts the agent.
   */
  vip: z.strictObject({ address: z.string().refine((s) => isIP(s) === 4, 'must be an IPv4 address (ARP announces it)') }).optional(),
  /** The desired workloads: files placed in k3s's auto-deploy manifests directory. */
  manifests: z.array(ManifestSchema).max(256).default([]),
});
export type CcpConfig = z.output<typeof CcpConfigSchema>;

/** Host-local CCP settings, from the agent's config. */
export const CcpHostSchema = z
  .strictObject({
    bin: z.string().min(1).default('/usr/local/bin/k3s'),
    configRoot: z.string().min(1).default('/etc/rancher/k3s'),
    dataDir: z.string().min(1).default('/var/lib/rancher/k3s'),
    /** The API server port (k3s https-listen-port). */
    port: z.number().int().min(1).max(65535).default(6443),
    /** How the k3s processes are run: systemd units on a real host, infravisor's own supervisor in the lab. */
    service: z.enum(['systemd', 'supervisor']).default('systemd'),
    /** Where a losing CCP's data directory is moved on a merge. */
    archiveDir: z.string().min(1).default('/var/lib/infravisor/ccp-archive'),
  })
  .default({ bin: '/usr/local/bin/k3s', configRoot: '/etc/rancher/k3s', dataDir: '/var/lib/rancher/k3s', port: 6443, service: 'systemd', archiveDir: '/var/lib/infravisor/ccp-archive' });
export type CcpHost = z.output<typeof CcpHostSchema>;
