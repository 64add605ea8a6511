import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { authorised, serveUi, tokenHash, type UiFiles } from './http.js';

export type { UiFiles };
import { InfravisorError } from '../util/errors.js';
import { SseHub } from './sse.js';

/** What the HTTP side of the agent serves, as ports. */
export interface StatusApp {
  /** The status document (GET /status). */
  status(): unknown;
  /** Prometheus text (GET /metrics). */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** What a new event stream starts with (GET /events): the page's model. */
  initial(): { event: string; data: unknown }[];
}

/**
 * This host's view over HTTP: on a Unix socket (mode 0660, always; the CLI and the lab read it:
 * sockets are not isolated by network namespaces) and, when enabled, on TCP for a browser (the
 * web view) or Prometheus, where every request needs the token — as `Authorization: Bearer`,
 * `?token=` or the cookie the page sets. Routes: GET /status, /metrics, /events (server-sent
 * events), / and /ui/ (the page).
 */
export class StatusServer {
  private servers: Server[] = [];
  readonly events = new SseHub();
  private readonly tokenHash: Buffer | null;

  constructor(
    private readonly o: { socket: string; tcp?: { address: string; port: number; token: string } | null; ui?: UiFiles | null },
    private readonly app: StatusApp,
  ) {
    this.tokenHash = o.tcp ? tokenHash(o.tcp.token) : null;
  }

  async start(): Promise<void> {
    mkdirSync(dirname(this.o.socket), { recursive: true });
    await this.clearStale();
    const unix = createServer((req, res) => void this.handle(req, res, false));
    await listen(unix, this.o.socket);
    chmodSync(this.o.socket, 0o660);
    this.servers.push(unix);
    if (this.o.tcp) {
      const tcp = createServer((req, res) => void this.handle(req, res, true));
      tcp.headersTimeout = 10_000;
      tcp.requestTimeout = 10_000;
      tcp.maxConnections = 32;
      await listen(tcp, { host: this.o.tcp.address, port: this.o.tcp.port });
      this.servers.push(tcp);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse, tcp: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method !== 'GET') return text(res, 405, 'only GET\n');
    if (tcp && !authorised(req, url, this.tokenHash)) return text(res, 401, 'a token is needed: the one in the agent\'s web.tokenFile, as ?token= or Authorization: Bearer\n');
    try {
      if (url.pathname === '/status') return json(res, this.app.status());
      if (url.pathname === '/metrics') {
        const m = await this.app.metrics();
        res.writeHead(200, { 'content-type': m.contentType });
        return void res.end(m.body);
      }
      if (url.pathname === '/events') return this.events.open(res, this.app.initial());
      if (url.pathname === '/' || url.pathname.startsWith('/ui/')) return serveUi(res, this.o.ui ?? null, url, tcp);
      return text(res, 404, 'not found: GET /status, /metrics, /events or /\n');
    } catch (err) {
      return text(res, 500, `${(err as Error).message}\n`);
    }
  }

  /** A socket file left by a crashed agent is removed; one another agent answers on is not. */
  private async clearStale(): Promise<void> {
    let st;
    try {
      st = lstatSync(this.o.socket);
    } catch {
      return;
    }
    if (!st.isSocket()) throw new InfravisorError('STATUS_SOCKET', `${this.o.socket} exists and is not a socket; remove it or set statusSocket elsewhere`);
    const alive = await fetchStatus(this.o.socket, 500).then(
      () => true,
      () => false,
    );
    if (alive) throw new InfravisorError('STATUS_SOCKET', `another agent is already answering on ${this.o.socket}; stop it first, or give this one its own stateDir`);
    unlinkSync(this.o.socket);
  }

  async stop(): Promise<void> {
    this.events.close();
    const servers = this.servers.splice(0);
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    try {
      if (servers.length) unlinkSync(this.o.socket);
    } catch {
      /* gone */
    }
  }
}

function listen(server: Server, where: string | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function json(res: ServerResponse, v: unknown): void {
  const body = JSON.stringify(v);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
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
