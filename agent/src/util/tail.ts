import { readFileSync } from 'node:fs';

/** The last `lines` lines of a log or console file (carriage returns dropped), or `missing`. */
export function tailOf(path: string, lines = 10, missing = '(no log)'): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r/g, '').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return missing;
  }
}
