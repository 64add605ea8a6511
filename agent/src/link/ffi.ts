import { performance } from 'node:perf_hooks';
import { dumpRequest, parseNetlink } from './parse.js';
import type { LinkEvent, LinkWatcher } from './types.js';
import { call, callBlocking, libc } from '../util/libc.js';

/**
 * The fallback for hosts where the addon is not built: the same NETLINK_ROUTE socket, opened
 * and bound through libc with ffi-rs, parsed in TypeScript. Node cannot wait on a raw fd, so
 * libc's poll() runs on an ffi-rs worker thread (runInNewThread: a promise, the event loop
 * stays free) with a bounded timeout; when it reports the socket readable, everything queued
 * is read with recv(MSG_DONTWAIT).
 */
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTMGRP_LINK = 1;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const EINTR = 4;
const POLLIN = 1;
const ENOBUFS = 105;

function sockaddrNl(groups: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(groups, 8);
  return b;
}

export class FfiLinkWatcher implements LinkWatcher {
  readonly backend = 'ffi' as const;
  private fd = -1;
  private closing = false;
  private readonly buf = Buffer.alloc(65536);
  private dumping = false;
  private seq = 0;

  /** `waitMs` bounds each poll(), and so how long close() takes to release the socket. */
  constructor(private readonly waitMs = 1000) {}

  start(onEvents: (events: LinkEvent[]) => void, onError?: (err: Error) => void): void {
    const { DataType: T } = libc();
    const s = call('socket', T.I32, [T.I32, T.I32, T.I32], [AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE]);
    if (s.value < 0) throw new Error(`socket(AF_NETLINK): ${s.errnoMessage}`);
    this.fd = s.value;
    const addr = sockaddrNl(RTMGRP_LINK);
    const b = call('bind', T.I32, [T.I32, T.U8Array, T.I32], [this.fd, addr, addr.length]);
    if (b.value < 0) {
      this.closeFd();
      throw new Error(`bind(RTMGRP_LINK): ${b.errnoMessage}`);
    }
    this.requestDump();
    void this.loop(onEvents, onError);
  }

  private async loop(onEvents: (events: LinkEvent[]) => void, onError?: (err: Error) => void): Promise<void> {
    const { DataType: T } = libc();
    const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
    while (!this.closing) {
      pfd.writeInt32LE(this.fd, 0);
      pfd.writeInt16LE(POLLIN, 4);
      pfd.writeInt16LE(0, 6);
      const r = await callBlocking('poll', T.I32, [T.U8Array, T.U64, T.I32], [pfd, 1, this.waitMs]);
      if (this.closing) break;
      if (r.value < 0 && r.errnoCode !== EINTR) {
        onError?.(new Error(`poll: ${r.errnoMessage}`));
        break;
      }
      if (r.value > 0) {
        const events = this.drain(onError);
        if (events.length) onEvents(events);
      }
    }
    this.closeFd(); // only here: the poll thread no longer uses the fd
  }

  private drain(onError?: (err: Error) => void): LinkEvent[] {
    const { DataType: T } = libc();
    const events: LinkEvent[] = [];
    const ts = performance.timeOrigin + performance.now();
    for (;;) {
      const r = call('recv', T.I64, [T.I32, T.U8Array, T.I64, T.I32], [this.fd, this.buf, this.buf.length, MSG_DONTWAIT]);
      if (r.value < 0) {
        if (r.errnoCode === ENOBUFS) {
          this.requestDump();
          continue;
        }
        if (r.errnoCode !== EAGAIN) onError?.(new Error(`recv: ${r.errnoMessage}`));
        break;
      }
      if (r.value === 0) break;
      const p = parseNetlink(this.buf.subarray(0, r.value), ts, this.dumping);
      events.push(...p.links);
      if (p.done) this.dumping = false;
    }
    return events;
  }

  private requestDump(): void {
    const { DataType: T } = libc();
    const req = dumpRequest(++this.seq);
    const kernel = sockaddrNl(0);
    this.dumping = true;
    const r = call('sendto', T.I64, [T.I32, T.U8Array, T.I64, T.I32, T.U8Array, T.I32], [this.fd, req, req.length, 0, kernel, kernel.length]);
    if (r.value < 0) throw new Error(`sendto(RTM_GETLINK): ${r.errnoMessage}`);
  }

  /** Stops at once; the socket is released when the pending poll() returns (within waitMs). */
  close(): void {
    this.closing = true;
  }

  private closeFd(): void {
    if (this.fd >= 0) {
      const { DataType: T } = libc();
      call('close', T.I32, [T.I32], [this.fd]);
      this.fd = -1;
    }
  }
}
