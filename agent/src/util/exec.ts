import { execFile, spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} failed${code === null ? '' : ` (exit ${code})`}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Runs a program (no shell), optionally feeding stdin; resolves with stdout. */
export function run(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error('empty command'));
    if (opts.input !== undefined) {
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000 });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', (e) => reject(new CommandError(argv, null, e.message)));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new CommandError(argv, code, err))));
      child.stdin.end(opts.input);
      return;
    }
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new CommandError(argv, typeof error.code === 'number' ? error.code : null, stderr || error.message));
      else resolve(stdout);
    });
  });
}

/** Like run(), but resolves false instead of rejecting. */
export async function tryRun(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<boolean> {
  try {
    await run(argv, opts);
    return true;
  } catch {
    return false;
  }
}
