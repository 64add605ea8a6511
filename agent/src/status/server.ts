import { createServer, request, type Server } from 'node:http';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { InfravisorError } from '../util/errors.js';

/**
 * This host's view, served as JSON over HTTP on a Unix socket (mode 0660): `GET /status`.
 * Unix sockets are not isolated by network namespaces, so the lab reads every emulated
 * host's agent through its socket path.
 */
export class StatusServer {
  private server: Server | null = null;

  constructor(private readonly path: string, private readonly snapshot: () => unknown) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    await this.clearStale();
    const server = createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/status' || req.url === '/')) {
        const body = JSON.stringify(this.snapshot());
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not found: use GET /status"}');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o660);
    this.server = server;
  }

  /** A socket file left by a crashed agent is removed; one another agent answers on is not. */
  private async clearStale(): Promise<void> {
    let st;
    try {
      st = lstatSync(this.path);
    } catch {
      return;
    }
    if (!st.isSocket()) throw new InfravisorError('STATUS_SOCKET', `${this.path} exists and is not a socket; remove it or set statusSocket elsewhere`);
    const alive = await fetchStatus(this.path, 500).then(
      () => true,
      () => false,
    );
    if (alive) throw new InfravisorError('STATUS_SOCKET', `another agent is already answering on ${this.path}; stop it first, or give this one its own stateDir`);
    unlinkSync(this.path);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }
}

/** Reads an agent's status over its socket. */
export function fetchStatus<T = unknown>(socketPath: string, timeoutMs = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status', method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
