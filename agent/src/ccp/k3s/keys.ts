/**
 * The keys k3s accepts in its config file: its CLI flags without the leading "--"
 * (docs.k3s.io/cli/server and docs.k3s.io/cli/agent, k3s v1.30-v1.31; a server also accepts
 * every agent key). k3s itself silently skips unknown keys (since v1.21.7 / v1.22.4:
 * k3s-io/k3s#4481, PRs #4492, #4493), so a typo would be ignored without a trace: the renderer
 * checks every key against these lists and refuses the configuration instead.
 */
export const K3S_AGENT_KEYS: ReadonlySet<string> = new Set([
  // logging
  'debug', 'v', 'vmodule', 'log', 'alsologtostderr',
  // cluster
  'token', 'token-file', 'server',
  // listener, data
  'bind-address', 'data-dir',
  // node
  'node-name', 'with-node-id', 'node-label', 'node-taint', 'image-credential-provider-bin-dir', 'image-credential-provider-config',
  'protect-kernel-defaults', 'selinux', 'lb-server-port',
  // runtime
  'docker', 'container-runtime-endpoint', 'default-runtime', 'image-service-endpoint', 'disable-default-registry-endpoint',
  'nonroot-devices', 'pause-image', 'snapshotter', 'private-registry',
  // networking
  'node-ip', 'node-external-ip', 'node-internal-dns', 'node-external-dns', 'resolv-conf', 'flannel-iface', 'flannel-conf',
  'flannel-cni-conf', 'vpn-auth', 'vpn-auth-file',
  // customised flags
  'kubelet-arg', 'kube-proxy-arg',
  // experimental
  'rootless', 'prefer-bundled-bin', 'enable-pprof', 'airgap-extra-registry',
]);

export const K3S_SERVER_KEYS: ReadonlySet<string> = new Set([
  ...K3S_AGENT_KEYS,
  // listener
  'https-listen-port', 'supervisor-port', 'apiserver-port', 'apiserver-bind-address', 'advertise-address', 'advertise-port',
  'tls-san', 'tls-san-security',
  // networking
  'cluster-cidr', 'service-cidr', 'service-node-port-range', 'cluster-dns', 'cluster-domain', 'flannel-backend',
  'flannel-ipv6-masq', 'flannel-external-ip', 'egress-selector-mode', 'servicelb-namespace',
  // client
  'write-kubeconfig', 'write-kubeconfig-mode', 'write-kubeconfig-group',
  // cluster
  'agent-token', 'agent-token-file', 'cluster-init', 'cluster-reset', 'cluster-reset-restore-path', 'helm-job-image',
  // flags passed to components
  'etcd-arg', 'kube-apiserver-arg', 'kube-scheduler-arg', 'kube-controller-manager-arg', 'kube-cloud-controller-manager-arg',
  // database
  'datastore-endpoint', 'datastore-cafile', 'datastore-certfile', 'datastore-keyfile', 'etcd-expose-metrics',
  'etcd-disable-snapshots', 'etcd-snapshot-name', 'etcd-snapshot-schedule-cron', 'etcd-snapshot-retention',
  'etcd-snapshot-dir', 'etcd-snapshot-compress', 'etcd-s3', 'etcd-s3-endpoint', 'etcd-s3-endpoint-ca',
  'etcd-s3-skip-ssl-verify', 'etcd-s3-access-key', 'etcd-s3-secret-key', 'etcd-s3-bucket', 'etcd-s3-region',
  'etcd-s3-folder', 'etcd-s3-proxy', 'etcd-s3-config-secret', 'etcd-s3-insecure', 'etcd-s3-timeout',
  // storage, components
  'default-local-storage-path', 'disable', 'disable-scheduler', 'disable-cloud-controller', 'disable-kube-proxy',
  'disable-network-policy', 'disable-helm-controller', 'embedded-registry', 'supervisor-metrics',
  // security
  'secrets-encryption', 'secrets-encryption-provider', 'system-default-registry',
]);

/** The closest known key, for "did you mean …" (Levenshtein distance ≤ 3). */
export function suggestKey(key: string, known: ReadonlySet<string>): string | null {
  let best: string | null = null;
  let bestD = 4;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
