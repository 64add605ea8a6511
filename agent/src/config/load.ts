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
  stateDir: string;
  statusSocket: string;
  timings: Timings;
  link: ParsedConfig['link'];
  ccp: ParsedConfig['ccp'];
  clusterConfig: string | null;
  logLevel: ParsedConfig['log']['level'];
}

export function formatZodIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: base ? `${base}.${key}` : key, message: 'unknown key (check its spelling; see docs/config.md)' });
      }
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push({ path: base, message: 'is required' });
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

function readSecretFile(path: string, file: string): Secret {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new ConfigError(file, [{ path: 'secretFile', message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code}); create it with the cluster credential and mode 0600` }]);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(file, [{ path: 'secretFile', message: `${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}` }]);
  }
  const value = readFileSync(path, 'utf8').trim();
  if (value.length < 16) {
    throw new ConfigError(file, [{ path: 'secretFile', message: `${path} holds fewer than 16 characters; put the cluster credential in it` }]);
  }
  return new Secret(value);
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
    stateDir,
    statusSocket: resolve(parsed.statusSocket ?? join(stateDir, 'agent.sock')),
    timings: parsed.timings,
    link: parsed.link,
    ccp: parsed.ccp,
    clusterConfig: parsed.clusterConfig ? resolve(parsed.clusterConfig) : null,
    logLevel: parsed.log.level,
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
  return doc.toJS();
}

/** Reads, parses and validates a YAML config file. Every failure is a ConfigError (exit 2). */
export function loadConfig(file: string): AgentConfig {
  return resolveConfig(validateConfig(readYaml(file), file), file);
}
