import { connect } from 'node:net';
import { LabError } from '../../util/errors.js';
import { LineReader } from '../guest/protocol.js';

/**
 * One command over QEMU's machine protocol (QMP, JSON lines on a Unix socket): read the
 * greeting, negotiate capabilities, run the command, return its `return` value. Events that
 * arrive in between are skipped.
 */
export function qmp(socket: string, execute: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    const reader = new LineReader(64 * 1024);
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const done = (err: Error | null, value?: unknown) => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => done(new LabError(`QEMU did not answer ${execute} within ${timeoutMs} ms on ${socket}`, 'LAB_QMP')), timeoutMs);
    conn.on('error', (e) => done(new LabError(`cannot reach QEMU's monitor ${socket}: ${e.message}`, 'LAB_QMP')));
    conn.on('data', (chunk: Buffer) => {
      for (const line of reader.push(chunk)) {
        let msg: { QMP?: unknown; return?: unknown; error?: { class?: string; desc?: string }; event?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (msg.event) continue;
        if (msg.error) return done(new LabError(`QEMU refused ${execute}: ${msg.error.desc ?? msg.error.class}`, 'LAB_QMP'));
        if (stage === 'greeting' && msg.QMP) {
          stage = 'capabilities';
          conn.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (stage === 'capabilities' && 'return' in msg) {
          stage = 'command';
          conn.write(JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }) + '\n');
        } else if (stage === 'command' && 'return' in msg) {
          done(null, msg.return);
        }
      }
    });
  });
}
