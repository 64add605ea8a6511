import { LabError } from '../util/errors.js';

/**
 * `lab partition GROUP GROUP…`: two hosts can reach each other iff some group holds both.
 * Groups may overlap (a host in two groups is a bridge). Hosts named in no group reach
 * nobody. Returns the unordered pairs that must be blocked, each as [a, b] with a < b in
 * the order of `hosts`.
 */
export function parseGroups(args: string[], hosts: string[]): string[][] {
  if (args.length === 0) throw new LabError('partition needs at least one GROUP (comma-separated host names), e.g. lab partition h1,h2 h3,h4,h5', 'LAB_USAGE', 2);
  const known = new Set(hosts);
  const groups = args.map((a) => a.split(',').map((s) => s.trim()).filter(Boolean));
  const unknown = [...new Set(groups.flat().filter((h) => !known.has(h)))];
  if (unknown.length) throw new LabError(`unknown host${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; this lab has ${hosts.join(', ')}. Nothing was changed.`, 'LAB_UNKNOWN_HOST', 2);
  if (groups.some((g) => g.length === 0)) throw new LabError('an empty GROUP was given; nothing was changed', 'LAB_USAGE', 2);
  return groups;
}

export function blockedPairs(hosts: string[], groups: string[][] | null): [string, string][] {
  if (!groups) return [];
  const together = (a: string, b: string) => groups.some((g) => g.includes(a) && g.includes(b));
  const out: [string, string][] = [];
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      const a = hosts[i]!;
      const b = hosts[j]!;
      if (!together(a, b)) out.push([a, b]);
    }
  }
  return out;
}

/** Whether hosts a and b can reach each other under `groups` (null: no partition). */
export function canReach(groups: string[][] | null, a: string, b: string): boolean {
  return a === b || !groups || groups.some((g) => g.includes(a) && g.includes(b));
}
