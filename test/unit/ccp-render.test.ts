import { describe, expect, it } from 'vitest';
import { CcpConfigSchema, CcpHostSchema } from '../../agent/src/config/ccp.js';
import { deriveK3sToken } from '../../agent/src/ccp/config.js';
import { CcpConfigError } from '../../agent/src/ccp/errors.js';
import { renderAgentFiles, renderInitScript, renderServerFiles, type ServerSpec } from '../../agent/src/ccp/k3s/render.js';
import { Secret } from '../../agent/src/config/secret.js';

const token = deriveK3sToken(new Secret('golden-test-cluster-secret'), 'home');
const local = CcpHostSchema.parse({});
const host = { name: 'pi1', addresses: ['192.168.1.11'] };
const systemd = { isActive: 'systemctl is-active --quiet k3s', restart: 'systemctl enable --quiet k3s && systemctl restart k3s', stopOther: 'systemctl disable --now --quiet k3s-agent 2>/dev/null || true' };

const variants: [string, unknown][] = [
  ['minimal', {}],
  [
    'full',
    {
      k3s: {
        disable: ['traefik', 'servicelb', 'metrics-server'],
        nodeLabels: ['topology.kubernetes.io/zone=shelf-1'],
        nodeTaints: ['dedicated=control:NoSchedule'],
        flannelIface: 'eth0',
        server: { 'cluster-cidr': '10.42.0.0/16', 'kube-apiserver-arg': ['max-requests-inflight=200'] },
        agent: { 'kubelet-arg': ['max-pods=60'] },
      },
      vip: { address: '192.168.1.250' },
      manifests: [
        { name: 'web', content: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n' },
        { name: 'sensors', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sensors\n' },
      ],
    },
  ],
  ['cri-o', { k3s: { containerRuntimeEndpoint: '/var/run/crio/crio.sock' } }],
];

const spec = (ccp: unknown, generation = 3): ServerSpec => ({ cluster: 'home', generation, host, ccp: CcpConfigSchema.parse(ccp), local, token });

describe('rendered CCP files (golden)', () => {
  it.each(variants)('server files and init script: %s', async (name, ccp) => {
    const files = renderServerFiles(spec(ccp));
    const text = files.map((f) => `==> ${f.path} (${f.mode.toString(8)})\n${f.content}`).join('\n');
    await expect(text).toMatchFileSnapshot(`../golden/ccp/server-${name}.txt`);
    await expect(renderInitScript(spec(ccp), systemd, 'GOLDEN')).toMatchFileSnapshot(`../golden/ccp/init-${name}.sh`);
    const token_ = files.find((f) => f.secret)!;
    expect(token_.mode).toBe(0o600);
    expect(files.filter((f) => f.content.includes(token))).toEqual([token_]);
  });

  it.each(variants)('agent files: %s', async (name, ccp) => {
    const files = renderAgentFiles({ cluster: 'home', host: { name: 'pi2', addresses: ['192.168.1.12'] }, serverUrl: 'https://192.168.1.11:6443', ccp: CcpConfigSchema.parse(ccp), local, token });
    await expect(files.map((f) => `==> ${f.path} (${f.mode.toString(8)})\n${f.content}`).join('\n')).toMatchFileSnapshot(`../golden/ccp/agent-${name}.txt`);
  });

  it('derives the same k3s token on every host from the cluster secret, and a different one per cluster', () => {
    expect(deriveK3sToken(new Secret('golden-test-cluster-secret'), 'home')).toBe(token);
    expect(deriveK3sToken(new Secret('golden-test-cluster-secret'), 'other')).not.toBe(token);
  });
});

describe('a CCP configuration k3s would reject or ignore is refused, naming the key', () => {
  it.each([
    ['a misspelt server key', { k3s: { server: { 'tls-sans': ['x'] } } }, 'tls-sans', /did you mean tls-san\?/],
    ['an agent-only list used for a server-only key', { k3s: { agent: { 'cluster-init': true } } }, 'cluster-init', /k3s agent has no such option/],
    ['a key infravisor manages', { k3s: { server: { 'data-dir': '/x' } } }, 'data-dir', /managed by infravisor/],
    ['the kubeconfig path, which infravisor reads', { k3s: { server: { 'write-kubeconfig': '/tmp/k.yaml' } } }, 'write-kubeconfig', /managed by infravisor/],
    ['a cluster address that is the host\'s own', { vip: { address: '192.168.1.11' } }, 'vip', /is the address of host pi1; choose a free address/],
  ])('%s', (_what, ccp, key, message) => {
    const run = () => {
      renderServerFiles(spec(ccp));
      renderAgentFiles({ cluster: 'home', host, serverUrl: 'https://1.2.3.4:6443', ccp: CcpConfigSchema.parse(ccp), local, token });
    };
    expect(run).toThrow(CcpConfigError);
    try {
      run();
    } catch (err) {
      expect((err as CcpConfigError).key).toBe(key);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('labels, taints and components are checked by the schema', () => {
    const r = CcpConfigSchema.safeParse({ k3s: { nodeLabels: ['no-equals'], nodeTaints: ['a=b:Sometimes'], disable: ['traefik', 'coffee'] } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['k3s.disable.1', 'k3s.nodeLabels.0', 'k3s.nodeTaints.0']);
  });

  it('a server URL that is not https://ADDRESS:PORT is refused', () => {
    expect(() => renderAgentFiles({ cluster: 'home', host, serverUrl: 'http://x', ccp: CcpConfigSchema.parse({}), local, token })).toThrow(/https:\/\/ADDRESS:PORT/);
  });
});

describe('restart backoff of a crashed CCP', () => {
  it.each([
    [0, 0, 100, 1],
    [1, 50, 200, 2],
    [3, 50, 800, 4],
    [9, 50, 5000, 10],
    [9, 10_000, 100, 1],
  ])('after %i failures and a run of %i ms: wait %i ms (failure %i)', async (failures, ran, delay, next) => {
    const { nextBackoff } = await import('../../agent/src/ccp/backoff.js');
    expect(nextBackoff(failures, ran)).toEqual({ delayMs: delay, failures: next });
  });
});

describe('infravisor ccp render', () => {
  it('writes the server files and script under --out, and refuses a bad key with exit 2 naming it', async () => {
    const { mkdtempSync, writeFileSync, existsSync, rmSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const d = mkdtempSync(join(tmpdir(), 'ivr-render-'));
    try {
      writeFileSync(join(d, 'cluster.yaml'), 'k3s:\n  flannelIface: eth0\n');
      writeFileSync(join(d, 'agent.yaml'), `cluster: home\nhost: {name: pi1, address: 192.168.1.11}\nsecret: a-long-enough-secret\ntls: {ca: /c, cert: /c, key: /k}\nstateDir: ${d}/state\nclusterConfig: ${d}/cluster.yaml\n`);
      const ok = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'ccp', 'render', '--role', 'server', '--config', join(d, 'agent.yaml'), '--out', join(d, 'out')], { encoding: 'utf8' });
      expect(ok.status).toBe(0);
      expect(existsSync(join(d, 'out/etc/rancher/k3s/config.yaml'))).toBe(true);
      expect(statSync(join(d, 'out/etc/rancher/k3s/infravisor-ccp-init.sh')).mode & 0o777).toBe(0o700);
      writeFileSync(join(d, 'cluster.yaml'), 'k3s:\n  server:\n    tls-sna: [x]\n');
      const bad = spawnSync(process.execPath, ['dist/agent/src/cli/main.js', 'ccp', 'render', '--role', 'server', '--config', join(d, 'agent.yaml'), '--out', join(d, 'out2')], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/k3s\.server\.tls-sna: .*did you mean tls-san\?/);
      expect(existsSync(join(d, 'out2'))).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
