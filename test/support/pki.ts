import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { initCa, issue, type Role } from '../../agent/src/trust/pki.js';
import { Identity } from '../../agent/src/trust/identity.js';

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
  crl: string;
}

/** A CA in DIR/pki and a key and certificate for each name (the lab does the same). */
export async function makePki(dir: string, cluster: string, names: string[], role: Role = 'host'): Promise<Record<string, TlsPaths>> {
  const ca = join(dir, 'pki');
  await initCa(ca, cluster);
  const out: Record<string, TlsPaths> = {};
  for (const n of names) out[n] = await issueFor(ca, n, role);
  return out;
}

export async function issueFor(caDir: string, name: string, role: Role = 'host'): Promise<TlsPaths> {
  const r = await issue(caDir, name, { role, out: join(caDir, '..', 'tls') });
  return { ca: join(caDir, 'ca.crt'), crl: join(caDir, 'ca.crl'), cert: r.cert, key: r.key };
}

export const identityOf = (p: TlsPaths, name: string, role: Role = 'host') => Identity.load(p, { name, role });

/**
 * An MQTT client over mutual TLS with the given material (an attacker holding a host's key, an
 * observer, or no certificate at all). Resolves on CONNACK, rejects on refusal.
 */
export function connectTls(o: { address: string; port: number; tls: Partial<TlsPaths>; clientId: string; username?: string; keepalive?: number }): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({
      host: o.address,
      port: o.port,
      protocol: 'mqtts',
      protocolVersion: 4,
      ...(o.tls.ca ? { ca: readFileSync(o.tls.ca) } : {}),
      ...(o.tls.cert ? { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key!) } : {}),
      rejectUnauthorized: false,
      clientId: o.clientId,
      ...(o.username ? { username: o.username } : {}),
      keepalive: o.keepalive ?? 5,
      reconnectPeriod: 0,
      connectTimeout: 3000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}
