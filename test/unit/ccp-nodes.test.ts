import { describe, expect, it } from 'vitest';
import { kubeconfigCredentials, listNodes, parseNodeList } from '../../agent/src/ccp/k3s/nodes.js';

/** Reading the CCP's node list (k3s's API, the stand-in's) and the admin kubeconfig's credentials. */
describe('parseNodeList', () => {
  const node = (name: string, conditions: { type: string; status: string }[]) => ({ metadata: { name, uid: 'x' }, status: { conditions } });
  it.each<[string, unknown, { name: string; ready: boolean }[]]>([
    ['Ready True', { items: [node('h1', [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }])] }, [{ name: 'h1', ready: true }]],
    ['Ready Unknown (no heartbeat)', { items: [node('h2', [{ type: 'Ready', status: 'Unknown' }])] }, [{ name: 'h2', ready: false }]],
    ['Ready False', { items: [node('h3', [{ type: 'Ready', status: 'False' }])] }, [{ name: 'h3', ready: false }]],
    ['no conditions yet (just registered)', { items: [{ metadata: { name: 'h4' } }] }, [{ name: 'h4', ready: false }]],
    ['an empty list', { kind: 'NodeList', items: [] }, []],
  ])('%s', (_n, list, want) => {
    expect(parseNodeList(JSON.stringify(list))).toEqual(want);
  });
  it.each([
    ['not JSON', '<html>'],
    ['no items', '{"kind":"Status","status":"Failure"}'],
    ['a node without a name', '{"items":[{"metadata":{}}]}'],
  ])('refuses %s', (_n, body) => {
    expect(() => parseNodeList(body)).toThrow();
  });
});

describe('kubeconfigCredentials', () => {
  const kc = (user: string) => `apiVersion: v1\nkind: Config\nusers:\n- name: default\n  user:\n${user}\n`;
  it('a client certificate (what k3s writes)', () => {
    const c = kubeconfigCredentials(kc(`    client-certificate-data: ${Buffer.from('CERT').toString('base64')}\n    client-key-data: ${Buffer.from('KEY').toString('base64')}`));
    expect(c.cert?.toString()).toBe('CERT');
    expect(c.key?.toString()).toBe('KEY');
    expect(c.token).toBeUndefined();
  });
  it('a token', () => {
    expect(kubeconfigCredentials(kc('    token: abc')).token).toBe('abc');
  });
  it('refuses a user with neither', () => {
    expect(() => kubeconfigCredentials(kc('    username: admin'))).toThrow(/neither a client certificate nor a token/);
  });
  it('refuses a kubeconfig without users', () => {
    expect(() => kubeconfigCredentials('apiVersion: v1\nkind: Config\n')).toThrow();
  });
});

describe('listNodes', () => {
  it('a missing kubeconfig is a rejection, not a throw (the probe that calls it must not end the process)', async () => {
    let p: Promise<unknown> | undefined;
    expect(() => (p = listNodes('https://127.0.0.1:9', { kubeconfig: '/nonexistent/k3s.yaml', caFile: '/nonexistent/ca.crt' }))).not.toThrow();
    await expect(p).rejects.toThrow(/ENOENT/);
  });
});
