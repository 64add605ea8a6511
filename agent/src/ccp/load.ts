import { ConfigError } from '../util/errors.js';
import { formatZodIssues, readYaml } from '../config/load.js';
import { CcpConfigSchema, type CcpConfig } from '../config/ccp.js';

/** Loads the cluster-wide CCP configuration file, or the defaults when there is none. */
export function loadCcpConfig(file: string | null): CcpConfig {
  if (!file) return CcpConfigSchema.parse({});
  const r = CcpConfigSchema.safeParse(readYaml(file));
  if (!r.success) throw new ConfigError(file, formatZodIssues(r.error.issues));
  return r.data;
}
