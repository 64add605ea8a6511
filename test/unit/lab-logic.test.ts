import { describe, expect, it } from 'vitest';
import { blockedPairs, canReach, parseGroups } from '../../agent/src/lab/partition.js';
import { renderRuleset } from '../../agent/src/lab/nft.js';
import { LabError } from '../../agent/src/util/errors.js';

const H = ['h1', 'h2', 'h3', 'h4', 'h5'];

describe('lab partitions', () => {
  it('a bridge through h3: h3 reaches everyone, h1 and h5 do not reach each other', () => {
    const g = parseGroups(['h1,h2,h3', 'h3,h4,h5'], H);
    expect(canReach(g, 'h1', 'h3')).toBe(true);
    expect(canReach(g, 'h3', 'h5')).toBe(true);
    expect(canReach(g, 'h1', 'h5')).toBe(false);
    expect(blockedPairs(H, g)).toEqual([['h1', 'h4'], ['h1', 'h5'], ['h2', 'h4'], ['h2', 'h5']]);
  });

  it('a host named in no group reaches nobody', () => {
    expect(blockedPairs(H, parseGroups(['h1,h2,h3,h4'], H)).filter(([a, b]) => a === 'h5' || b === 'h5')).toHaveLength(4);
  });

  it('an unknown host is refused with the list of hosts, and nothing is returned', () => {
    expect(() => parseGroups(['h1,h9'], H)).toThrow(LabError);
    expect(() => parseGroups(['h1,h9'], H)).toThrow(/unknown host h9; this lab has h1, h2, h3, h4, h5/);
  });

  it('renders partition and loss into one atomic nft transaction', () => {
    const rs = renderRuleset((h) => `p-${h}`, [['h1', 'h4']], [{ host: 'h2', pct: 10 }, { host: 'h3', pct: 0 }]);
    expect(rs.split('\n').slice(0, 3)).toEqual(['add table bridge infravisor_lab', 'delete table bridge infravisor_lab', 'table bridge infravisor_lab {']);
    expect(rs).toContain('"p-h1" . "p-h4", "p-h4" . "p-h1"');
    expect(rs).toContain('iifname "p-h2" numgen random mod 100 < 10 drop');
    expect(rs).toContain('oifname "p-h2" numgen random mod 100 < 10 drop');
    expect(rs).not.toContain('p-h3');
    expect(renderRuleset((h) => `p-${h}`, [], [{ host: 'h1', pct: 100 }])).toContain('iifname "p-h1" drop');
  });
});
