import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTRACT } from '../../agent/src/contract/index.js';
import { TimingsSchema } from '../../agent/src/config/schema.js';

describe('docs/mqtt-contract.md', () => {
  const doc = readFileSync('docs/mqtt-contract.md', 'utf8');
  it.each(Object.values(CONTRACT).map((s) => [s.kind, s] as const))('documents the %s topic with its QoS and retain flag', (kind, spec) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`ivr/v1/<cluster>/${kind}/<host>\``));
    expect(row, `a table row for ${kind}`).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    expect(cells[3]).toBe(String(spec.qos));
    expect(cells[4]).toBe(spec.retain ? 'yes' : 'no');
  });
});

describe('docs/config.md', () => {
  const doc = readFileSync('docs/config.md', 'utf8');
  it.each(Object.entries(TimingsSchema.parse({})))('lists timings.%s with its default', (key, def) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    expect(row, `a table row for ${key}`).toBeDefined();
    expect(row!.split('|')[2]!.trim()).toBe(String(def));
  });
});
