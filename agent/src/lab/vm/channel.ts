import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { LabError } from '../../util/errors.js';
import { LineReader, ResponseSchema, parseLine, type RequestBody } from '../guest/protocol.js';

/**
 * The controller's end of a VM's control channel (agent/src/lab/guest/protocol.ts): QEMU
 * serves the virtio-serial port on a Unix socket, one connection at a time; callers queue.
 */
export function callGuest<T>(socket: string, host: string, body: RequestBody, timeoutMs: number): Promise<T> {
  const id = randomInt(1, 2 ** 31);
  return new Promise<T>((resolve, reject) => {
    const conn = connect(socket);
    const reader = new LineReader();
    const done = (err: Error | null, value?: T) => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => done(new LabError(`the guest of ${host} did not answer ${body.op} within ${timeoutMs} ms (console: infravisor lab status; the VM may still be booting)`, 'LAB_GUEST')), timeoutMs);
    conn.on('error', (e) => done(new LabError(`cannot reach the guest of ${host} (${socket}): ${e.message}`, 'LAB_GUEST')));
    conn.on('connect', () => conn.write(JSON.stringify({ id, ...body }) + '\n'));
    conn.on('data', (chunk: Buffer) => {
      for (const line of reader.push(chunk)) {
        const r = parseLine(line, ResponseSchema);
        if (!r || r.id !== id) continue; // an answer meant for an earlier caller
        if (r.ok) done(null, r.result as T);
        else done(new LabError(`${host}: ${r.error}`, r.code ?? 'LAB_GUEST'));
      }
    });
  });
}
