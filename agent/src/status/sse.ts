import type { ServerResponse } from 'node:http';

/**
 * Server-sent events to any number of browsers: each event written to every stream; a stream
 * that falls more than `maxBufferedBytes` behind (a stalled browser) is closed rather than
 * buffered; a comment every `keepAliveMs` keeps proxies from closing idle streams.
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly keepAliveMs = 15_000, private readonly maxBufferedBytes = 1 << 20) {}

  get size(): number {
    return this.clients.size;
  }

  /** Starts a stream on `res`; `first` are the events it begins with (the current state). */
  open(res: ServerResponse, first: { event: string; data: unknown }[]): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    for (const e of first) res.write(frame(e.event, e.data));
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    if (!this.timer) {
      this.timer = setInterval(() => this.write(': keep-alive\n\n'), this.keepAliveMs);
      this.timer.unref();
    }
  }

  send(event: string, data: unknown): void {
    if (this.clients.size > 0) this.write(frame(event, data));
  }

  private write(chunk: string): void {
    for (const res of this.clients) {
      if (res.writableLength > this.maxBufferedBytes) {
        res.destroy();
        this.clients.delete(res);
      } else res.write(chunk);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
