import { call, libc } from '../util/libc.js';

/**
 * sd_notify(3) through ffi-rs: Node cannot send Unix datagrams, systemd's notification
 * protocol needs them. READY=1, STATUS=…, WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET
 * (a path, or an abstract name starting with '@').
 */
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

export function sockaddrUn(path: string): Buffer {
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (name.length > 107) throw new Error(`NOTIFY_SOCKET path too long: ${path}`);
  const addr = Buffer.alloc(2 + name.length + (path.startsWith('@') ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return addr;
}

export class SdNotify {
  private fd = -1;
  private readonly addr: Buffer;

  private constructor(readonly socketPath: string) {
    this.addr = sockaddrUn(socketPath);
  }

  /** A notifier when the agent runs under systemd (NOTIFY_SOCKET is set), else null. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SdNotify | null {
    const path = env.NOTIFY_SOCKET;
    return path ? new SdNotify(path) : null;
  }

  /** Half of WatchdogSec, when systemd asks this process for watchdog pings. */
  static watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
    const usec = Number(env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return null;
    if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
    return Math.max(100, Math.floor(usec / 2000));
  }

  /** Sends one notification ("READY=1", "STATUS=…", several separated by newlines). */
  send(state: string): void {
    const { DataType: T } = libc();
    if (this.fd < 0) {
      const s = call('socket', T.I32, [T.I32, T.I32, T.I32], [AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0]);
      if (s.value < 0) throw new Error(`socket(AF_UNIX): ${s.errnoMessage}`);
      this.fd = s.value;
    }
    const msg = Buffer.from(state);
    const r = call('sendto', T.I64, [T.I32, T.U8Array, T.I64, T.I32, T.U8Array, T.I32], [this.fd, msg, msg.length, MSG_NOSIGNAL, this.addr, this.addr.length]);
    if (r.value < 0) throw new Error(`sd_notify to ${this.socketPath}: ${r.errnoMessage}`);
  }

  close(): void {
    if (this.fd >= 0) {
      const { DataType: T } = libc();
      call('close', T.I32, [T.I32], [this.fd]);
      this.fd = -1;
    }
  }
}
