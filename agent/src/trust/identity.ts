import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../util/errors.js';

/** Where a host's TLS material lives (agent config `tls:`, docs/security.md). */
export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
  crl?: string | undefined;
}

export type Role = 'host' | 'observer';

/** A certificate's host name (CN) and role (OU), from Node's multi-line subject. */
export function subjectOf(cert: X509Certificate): { name: string | null; role: string | null } {
  const field = (k: string) => cert.subject.split('\n').find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? null;
  return { name: field('CN'), role: field('OU') };
}

/**
 * This host's identity: the cluster CA, its own key and certificate, the CRL. Loaded and checked
 * once at the edge (every problem reported at once, as a ConfigError: exit 2): each file
 * readable, the key private (0600) and matching the certificate, the certificate issued by the
 * CA to this host's name with role `host`, and not expired.
 */
export class Identity {
  readonly certDer: Buffer;
  private constructor(
    readonly name: string,
    readonly role: Role,
    readonly ca: X509Certificate,
    readonly cert: X509Certificate,
    readonly key: KeyObject,
    private readonly pem: { ca: string; cert: string; key: string; crl: string | null },
  ) {
    this.certDer = cert.raw;
  }

  /** Reads the CRL file again; true when it changed (and still parses as a PEM CRL). */
  reloadCrl(path: string | undefined): boolean {
    if (!path) return false;
    try {
      const text = readFileSync(path, 'utf8');
      if (!text.includes('BEGIN X509 CRL') || text === this.pem.crl) return false;
      this.pem.crl = text;
      return true;
    } catch {
      return false;
    }
  }

  /** The options every TLS socket of the agent uses (server and client). */
  tlsOptions() {
    return { ca: this.pem.ca, cert: this.pem.cert, key: this.pem.key, ...(this.pem.crl ? { crl: this.pem.crl } : {}) };
  }

  static load(paths: TlsPaths, expect: { name: string; role?: Role }, file = '<config>'): Identity {
    const issues: ConfigIssue[] = [];
    const read = (key: keyof TlsPaths, p: string | undefined, secret = false): string | null => {
      if (p === undefined) return null;
      try {
        if (secret && (statSync(p).mode & 0o077) !== 0) issues.push({ path: `tls.${key}`, message: `${p} is readable by group or others; run chmod 600 ${p}` });
        return readFileSync(p, 'utf8');
      } catch (err) {
        issues.push({ path: `tls.${key}`, message: `cannot read ${p} (${(err as NodeJS.ErrnoException).code}); issue the host's material with infravisor pki (docs/security.md)` });
        return null;
      }
    };
    const caPem = read('ca', paths.ca);
    const certPem = read('cert', paths.cert);
    const keyPem = read('key', paths.key, true);
    const crlPem = read('crl', paths.crl);
    const parse = <T>(key: keyof TlsPaths, text: string | null, fn: (t: string) => T): T | null => {
      if (text === null) return null;
      try {
        return fn(text);
      } catch (err) {
        issues.push({ path: `tls.${key}`, message: `${paths[key]} does not parse (${(err as Error).message})` });
        return null;
      }
    };
    const ca = parse('ca', caPem, (t) => new X509Certificate(t));
    const cert = parse('cert', certPem, (t) => new X509Certificate(t));
    const key = parse('key', keyPem, (t) => createPrivateKey(t));
    const role = expect.role ?? 'host';
    if (crlPem !== null && !crlPem.includes('BEGIN X509 CRL')) issues.push({ path: 'tls.crl', message: `${paths.crl} is not a PEM CRL` });
    if (ca && cert) {
      const s = subjectOf(cert);
      if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) issues.push({ path: 'tls.cert', message: `${paths.cert} was not issued by the CA in ${paths.ca} (another cluster's?)` });
      if (s.name !== expect.name) issues.push({ path: 'tls.cert', message: `${paths.cert} is issued to ${s.name ?? '(no CN)'}, not to this host (${expect.name}); issue one for ${expect.name}` });
      if (s.role !== role) issues.push({ path: 'tls.cert', message: `${paths.cert} has role ${s.role ?? '(none)'}; an agent needs a ${role} certificate` });
      if (new Date(cert.validTo).getTime() < Date.now()) issues.push({ path: 'tls.cert', message: `${paths.cert} expired on ${cert.validTo}; issue a new one (docs/security.md, rotation)` });
      if (ca.ca !== true) issues.push({ path: 'tls.ca', message: `${paths.ca} is not a CA certificate` });
    }
    if (cert && key && !cert.checkPrivateKey(key)) issues.push({ path: 'tls.key', message: `${paths.key} is not the key of ${paths.cert}` });
    // Heartbeat keys are agreed by ECDH between hosts' keys: every host's key is P-256.
    if (key && (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) issues.push({ path: 'tls.key', message: `${paths.key} is a ${key.asymmetricKeyType} key; the cluster uses ECDSA P-256 keys (infravisor pki issue makes them)` });
    if (issues.length > 0) throw new ConfigError(file, issues);
    return new Identity(expect.name, role, ca!, cert!, key!, { ca: caPem!, cert: certPem!, key: keyPem!, crl: crlPem });
  }
}

/** A fingerprint for caches keyed by certificate. */
export const certHash = (der: Buffer) => createHash('sha256').update(der).digest('base64url');
