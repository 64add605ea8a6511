import { z } from 'zod';
import { parseJsonBounded } from '../../util/json.js';

/**
 * The lab's control channel into an emulated VM host: one virtio-serial port (named
 * CHANNEL_NAME) between the lab controller and the guest's helper, carrying JSON lines.
 * Every request has an id; its answer carries the same id. Both ends check and size-limit
 * what they read: a line longer than MAX_LINE_BYTES is dropped whole.
 *
 * The channel is not the lab network: pulling a VM's cable leaves it working, as a serial
 * console on a real Pi would.
 */
export const CHANNEL_NAME = 'infravisor.lab';
export const MAX_LINE_BYTES = 1 << 20;

/** Where things are inside the guest (the lab writes the config; agent/guest/rc sets up the rest). */
export const GUEST = {
  app: '/opt/infravisor',
  configDir: '/etc/infravisor',
  config: '/etc/infravisor/infravisor.yaml',
  env: '/etc/infravisor/guest.env',
  stateDir: '/var/lib/infravisor',
  socket: '/run/infravisor/agent.sock',
  pidFile: '/run/infravisor/agent.pid',
  log: '/var/log/infravisor/agent.log',
} as const;

const id = z.number().int().nonnegative();
export const RequestSchema = z.discriminatedUnion('op', [
  z.object({ id, op: z.literal('status') }),
  z.object({ id, op: z.literal('start'), waitMs: z.number().int().positive().max(600_000) }),
  z.object({ id, op: z.literal('kill') }),
  z.object({ id, op: z.literal('exec'), argv: z.array(z.string().max(4096)).min(1).max(256), timeoutMs: z.number().int().positive().max(600_000) }),
  z.object({ id, op: z.literal('log'), lines: z.number().int().positive().max(1000) }),
]);
export type Request = z.infer<typeof RequestSchema>;
export type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export const ResponseSchema = z.union([
  z.object({ id, ok: z.literal(true), result: z.unknown() }),
  z.object({ id, ok: z.literal(false), error: z.string(), code: z.string().optional() }),
]);
export type Response = z.infer<typeof ResponseSchema>;

/** What `status` answers: the agent's own /status document when it answers. */
export interface GuestStatus {
  running: boolean;
  pid: number | null;
  ccpRunning: boolean;
  view: unknown;
  uptimeS: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Splits a byte stream into lines. A line over the limit is dropped whole (with a count of
 * drops), so a corrupt or hostile peer cannot make the reader buffer without bound.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;
  dropped = 0;

  constructor(private readonly limit = MAX_LINE_BYTES) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.append(chunk.subarray(start, nl));
      if (!this.discarding) lines.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.size = 0;
      this.discarding = false;
      start = nl + 1;
    }
    this.append(chunk.subarray(start));
    return lines;
  }

  private append(b: Buffer): void {
    if (this.discarding || b.length === 0) return;
    if (this.size + b.length > this.limit) {
      this.discarding = true;
      this.dropped++;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(Buffer.from(b));
    this.size += b.length;
  }
}

/** Parses one line as JSON checked by `schema`; null for anything else. */
export function parseLine<T>(line: string, schema: z.ZodType<T>): T | null {
  const j = parseJsonBounded(Buffer.from(line), MAX_LINE_BYTES);
  if (!j.ok) return null;
  const r = schema.safeParse(j.value);
  return r.success ? r.data : null;
}
