import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { tlsTo, type ClientTls } from './tls.js';
import type { Endpoint } from '../config/load.js';
import { decode, filterFor, parseTopic, type Directory, type DirectoryEntry, type DropReason } from '../contract/index.js';

export interface BootstrapResult {
  seed: Endpoint;
  cards: DirectoryEntry[];
  /** The rendezvous the seed's own agent uses. */
  hint: string | null;
}

/**
 * Reads a seed broker's retained directories and presences: what a newcomer that knows one
 * address needs to learn every member and where the group meets.
 */
export function readSeed(opts: {
  seed: Endpoint;
  cluster: string;
  self: string;
  tls: ClientTls;
  waitMs: number;
  timeoutMs: number;
  onDrop: (reason: DropReason, detail: string) => void;
}): Promise<BootstrapResult> {
  const { seed, cluster } = opts;
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({
      host: seed.address,
      port: seed.port,
      ...tlsTo(opts.tls, null),
      protocolVersion: 4,
      clientId: `ivr-${opts.self}-boot-${randomBytes(3).toString('hex')}`,
      username: opts.self,
      keepalive: 5,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: opts.timeoutMs,
    });
    const cards = new Map<string, DirectoryEntry>();
    let seedDirectory: Directory | null = null;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      client.end(true);
      if (err) reject(err);
      else resolve({ seed, cards: [...cards.values()], hint: seedDirectory?.rendezvous ?? null });
    };
    client.on('error', (err) => finish(err));
    client.on('close', () => finish(cards.size ? undefined : new Error(`seed ${seed.address}:${seed.port} closed the connection`)));
    client.on('message', (topic, payload) => {
      const t = parseTopic(cluster, topic);
      if (!t) return;
      if (t.kind === 'directory') {
        const d = decode('directory', payload);
        if (!d.ok) return opts.onDrop(d.reason, d.detail);
        for (const e of d.msg.members) if (!cards.has(e.host) || cards.get(e.host)!.lastSeen < e.lastSeen) cards.set(e.host, e);
        if (d.msg.members.some((e) => e.host === d.msg.host && e.address === seed.address)) {
          seedDirectory = d.msg;
          finish();
        }
      } else if (t.kind === 'presence') {
        const p = decode('presence', payload);
        if (!p.ok) return opts.onDrop(p.reason, p.detail);
        const { host, address, port, priority, cores, memMB, ts } = p.msg;
        if (!cards.has(host)) cards.set(host, { host, address, port, priority, cores, memMB, lastSeen: ts });
      }
    });
    client.on('connect', () => {
      client.subscribe([filterFor('directory', cluster), filterFor('presence', cluster)], { qos: 1 }, (err) => {
        if (err) return finish(err);
        timer = setTimeout(() => finish(), opts.waitMs);
      });
    });
  });
}
