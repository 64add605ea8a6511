import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { labDescribe } from '../support/lab.js';

/** ansible/ is clean under ansible-lint's production profile and yamllint (offline, from Debian). */
const DIR = join(process.cwd(), 'ansible');

function tools(): string | null {
  for (const t of ['ansible-lint', 'yamllint']) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  return null;
}

labDescribe(
  'ansible: lint',
  () => {
    it('ansible-lint --profile production reports nothing', () => {
      const r = spawnSync('ansible-lint', ['--offline', '--nocolor', '--profile', 'production'], { cwd: DIR, encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    }, 300_000);
    it('yamllint reports nothing', () => {
      const r = spawnSync('yamllint', ['--strict', '.'], { cwd: DIR, encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    }, 120_000);
  },
  tools,
);
