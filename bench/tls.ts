import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../agent/src/broker/broker.js';
import { silentLogger } from '../agent/src/log/logger.js';
import { Identity } from '../agent/src/trust/identity.js';
import { initCa, issue } from '../agent/src/trust/pki.js';
import { tlsTo } from '../agent/src/transport/tls.js';
import { summarize, table, writeResult } from './lib.js';

/**
 * What mutual TLS costs a connect: `npm run bench -- tls [--n 100]`. The time from connect() to
 * CONNACK (what a member waits when it changes rendezvous) and the CPU both ends spend, against
 * the same broker and client over plain TCP, on loopback in one process.
 */
export async function tls(args: string[]): Promise<void> {
  const n = Number(args[args.indexOf('--n') + 1] || 100);
  const dir = mkdtempSync(join(tmpdir(), 'ivr-bench-tls-'));
  try {
    await initCa(join(dir, 'pki'), 'bench');
    const paths = async (name: string) => {
      const r = await issue(join(dir, 'pki'), name, { out: join(dir, 'tls') });
      return { ca: join(dir, 'pki', 'ca.crt'), crl: join(dir, 'pki', 'ca.crl'), cert: r.cert, key: r.key };
    };
    const server = Identity.load(await paths('b1'), { name: 'b1' });
    const client = Identity.load(await paths('c1'), { name: 'c1' });
    const tlsPort = 40000 + Math.floor(Math.random() * 10000);
    const broker = new EmbeddedBroker({ cluster: 'bench', address: '127.0.0.1', port: tlsPort, identity: server, clock: { now: () => Date.now() }, log: silentLogger(), admission: { maxHandshakes: 1000, maxFailures: 1000, windowMs: 1000, banMs: 1 } });
    await broker.start();
    const plain = await Aedes.createBroker();
    const plainServer = createServer((s) => plain.handle(s));
    const plainPort = tlsPort + 1;
    await new Promise<void>((r) => plainServer.listen(plainPort, '127.0.0.1', () => r()));
    const once = (opts: mqtt.IClientOptions) =>
      new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        const c = mqtt.connect({ ...opts, host: '127.0.0.1', protocolVersion: 4, reconnectPeriod: 0, clientId: `ivr-c1-${Math.random().toString(16).slice(2)}`, username: 'c1' });
        c.once('connect', () => {
          const ms = performance.now() - t0;
          c.end(true, {}, () => resolve(ms));
        });
        c.once('error', reject);
      });
    const measure = async (opts: mqtt.IClientOptions) => {
      const ms: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < n; i++) ms.push(await once(opts));
      const cpu = process.cpuUsage(cpu0);
      return { connect: summarize(ms), cpuMsPerConnect: (cpu.user + cpu.system) / 1000 / n };
    };
    await measure({ port: plainPort }); // warm-up
    const plainR = await measure({ port: plainPort });
    const tlsR = await measure({ port: tlsPort, ...tlsTo(client.tlsOptions(), 'b1') });
    await broker.stop();
    await new Promise<void>((r) => plain.close(() => r()));
    plainServer.close();
    process.stdout.write(
      table(
        ['transport', 'connects', 'connect→CONNACK median ms', 'p90 ms', 'CPU ms per connect (both ends)'],
        [
          ['plain TCP (before)', n, plainR.connect.median, plainR.connect.p90, plainR.cpuMsPerConnect],
          ['mutual TLS, ECDSA P-256 (now)', n, tlsR.connect.median, tlsR.connect.p90, tlsR.cpuMsPerConnect],
        ],
      ) + '\n',
    );
    process.stdout.write(`results: ${writeResult('tls', { n, plain: plainR, tls: tlsR })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
