import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, normalize } from 'node:path';

/** Static files of the page: the directory, and the ES modules it imports by bare name. */
export interface UiFiles {
  dir: string;
  vendor: Record<string, string>;
}

export const tokenHash = (s: string) => createHash('sha256').update(s).digest();

/** The token, as `Authorization: Bearer`, `?token=` or the cookie the page sets; compared in constant time. */
export function authorised(req: IncomingMessage, url: URL, hash: Buffer | null): boolean {
  if (!hash) return false;
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const cookie = /(?:^|;\s*)ivr_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  const given = bearer ?? url.searchParams.get('token') ?? (cookie ? decodeURIComponent(cookie) : null);
  return given !== null && timingSafeEqual(tokenHash(given), hash);
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png' };

/** GET / and /ui/FILE: the page. The token of the URL becomes a cookie for the page's own requests. */
export function serveUi(res: ServerResponse, ui: UiFiles | null, url: URL, setCookie: boolean): void {
  const plain = (code: number, body: string) => {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(body);
  };
  if (!ui) return plain(404, 'the web view is not installed with this agent\n');
  const rel = url.pathname === '/' ? 'index.html' : url.pathname.slice('/ui/'.length);
  const vendor = rel.startsWith('vendor/') ? ui.vendor[rel.slice('vendor/'.length)] : undefined;
  const file = vendor ?? join(ui.dir, normalize(rel).replace(/^(\.\.[/\\])+/, ''));
  if (!vendor && !file.startsWith(ui.dir)) return plain(404, 'not found\n');
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch {
    return plain(404, 'not found\n');
  }
  const headers: Record<string, string> = { 'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-cache' };
  const token = url.searchParams.get('token');
  if (setCookie && token) headers['set-cookie'] = `ivr_token=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
  res.writeHead(200, headers);
  res.end(body);
}
