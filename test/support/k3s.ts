import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { resolve } from 'node:path';

/** The k3s the suites run: the stand-in fixture, or a real binary given in K3S_BIN. */
export const K3S_BIN = process.env.K3S_BIN ?? resolve('test/fixtures/k3s-standin/k3s');
export const REAL_K3S = Boolean(process.env.K3S_BIN);

export interface NodeInfo {
  name: string;
  ready: boolean;
}

/** The nodes registered with a server: the stand-in's API, or kubectl for a real k3s. */
export function nodesOf(endpoint: string, token: string, kubeconfig?: string): Promise<NodeInfo[]> {
  if (REAL_K3S) {
    const out = execFileSync(K3S_BIN, ['kubectl', 'get', 'nodes', '-o', 'json', ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])], { encoding: 'utf8' });
    const list = JSON.parse(out) as { items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[] };
    return Promise.resolve(list.items.map((n) => ({ name: n.metadata.name, ready: n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') })));
  }
  return new Promise((res, rej) => {
    const req = request(new URL('/api/v1/nodes', endpoint), { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (r) => {
      let b = '';
      r.on('data', (c: Buffer) => (b += c.toString()));
      r.on('end', () => {
        try {
          res((JSON.parse(b) as { items: NodeInfo[] }).items);
        } catch (err) {
          rej(err);
        }
      });
    });
    req.on('error', rej);
    req.end();
  });
}
