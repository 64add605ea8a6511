import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';
import { NAME_RE } from '../config/names.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { InfravisorError } from '../util/errors.js';

/**
 * The cluster's certificate authority (`infravisor pki`, the lab, the tests; Ansible does the
 * same with community.crypto): an ECDSA P-256 CA, a key and certificate per host, a CRL.
 * Not loaded by the agent (it only reads the files: trust/identity.ts).
 *
 * A certificate names its host in CN and its role in OU (`host`: a member; `observer`: may
 * read the contract and publish nothing, docs/mqtt-contract.md). Validity starts in 2000, so
 * that a Pi that booted without a real-time clock (its clock in the past until NTP answers)
 * still accepts its peers; hosts' certificates last 10 years, the CA's 20 (rotation:
 * docs/security.md).
 */
// Node's WebCrypto is the one the library expects (its typings name the DOM type, absent here).
x509.cryptoProvider.set(webcrypto as never);
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOT_BEFORE = new Date('2000-01-01T00:00:00Z');
const years = (n: number) => new Date(Date.now() + n * 365.25 * 86_400_000);

export type Role = 'host' | 'observer';

const IndexSchema = z.object({
  cluster: z.string().regex(NAME_RE),
  issued: z.record(z.string(), z.object({ serial: z.string(), role: z.enum(['host', 'observer']), at: z.string() })),
  revoked: z.array(z.object({ name: z.string(), serial: z.string(), at: z.string() })),
});
type Index = z.infer<typeof IndexSchema>;

export const caFiles = (dir: string) => ({ key: join(dir, 'ca.key'), cert: join(dir, 'ca.crt'), crl: join(dir, 'ca.crl'), index: join(dir, 'index.json') });

export class PkiError extends InfravisorError {
  constructor(message: string) {
    super('PKI', message, 2);
  }
}

const serial = () => `4${randomBytes(15).toString('hex')}`; // positive, 16 bytes
const pem = (label: string, der: ArrayBuffer) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privatePem(k: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', k));
}

async function importCaKey(dir: string): Promise<CryptoKey> {
  const text = readFileSync(caFiles(dir).key, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(text, 'base64'), ALG, false, ['sign']);
}

function readIndex(dir: string): Index {
  const f = caFiles(dir);
  if (!existsSync(f.index) || !existsSync(f.key)) throw new PkiError(`${dir} holds no CA; create one with: infravisor pki init --dir ${dir} --cluster NAME`);
  return IndexSchema.parse(JSON.parse(readFileSync(f.index, 'utf8')));
}

async function writeCrl(dir: string, idx: Index): Promise<void> {
  const f = caFiles(dir);
  const ca = new x509.X509Certificate(readFileSync(f.cert, 'utf8'));
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.subject,
    thisUpdate: new Date(),
    // OpenSSL refuses every certificate once a CRL is past its nextUpdate: it is far away, and
    // reissued at every revocation.
    nextUpdate: years(20),
    entries: idx.revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(r.at) })),
    signingKey: await importCaKey(dir),
    signingAlgorithm: ALG,
  });
  // OpenSSL reads the label X509 CRL (the library writes CRL).
  writeFileAtomic(f.crl, pem('X509 CRL', crl.rawData), 0o644);
}

/** A new CA in `dir` (refuses to replace one). */
export async function initCa(dir: string, cluster: string): Promise<void> {
  if (!NAME_RE.test(cluster)) throw new PkiError(`cluster ${JSON.stringify(cluster)} must be a DNS label`);
  const f = caFiles(dir);
  if (existsSync(f.key)) throw new PkiError(`${dir} already holds a CA; remove it first to start over (every host would need new certificates)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=infravisor CA ${cluster}, O=infravisor ${cluster}`,
    notBefore: NOT_BEFORE,
    notAfter: years(20),
    keys,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  writeFileAtomic(f.key, await privatePem(keys.privateKey), 0o600);
  writeFileAtomic(f.cert, cert.toString('pem'), 0o644);
  const idx: Index = { cluster, issued: {}, revoked: [] };
  writeFileAtomic(f.index, JSON.stringify(idx, null, 2) + '\n', 0o600);
  await writeCrl(dir, idx);
}

/**
 * A key and certificate for `name`, written to OUT/NAME.key (0600) and OUT/NAME.crt. Issuing
 * again for a name replaces its certificate (rotation); the old one stays valid until revoked.
 */
export async function issue(dir: string, name: string, opts: { role?: Role; out?: string } = {}): Promise<{ key: string; cert: string; serial: string }> {
  if (!NAME_RE.test(name)) throw new PkiError(`${JSON.stringify(name)} must be a DNS label (the host name)`);
  const idx = readIndex(dir);
  const f = caFiles(dir);
  const ca = new x509.X509Certificate(readFileSync(f.cert, 'utf8'));
  const keys = await keyPair();
  const role = opts.role ?? 'host';
  const sn = serial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: sn,
    subject: `CN=${name}, OU=${role}, O=infravisor ${idx.cluster}`,
    issuer: ca.subject,
    notBefore: NOT_BEFORE,
    notAfter: years(10),
    signingKey: await importCaKey(dir),
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const out = opts.out ?? dir;
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const paths = { key: join(out, `${name}.key`), cert: join(out, `${name}.crt`) };
  writeFileAtomic(paths.key, await privatePem(keys.privateKey), 0o600);
  writeFileAtomic(paths.cert, cert.toString('pem'), 0o644);
  idx.issued[name] = { serial: sn, role, at: new Date().toISOString() };
  writeFileAtomic(f.index, JSON.stringify(idx, null, 2) + '\n', 0o600);
  return { ...paths, serial: sn };
}

/** Revokes the certificate last issued to `name` and rewrites the CRL. */
export async function revoke(dir: string, name: string): Promise<{ serial: string }> {
  const idx = readIndex(dir);
  const entry = idx.issued[name];
  if (!entry) throw new PkiError(`no certificate was issued to ${name} by this CA; issued: ${Object.keys(idx.issued).join(', ') || 'none'}`);
  if (!idx.revoked.some((r) => r.serial === entry.serial)) idx.revoked.push({ name, serial: entry.serial, at: new Date().toISOString() });
  writeFileAtomic(caFiles(dir).index, JSON.stringify(idx, null, 2) + '\n', 0o600);
  await writeCrl(dir, idx);
  return { serial: entry.serial };
}
