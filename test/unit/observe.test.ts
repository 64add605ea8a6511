import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Timeline, type Situation } from '../../agent/src/observe/timeline.js';
import { BoardLed, ledPattern } from '../../agent/src/observe/led.js';
import { EventHook } from '../../agent/src/observe/hooks.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

const base = (o: Partial<Situation>): Situation => ({ now: 0, self: 'h2', excluded: [], carrier: true, role: 'follower', primary: 'h1', term: 1, members: ['h1', 'h2', 'h3'], ccp: { host: 'h1', generation: 1, ready: true }, bound: true, ccpReach: true, silentMs: () => null, isolated: false, ...o });

/** Runs situations through a timeline; returns the events, each with the time it came at. */
function run(steps: Partial<Situation>[]): string[] {
  const t = new Timeline();
  return steps.flatMap((s, i) => t.step(base({ now: i * 1000, ...s })).map((e) => `${i}:${e.name}${e.name === 'failover' ? `:${(e.fields as { durationMs: number }).durationMs}` : ''}${e.name === 'merged' ? `:${String((e.fields as { kept: string }).kept)}` : ''}`));
}

describe('timeline (table)', () => {
  it.each<[string, Partial<Situation>[], string[]]>([
    ['a CCP ready in a steady cluster: nothing', [{}, {}, {}], []],
    [
      'the CCP host is cut: lost when it leaves the view (counted from its last heartbeat), a new one placed and ready: a failover of the time between',
      [{}, { members: ['h2', 'h3'], silentMs: (h) => (h === 'h1' ? 1200 : null) }, { primary: 'h2', members: ['h2', 'h3'], ccp: { host: 'h2', generation: 2, ready: false } }, { primary: 'h2', members: ['h2', 'h3'], ccp: { host: 'h2', generation: 2, ready: true } }],
      ['1:members-changed', '1:ccp-lost', '2:primary-changed', '2:ccp-placed', '3:ccp-ready', '3:failover:3200'],
    ],
    [
      'a merge: the other side\'s CCP kept, this one\'s host still a member: merged, not a failover',
      [{ members: ['h3'], primary: 'h3', ccp: { host: 'h3', generation: 2, ready: true } }, { members: ['h1', 'h2', 'h3'], primary: 'h1', ccp: { host: 'h1', generation: 1, ready: true } }],
      ['1:primary-changed', '1:members-changed', '1:ccp-placed', '1:ccp-ready', '1:merged:h1#1'],
    ],
    [
      'this host cut off starts a CCP of its own: a failover from its cut',
      [{}, { isolated: true, members: ['h2'], primary: 'h2' }, { isolated: true, members: ['h2'], primary: 'h2', ccp: { host: 'h2', generation: 2, ready: true } }],
      ['1:cut-off', '1:primary-changed', '1:members-changed', '1:ccp-lost', '2:ccp-placed', '2:ccp-ready', '2:failover:1000'],
    ],
    ['probes give the CCP up while its host stays in view (its agent lives, the CCP is gone)', [{}, { ccpReach: false }], ['1:ccp-lost']],
    [
      'a heal: the claim met on the new broker does not bind this host yet (an isolated host\'s own): no CCP event until the merged claim names it',
      [{ members: ['h3'], primary: 'h3', ccp: { host: 'h3', generation: 2, ready: true } }, { members: ['h1', 'h3'], primary: 'h1', ccp: { host: 'h1', generation: 4, ready: true }, bound: false }, { members: ['h1', 'h2', 'h3'], primary: 'h1', ccp: { host: 'h3', generation: 2, ready: true } }],
      ['1:primary-changed', '1:members-changed', '2:members-changed'],
    ],
  ])('%s', (_n, steps, want) => {
    expect(run(steps)).toEqual(want);
  });
});

describe('board LED (a fake sysfs tree)', () => {
  it.each([
    ['primary', 'heartbeat', null],
    ['ccp-host', 'none', '1'],
    ['follower', 'none', '0'],
    ['cut-off', 'timer', null],
  ] as const)('%s: trigger %s', (role, trigger, brightness) => {
    const dir = tempDir();
    mkdirSync(join(dir, 'ACT'));
    writeFileSync(join(dir, 'ACT', 'trigger'), 'none [mmc0] timer heartbeat');
    const led = BoardLed.at(dir, 'ACT', () => undefined);
    led.show(role);
    expect(readFileSync(join(dir, 'ACT', 'trigger'), 'utf8')).toBe(trigger);
    if (brightness) expect(readFileSync(join(dir, 'ACT', 'brightness'), 'utf8')).toBe(brightness);
    expect(ledPattern(role).trigger).toBe(trigger);
  });

  it('a board without that LED: one error, then left alone', () => {
    const errors: string[] = [];
    const led = BoardLed.at(tempDir(), 'led9', (e) => errors.push(e.message));
    led.show('primary');
    led.show('follower');
    expect(errors).toHaveLength(1);
  });
});

describe('hooks.onEvent', () => {
  it('runs the command with the event as JSON on stdin, one at a time; a hung one is killed at its timeout', async () => {
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const errors: string[] = [];
    const hook = new EventHook(['sh', '-c', `cat >> ${out}; [ "$(tail -c 40 ${out} | grep -c hang)" = 1 ] && sleep 30; true`], 300, (m) => errors.push(m));
    hook.push({ name: 'failover', fields: { durationMs: 1234 } });
    hook.push({ name: 'hang' });
    hook.push({ name: 'members-changed' });
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').includes('members-changed'), 5000, 'three events through the hook');
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { name: string });
    expect(lines.map((l) => l.name)).toEqual(['failover', 'hang', 'members-changed']);
    expect(errors.join()).toMatch(/killed/);
    hook.stop();
  });
});
