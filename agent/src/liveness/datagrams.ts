import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Clock } from '../util/clock.js';
import { loadAddon } from '../util/addon.js';
import { errorMessage } from '../util/errors.js';

/** A datagram as the heartbeat shell takes it: bytes, sender, and when it arrived (clock ms). */
export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
  at: number;
  /** Longer than the port keeps: dropped by the size check. */
  truncated: boolean;
}

export interface Destination {
  address: string;
  port: number;
}

export type DatagramBackend = 'native' | 'dgram';

/**
 * The heartbeat socket (docs/liveness.md, "What a heartbeat costs"). The shell sends a tick's
 * heartbeats with one `send` and takes what arrived since the last tick with `drain`, so that
 * datagrams are handled in one batch per tick with their arrival times, not one wake-up each.
 * - `native`: the addon (native/src/datagrams.cc), recvmmsg/sendmmsg, no wake-up on arrival,
 *   arrival times from the kernel (SO_TIMESTAMPNS).
 * - `dgram`: node:dgram, for a build without the addon: each arrival wakes the event loop to
 *   queue it with the time of its event.
 */
export interface DatagramPort {
  readonly backend: DatagramBackend;
  /** Binds the address and port. Rejects with the system's error (EADDRINUSE, EADDRNOTAVAIL…). */
  bind(address: string, port: number): Promise<void>;
  /** Queues each buffer to its destination; returns how many the kernel took (the rest are lost, like any datagram). */
  send(to: Destination[], data: Buffer[]): number;
  /** Everything that arrived since the last call, oldest first. */
  drain(): Datagram[];
  close(): void;
}

interface NativeDatagrams {
  send(data: Buffer[], addresses: string[], ports: number[]): number;
  drain(): { data: Buffer; address: string; port: number; ageMs: number; truncated: boolean }[];
  close(): void;
}
type Addon = { Datagrams?: new (address: string, port: number) => NativeDatagrams };

export class NativeDatagramPort implements DatagramPort {
  readonly backend = 'native' as const;
  private socket: NativeDatagrams | null = null;
  private readonly ctor: NonNullable<Addon['Datagrams']>;

  constructor(private readonly clock: Clock, addon: Addon = loadAddon<Addon>()) {
    if (!addon.Datagrams) throw new Error('this build of the addon has no heartbeat socket (rebuild it: npm rebuild)');
    this.ctor = addon.Datagrams;
  }

  bind(address: string, port: number): Promise<void> {
    try {
      this.socket = new this.ctor(address, port);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  send(to: Destination[], data: Buffer[]): number {
    if (!this.socket || to.length === 0) return 0;
    return this.socket.send(data, to.map((d) => d.address), to.map((d) => d.port));
  }

  drain(): Datagram[] {
    if (!this.socket) return [];
    const now = this.clock.now();
    return this.socket.drain().map((d) => ({ data: d.data, address: d.address, port: d.port, at: now - d.ageMs, truncated: d.truncated }));
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}

export class NodeDatagramPort implements DatagramPort {
  readonly backend = 'dgram' as const;
  private socket: Socket | null = null;
  private queue: Datagram[] = [];

  /** Arrivals beyond `maxQueued` between two drains are dropped (a flood must not grow memory). */
  constructor(private readonly clock: Clock, private readonly maxQueued = 4096) {}

  async bind(address: string, port: number): Promise<void> {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address, port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    socket.on('error', () => undefined); // send errors (ICMP unreachable) are a lost heartbeat
    socket.on('message', (data, rinfo) => {
      if (this.queue.length < this.maxQueued) this.queue.push({ data, address: rinfo.address, port: rinfo.port, at: this.clock.now(), truncated: false });
    });
    this.socket = socket;
  }

  send(to: Destination[], data: Buffer[]): number {
    const socket = this.socket;
    if (!socket) return 0;
    for (let i = 0; i < to.length; i++) socket.send(data[i]!, to[i]!.port, to[i]!.address);
    return to.length;
  }

  drain(): Datagram[] {
    const out = this.queue;
    this.queue = [];
    return out;
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
    this.queue = [];
  }
}

/** The native port when the addon has it, else node:dgram; `why` says which and why (logged once at start). */
export function createDatagramPort(clock: Clock): { port: DatagramPort; why: string } {
  try {
    return { port: new NativeDatagramPort(clock), why: 'the addon loaded' };
  } catch (err) {
    return { port: new NodeDatagramPort(clock), why: `node:dgram: the addon did not load (${errorMessage(err).split('\n')[0]})` };
  }
}
