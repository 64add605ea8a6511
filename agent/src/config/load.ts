import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../util/errors.js';
import { ConfigSchema, SEED_RE, type ParsedConfig, type Timings } from './schema.js';
import { Secret } from './secret.js';

export interface Endpoint {
  address: string;
  port: number;
}

/** The validated configuration, with derived values filled in and the secret loaded. */
export interface AgentConfig {
  file: string;
  cluster: string;
  host: ParsedConfig['host'];
  seeds: Endpoint[];
  secret: Secret;
  /** Paths of this host's TLS material (loaded and checked by trust/identity.ts). */
  tls: { ca: string; cert: string; key: string; crl?: string };
  stateDir: string;
  statusSocket: string;
  timings: Timings;
  link: ParsedConfig['link'];
  ccp: ParsedConfig['ccp'];
  clusterConfig: string | null;
  logLevel: ParsedConfig['log']['level'];
  /** The web view on TCP (null: off), with its token read. */
  web: { address: string; port: number; token: Secret } | null;
  led: ParsedConfig['led'];
  hooks: ParsedConfig['hooks'];
  /** What works but should be changed (configWarnings). */
  warnings: string[];
}

export function formatZodIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: base ? `${base}.${key}` : key, message: 'unknown key (check its spelling; see docs/config.md)' });
      }
    } else if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) {
      out.push({ path: base, message: `is required (${issue.expected})` });
    } else if (issue.code === 'invalid_type') {
      out.push({ path: base, message: `must be ${issue.expected} (${issue.message.replace(/^Invalid input: /, '')})` });
    } else {
      out.push({ path: base, message: issue.message });
    }
  }
  return out;
}

export function parseSeed(s: string): Endpoint {
  const m = SEED_RE.exec(s);
  if (!m) throw new Error(`bad seed ${s}`);
  return { address: m[1] ?? m[2] ?? '', port: m[3] === undefined ? 1883 : Number(m[3]) };
}

/** Validates a parsed document. Throws ConfigError listing every problem at once. */
export function validateConfig(doc: unknown, file = '<config>'): ParsedConfig {
  const result = ConfigSchema.safeParse(doc);
  if (!result.success) throw new ConfigError(file, formatZodIssues(result.error.issues));
  return result.data;
}

function readSecretFile(path: string, file: string, key = 'secretFile', what = 'the cluster credential'): Secret {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new ConfigError(file, [{ path: key, message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code}); create it with ${what} and mode 0600` }]);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(file, [{ path: key, message: `${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}` }]);
  }
  const value = readFileSync(path, 'utf8').trim();
  if (value.length < 16) {
    throw new ConfigError(file, [{ path: key, message: `${path} holds fewer than 16 characters; put ${what} in it` }]);
  }
  return new Secret(value);
}

/** Warnings about a config that works but should be changed (printed by `infravisor config`,
 * logged by the agent). */
export function configWarnings(file: string, parsed: Pick<ParsedConfig, 'secret'>): string[] {
  const out: string[] = [];
  try {
    if (parsed.secret !== undefined && (statSync(file).mode & 0o077) !== 0) {
      out.push(`${file} holds the cluster secret inline and is readable by group or others (mode ${(statSync(file).mode & 0o777).toString(8)}): move it to secretFile (mode 0600), or chmod 600 ${file}`);
    }
  } catch {
    /* not a file on disk (a test document) */
  }
  return out;
}

/** Completes a validated config: derived defaults, seeds parsed, the secret loaded. */
export function resolveConfig(parsed: ParsedConfig, file: string): AgentConfig {
  const stateDir = resolve(parsed.stateDir);
  const secret = parsed.secret !== undefined ? new Secret(parsed.secret) : readSecretFile(resolve(parsed.secretFile!), file);
  return {
    file,
    cluster: parsed.cluster,
    host: parsed.host,
    seeds: parsed.seeds.map(parseSeed),
    secret,
    tls: { ca: resolve(parsed.tls.ca), cert: resolve(parsed.tls.cert), key: resolve(parsed.tls.key), ...(parsed.tls.crl ? { crl: resolve(parsed.tls.crl) } : {}) },
    stateDir,
    statusSocket: resolve(parsed.statusSocket ?? join(stateDir, 'agent.sock')),
    timings: parsed.timings,
    link: parsed.link,
    ccp: parsed.ccp,
    clusterConfig: parsed.clusterConfig ? resolve(parsed.clusterConfig) : null,
    logLevel: parsed.log.level,
    web: parsed.web.enabled ? { address: parsed.web.address ?? parsed.host.address, port: parsed.web.port, token: readSecretFile(resolve(parsed.web.tokenFile!), file, 'web.tokenFile', 'a token of at least 16 characters') } : null,
    led: parsed.led,
    hooks: parsed.hooks,
    warnings: configWarnings(file, parsed),
  };
}

/** Reads a YAML file into a plain value; every failure is a ConfigError. */
export function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code}); pass --config with the path of a YAML config (see docs/config.md)` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}` : '', message: e.message.split('\n')[0] ?? e.message })));
  }
  try {
    // A document whose aliases expand past this is refused (a "billion laughs" bomb).
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `${(err as Error).message}; a config needs no YAML aliases: write the values out` }]);
  }
}

/** Reads, parses and validates a YAML config file. Every failure is a ConfigError (exit 2). */
export function loadConfig(file: string): AgentConfig {
  return resolveConfig(validateConfig(readYaml(file), file), file);
}
