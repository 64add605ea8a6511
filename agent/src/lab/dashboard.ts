import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileAtomic } from '../state/atomic-file.js';
import { uiFiles } from '../daemon/ui-files.js';
import type { BoardEvent } from '../observe/board.js';
import { authorised, serveUi, tokenHash } from '../status/http.js';
import { SseHub } from '../status/sse.js';
import { errorMessage } from '../util/errors.js';
import { labBoard } from './board.js';
import * as lab from './lab.js';
import { loadRecord } from './record.js';

/**
 * The lab's page (`infravisor lab dashboard`, started by `lab up`, ended by `lab down`): every
 * host and the clusters, pushed to the browser by server-sent events; buttons that do what `lab
 * cut | restore | kill | start | heal` do; each agent's /metrics proxied from its Unix socket.
 * Every request needs the lab's token. It follows the agents' own event streams (over their
 * sockets) and reads the lab's status again when one of them says something changed, and every
 * 2 s (a pulled cable, a killed agent).
 */
const ACTIONS = { cut: lab.cut, restore: lab.restore, kill: lab.kill, start: lab.start } as const;

export async function serveDashboard(name: string, portFile: string, token: string): Promise<void> {
  const hub = new SseHub();
  const ui = uiFiles();
  const hash = tokenHash(token);
  const events: BoardEvent[] = [];
  let model = '';
  let pending: NodeJS.Timeout | null = null;
  const refresh = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      void lab
        .status(name)
        .then((st) => {
          const m = JSON.stringify(labBoard(st));
          if (m !== model) {
            model = m;
            hub.send('model', { ...JSON.parse(m), events: [] });
          }
        })
        .catch(() => undefined);
    }, 100);
  };
  const follow = (host: string, socket: string) => {
    const req = request({ socketPath: socket, path: '/events' }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (ev === 'event' && data) {
            const e = JSON.parse(data) as BoardEvent;
            events.unshift(e);
            events.splice(200);
            hub.send('event', e);
          }
          if (ev) refresh();
        }
      });
      res.on('end', () => setTimeout(() => follow(host, socket), 1000).unref());
    });
    req.on('error', () => setTimeout(() => follow(host, socket), 1000).unref());
    req.end();
  };
  for (const h of loadRecord(name).hosts) follow(h.name, h.socket);
  setInterval(refresh, 2000).unref();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://lab');
    if (!authorised(req, url, hash)) return text(res, 401, 'the lab dashboard needs its token: use the URL lab up printed (lab status --json: dashboard)\n');
    const [, first, second, third] = url.pathname.split('/');
    if (req.method === 'POST' && first === 'api') {
      const body = await readBody(req);
      try {
        if (second === 'heal') await lab.heal(name);
        else if (second && second in ACTIONS) await ACTIONS[second as keyof typeof ACTIONS](name, String((JSON.parse(body || '{}') as { host?: unknown }).host));
        else return text(res, 404, 'actions: cut, restore, kill, start (with {"host": NAME}), heal\n');
      } catch (err) {
        return text(res, 400, `${errorMessage(err)}\n`);
      }
      refresh();
      return text(res, 200, 'ok\n');
    }
    if (req.method !== 'GET') return text(res, 405, 'GET, or POST /api/ACTION\n');
    if (url.pathname === '/events') {
      const st = await lab.status(name);
      return hub.open(res, [{ event: 'model', data: { ...labBoard(st), events } }]);
    }
    if (url.pathname === '/status') return text(res, 200, JSON.stringify(await lab.status(name)), 'application/json');
    if (first === 'hosts' && third === 'metrics') {
      const h = loadRecord(name).hosts.find((x) => x.name === second);
      if (!h) return text(res, 404, `no host ${second} in lab ${name}\n`);
      return proxy(h.socket, '/metrics', res);
    }
    if (url.pathname === '/' || url.pathname.startsWith('/ui/')) return serveUi(res, ui, url, true);
    return text(res, 404, 'not found\n');
  };
  const server = createServer((req, res) => void handle(req, res).catch((err) => text(res, 500, `${errorMessage(err)}\n`)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  writeFileAtomic(portFile, `${(server.address() as AddressInfo).port}\n`, 0o644);
  const stop = () => {
    hub.close();
    server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function proxy(socket: string, path: string, res: ServerResponse): void {
  const req = request({ socketPath: socket, path, timeout: 3000 }, (up) => {
    res.writeHead(up.statusCode ?? 502, { 'content-type': up.headers['content-type'] ?? 'text/plain' });
    up.pipe(res);
  });
  req.on('error', (err) => text(res, 502, `the agent does not answer: ${err.message}\n`));
  req.end();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s.length < 4096 ? (s += c) : undefined));
    req.on('end', () => resolve(s));
  });
}

function text(res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { 'content-type': type });
  res.end(body);
}
