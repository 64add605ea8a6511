import { Duplex } from 'node:stream';

/**
 * MQTT framing, checked before aedes buffers anything: every packet's fixed header is read as
 * it streams by and its announced length compared with a limit (the first packet must be a
 * CONNECT of at most `connectMax` bytes, every later one at most `packetMax`); a packet left
 * incomplete for `partialTimeoutMs` (a slow drip, or a half-sent body) ends the connection. The
 * bytes themselves go through unchanged. aedes reads and writes this stream as it would the
 * socket.
 */
export interface FrameLimits {
  connectMax: number;
  packetMax: number;
  partialTimeoutMs: number;
}

export type FrameViolation = 'not-connect' | 'connect-too-large' | 'packet-too-large' | 'bad-length' | 'partial-timeout';

/** The framing state machine, pure: feed it bytes, it says whether they may pass. */
export class FrameScanner {
  private header: number[] = [];
  private remaining = 0;
  private packets = 0;

  constructor(private readonly limits: Pick<FrameLimits, 'connectMax' | 'packetMax'>) {}

  /** True while a packet is incomplete. */
  get partial(): boolean {
    return this.remaining > 0 || this.header.length > 0;
  }

  /** Scans `chunk`; returns a violation, or null when it may pass. */
  feed(chunk: Buffer): FrameViolation | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.remaining -= n;
        i += n;
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length === 1) {
        if (this.packets === 0 && this.header[0]! >> 4 !== 1) return 'not-connect';
        continue;
      }
      // Remaining length: 1-4 bytes, 7 bits each, high bit = more.
      const lenBytes = this.header.slice(1);
      if (lenBytes.at(-1)! & 0x80) {
        if (lenBytes.length >= 4) return 'bad-length';
        continue;
      }
      let len = 0;
      for (let k = lenBytes.length - 1; k >= 0; k--) len = len * 128 + (lenBytes[k]! & 0x7f);
      const max = this.packets === 0 ? this.limits.connectMax : this.limits.packetMax;
      if (len > max) return this.packets === 0 ? 'connect-too-large' : 'packet-too-large';
      this.packets++;
      this.header = [];
      this.remaining = len;
    }
    return null;
  }
}

export class FrameGuard extends Duplex {
  private readonly scanner: FrameScanner;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly socket: Duplex, private readonly limits: FrameLimits, private readonly onViolation: (v: FrameViolation) => void) {
    super({ allowHalfOpen: false });
    this.scanner = new FrameScanner(limits);
    socket.on('data', (chunk: Buffer) => {
      const v = this.scanner.feed(chunk);
      if (v) return this.violate(v);
      this.armTimer();
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  private armTimer(): void {
    if (this.scanner.partial && !this.timer) {
      this.timer = setTimeout(() => this.violate('partial-timeout'), this.limits.partialTimeoutMs);
      this.timer.unref();
    } else if (!this.scanner.partial && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private violate(v: FrameViolation): void {
    this.onViolation(v);
    this.socket.destroy();
    this.destroy();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, enc, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
    cb(err);
  }
}
