import { spawn } from 'node:child_process';

/**
 * `hooks.onEvent`: a command run for every event, with the event as JSON on its stdin (like
 * keepalived's notify scripts). One at a time, each within its timeout (then SIGKILL to its
 * process group); at most
 * `queueMax` waiting, the oldest dropped beyond that: a slow hook never blocks the agent or grows
 * its memory.
 */
export class EventHook {
  private queue: string[] = [];
  private running = false;
  private stopped = false;
  dropped = 0;
  failed = 0;

  constructor(private readonly argv: string[], private readonly timeoutMs: number, private readonly onError: (msg: string) => void, private readonly queueMax = 32) {}

  push(event: unknown): void {
    if (this.stopped) return;
    this.queue.push(JSON.stringify(event));
    if (this.queue.length > this.queueMax) {
      this.queue.shift();
      this.dropped++;
    }
    void this.next();
  }

  private async next(): Promise<void> {
    if (this.running) return;
    const input = this.queue.shift();
    if (input === undefined) return;
    this.running = true;
    await new Promise<void>((resolve) => {
      const [cmd, ...args] = this.argv;
      // Its own process group, so that a timeout ends whatever it started too.
      const child = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, this.timeoutMs);
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
      child.stdin.on('error', () => undefined);
      child.on('error', (err) => {
        clearTimeout(timer);
        this.failed++;
        this.onError(`${cmd}: ${err.message}`);
        resolve();
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code !== 0) {
          this.failed++;
          this.onError(`${cmd} ${signal ? `was killed (${signal}, after ${this.timeoutMs} ms?)` : `exited ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`);
        }
        resolve();
      });
      child.stdin.end(input + '\n');
    });
    this.running = false;
    if (!this.stopped) void this.next();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
  }
}
