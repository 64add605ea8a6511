import { describe, expect, it } from 'vitest';
import { batches } from '../support/ansible-profile.js';

// profile_tasks' line after each task header: the previous task's duration, then the time since the start.
const stamp = (took: string, since: string) => `Thursday 03 December 2026  07:41:19 +0000 (0:00:${took})       0:${since} ***** `;

describe('batches: per-host times of a serial play, from profile_tasks output', () => {
  it('reads each batch of the matching plays: its host, its length, and its converged wait', () => {
    const out = [
      'PLAY [Upgrade | preflight and order] ****', 'TASK [Gathering Facts] ***', stamp('00.010', '00:00.100'), 'ok: [a1]', 'ok: [a2]',
      'PLAY [Upgrade | the other hosts, one at a time] ****', 'TASK [Gathering Facts] ***', stamp('01.000', '00:10.000'), 'ok: [a2]',
      'TASK [Converged | the agent reports the whole cluster with a ready CCP] ***', stamp('02.000', '00:20.000'), 'ok: [a2]',
      'TASK [next] ***', stamp('07.500', '00:27.500'), 'ok: [a2]',
      'PLAY [Upgrade | the primary and the CCP host, one at a time] ****', 'TASK [Gathering Facts] ***', stamp('01.000', '00:30.000'), 'changed: [a1]',
      'TASK [Converged | the agent reports the whole cluster with a ready CCP] ***', stamp('02.000', '00:40.000'), 'ok: [a1]',
      'PLAY RECAP ****', 'a1 : ok=1', '', stamp('03.000', '00:43.000'),
    ].join('\n');
    expect(batches(out, /^PLAY \[Upgrade \| the (other hosts|primary)/)).toEqual([
      { host: 'a2', seconds: 20, convergedSeconds: 7.5 },
      { host: 'a1', seconds: 13, convergedSeconds: 3 },
    ]);
  });

  it('finds nothing without profile_tasks lines', () => {
    expect(batches('PLAY [Upgrade | the other hosts] ***\nTASK [x] ***\nok: [a2]\n', /^PLAY \[Upgrade/)).toEqual([]);
  });
});
