import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CcpNode } from '../driver.js';

/** A node list larger than this is refused (real Node objects are kilobytes each; a Pi cluster has tens). */
const MAX_BODY = 8 * 1024 * 1024;

const KubeconfigSchema = z.object({
  users: z
    .array(z.object({ user: z.object({ token: z.string().optional(), 'client-certificate-data': z.string().optional(), 'client-key-data': z.string().optional() }) }))
    .min(1),
});

const NodeListSchema = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string().max(253) }),
      status: z.object({ conditions: z.array(z.object({ type: z.string(), status: z.string() })).default([]) }).default({ conditions: [] }),
    }),
  ),
});

/** The credentials of the admin kubeconfig k3s writes: a client certificate (k3s) or a token. */
export function kubeconfigCredentials(text: string): { token?: string; cert?: Buffer; key?: Buffer } {
  const user = KubeconfigSchema.parse(parse(text)).users[0]!.user;
  if (user['client-certificate-data'] && user['client-key-data']) return { cert: Buffer.from(user['client-certificate-data'], 'base64'), key: Buffer.from(user['client-key-data'], 'base64') };
  if (user.token) return { token: user.token };
  throw new Error('the kubeconfig has neither a client certificate nor a token');
}

/** The node list of a Kubernetes API: each node's name and whether its Ready condition is True. */
export function parseNodeList(body: string): CcpNode[] {
  return NodeListSchema.parse(JSON.parse(body)).items.map((n) => ({ name: n.metadata.name, ready: n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') }));
}

/**
 * GET /api/v1/nodes at `endpoint` with the kubeconfig's credentials, the server checked against
 * the cluster CA. node:https, not fetch(): see util/node-flags.ts.
 */
export async function listNodes(endpoint: string, o: { kubeconfig: string; caFile: string; timeoutMs?: number }): Promise<CcpNode[]> {
  // async: a missing or bad kubeconfig is a rejection, never a throw out of the probe.
  const creds = kubeconfigCredentials(readFileSync(o.kubeconfig, 'utf8'));
  const ca = readFileSync(o.caFile);
  const timeout = o.timeoutMs ?? 900;
  return new Promise((resolve, reject) => {
    const req = request(new URL('/api/v1/nodes', endpoint), { method: 'GET', timeout, ca, cert: creds.cert, key: creds.key, headers: { accept: 'application/json', ...(creds.token ? { authorization: `Bearer ${creds.token}` } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`the node list is larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET /api/v1/nodes answered ${res.statusCode}`));
        try {
          resolve(parseNodeList(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', reject);
    req.end();
  });
}
