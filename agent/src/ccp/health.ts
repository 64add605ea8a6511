import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface Health {
  ready: boolean;
  /** The endpoint answered at all (TLS and HTTP), whatever its readiness. */
  reachable: boolean;
  status: number | null;
  detail: string;
  ms: number;
}

/**
 * The CCP's readiness: GET /readyz on the API endpoint over HTTPS, verified with the cluster
 * CA when its file is at hand (the CCP host's server-ca.crt), else without verification.
 * (Followers only check that the port answers: a TCP probe, see ccp/controller.ts.)
 * node:https, not fetch(): see daemon/node-flags.ts.
 */
export function probeReady(endpoint: string, opts: { caFile?: string; timeoutMs?: number } = {}): Promise<Health> {
  const t0 = Date.now();
  const ca = opts.caFile && existsSync(opts.caFile) ? readFileSync(opts.caFile) : undefined;
  const url = new URL('/readyz', endpoint);
  return new Promise((resolve) => {
    const done = (h: Omit<Health, 'ms'>) => resolve({ ...h, ms: Date.now() - t0 });
    const req = request(url, { method: 'GET', timeout: opts.timeoutMs ?? 900, ...(ca ? { ca } : { rejectUnauthorized: false }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body.length < 512 ? (body += c) : undefined));
      res.on('end', () => done({ ready: res.statusCode === 200, reachable: true, status: res.statusCode ?? null, detail: body.trim().slice(0, 200) }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 900} ms`)));
    req.on('error', (err) => done({ ready: false, reachable: false, status: null, detail: err.message }));
    req.end();
  });
}
