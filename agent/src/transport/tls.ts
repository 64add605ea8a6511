import type { PeerCertificate } from 'node:tls';

/** The TLS material of this host, as the transport needs it (trust/identity.ts provides it). */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
  crl?: string;
}

/**
 * mqtt.js options for a mutual-TLS connection to the broker of `expected`: the server's
 * certificate must come from the cluster CA (and not be revoked) and name that host with role
 * `host` — not merely the address dialled. `expected` null: any host of the cluster (a seed,
 * whose name is not known yet).
 */
export function tlsTo(tls: ClientTls, expected: string | null) {
  return {
    protocol: 'mqtts' as const,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...(tls.crl ? { crl: tls.crl } : {}),
    rejectUnauthorized: true,
    ...(expected ? { servername: expected } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      const cn = cert.subject?.CN;
      if (cert.subject?.OU !== 'host') return new Error(`the broker's certificate has role ${String(cert.subject?.OU)}, not host`);
      if (expected && cn !== expected) return new Error(`the broker's certificate names ${String(cn)}, not ${expected}`);
      return undefined;
    },
  };
}
