import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { labDir } from '../../agent/src/lab/record.js';

/** What of an agent's log explains a failed lab test: warnings and errors, and peer or view changes. */
const telling = /"level":(4|5|6)0|silent|dead|left|joined|lost|excluded|claim|rendezvous|reconnect/;

/**
 * After a failed test of lab `name`: the telling lines of each host's log (the last `lines`),
 * printed so that a CI log shows them, and every log copied to
 * $INFRAVISOR_TEST_LOGS (default /tmp/infravisor-test-logs)/<lab>-<time>, before the lab goes;
 * with INFRAVISOR_TEST_LOGS set, after every test (copied only).
 */
export function reportLogsOnFailure(name: string, lines = 25): void {
  afterEach((ctx) => {
    const failed = ctx.task.result?.state === 'fail';
    // INFRAVISOR_TEST_LOGS set: the logs are kept after every test, failed or not.
    if (!failed && !process.env.INFRAVISOR_TEST_LOGS) return;
    const dir = labDir(name);
    if (!existsSync(dir)) return;
    const keep = join(process.env.INFRAVISOR_TEST_LOGS ?? '/tmp/infravisor-test-logs', `${name}-${Date.now()}`);
    if (!failed) {
      mkdirSync(keep, { recursive: true });
      for (const host of readdirSync(dir).filter((h) => existsSync(join(dir, h, 'agent.log')))) cpSync(join(dir, host, 'agent.log'), join(keep, `${host}.log`));
      return;
    }
    mkdirSync(keep, { recursive: true });
    for (const host of readdirSync(dir).sort()) {
      const log = join(dir, host, 'agent.log');
      if (!existsSync(log)) continue;
      cpSync(log, join(keep, `${host}.log`));
      const tail = readFileSync(log, 'utf8').split('\n').filter((l) => telling.test(l)).slice(-lines);
      console.log(`--- ${host}: the last ${tail.length} telling lines of its log (all of it in ${keep}) ---\n${tail.join('\n')}`);
    }
  });
}
