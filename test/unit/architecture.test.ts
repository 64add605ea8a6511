import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import rule of docs/architecture.md, checked on the source: a folder imports only folders
 * of a lower layer, and no module imports itself round a cycle.
 */
export const LAYERS: Record<string, number> = {
  util: 0, log: 0,
  config: 1, state: 1,
  contract: 2,
  trust: 3,
  broker: 4, ccp: 4, facts: 4, link: 4, liveness: 4, membership: 4, notify: 4, observe: 4, status: 4, transport: 4,
  election: 5,
  daemon: 6, runtime: 6,
  lab: 7,
  cli: 8,
};

const ROOT = 'agent/src';
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const IMPORT = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
function importsOf(file: string): string[] {
  const out: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) out.push(normalize(join(dirname(file), (m[1] ?? m[2])!)).replace(/\.js$/, '.ts'));
  return out;
}
const folderOf = (file: string) => relative(ROOT, file).split('/')[0]!;

describe('architecture', () => {
  const all = files(ROOT);
  const graph = new Map(all.map((f) => [f, importsOf(f).filter((t) => t.startsWith(ROOT))]));

  it('every folder has a layer', () => {
    expect([...new Set(all.map(folderOf))].filter((f) => !(f in LAYERS))).toEqual([]);
  });

  it('imports run one way: down the layers', () => {
    const bad: string[] = [];
    for (const [f, targets] of graph) {
      for (const t of targets) {
        const a = folderOf(f);
        const b = folderOf(t);
        if (a !== b && !(LAYERS[b]! < LAYERS[a]!)) bad.push(`${relative(ROOT, f)} -> ${relative(ROOT, t)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no import cycle between modules', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].map((x) => relative(ROOT, x)).join(' -> '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of all) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('no source file over 360 lines', () => {
    expect(all.map((f) => [relative(ROOT, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 360)).toEqual([]);
  });
});
