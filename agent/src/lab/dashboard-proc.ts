import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/atomic-file.js';
import { CLI_PATH } from '../util/paths.js';
import { AGENT_NODE_FLAGS } from '../util/node-flags.js';
import { isSameProcess, procIdentity } from '../util/proc.js';
import { LabError } from '../util/errors.js';
import type { LabRecord } from './record.js';

/** The lab's dashboard URLs, with its token (lab up prints the page; lab status --json carries both). */
export function dashboardUrls(rec: LabRecord): { page: string; metrics: (host: string) => string } | null {
  if (!rec.dashboard) return null;
  let token: string;
  try {
    token = readFileSync(join(rec.dir, 'dashboard.token'), 'utf8').trim();
  } catch {
    return null;
  }
  const base = `http://127.0.0.1:${rec.dashboard.port}`;
  return { page: `${base}/?token=${token}`, metrics: (h) => `${base}/hosts/${h}/metrics?token=${token}` };
}

/** Starts the dashboard process of a lab (detached, like the agents) and waits for its port. */
export async function startDashboard(rec: LabRecord): Promise<NonNullable<LabRecord['dashboard']>> {
  const tokenFile = join(rec.dir, 'dashboard.token');
  const portFile = join(rec.dir, 'dashboard.port');
  writeFileAtomic(tokenFile, randomBytes(18).toString('base64url') + '\n', 0o600);
  const log = openSync(join(rec.dir, 'dashboard.log'), 'a', 0o600);
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, CLI_PATH, 'lab', 'dashboard', '--name', rec.name, '--port-file', portFile, '--token-file', tokenFile], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const proc = child.pid ? procIdentity(child.pid) : null;
  if (!proc) throw new LabError(`the lab dashboard did not start; see ${join(rec.dir, 'dashboard.log')}`);
  for (let i = 0; i < 300; i++) {
    if (existsSync(portFile)) return { proc, port: Number(readFileSync(portFile, 'utf8').trim()) };
    if (!isSameProcess(proc)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new LabError(`the lab dashboard did not listen within 15 s; see ${join(rec.dir, 'dashboard.log')}`);
}

/** Ends a lab's dashboard process (only the one it recorded). */
export async function stopDashboard(rec: LabRecord): Promise<void> {
  const p = rec.dashboard?.proc;
  if (!p || !isSameProcess(p)) return;
  process.kill(p.pid, 'SIGTERM');
  for (let i = 0; i < 100 && isSameProcess(p); i++) await new Promise((r) => setTimeout(r, 20));
  if (isSameProcess(p)) process.kill(p.pid, 'SIGKILL');
}
