/** What profile_tasks printed: per serial batch of `play`, its host and how long the batch and its converged wait took. */
export function batches(out: string, play: RegExp): { host: string; seconds: number; convergedSeconds: number }[] {
  // profile_tasks: after each task header, "<date> (0:00:01.234)       0:01:02.345 ****": the previous
  // task's duration and the time elapsed since the start.
  const stamp = /\((\d+):(\d+):([\d.]+)\)\s+(\d+):(\d+):([\d.]+)\s+\*+\s*$/;
  const secs = (h: string, m: string, sec: string) => Number(h) * 3600 + Number(m) * 60 + Number(sec);
  const lines = out.split('\n');
  const marks: { i: number; task: string; elapsed: number; previous: number }[] = [];
  let header = '';
  lines.forEach((l, i) => {
    if (/^(TASK|PLAY|RUNNING HANDLER) \[/.test(l)) header = l;
    const m = stamp.exec(l);
    if (m) marks.push({ i, task: header, elapsed: secs(m[4]!, m[5]!, m[6]!), previous: secs(m[1]!, m[2]!, m[3]!) });
  });
  const result: { host: string; seconds: number; convergedSeconds: number }[] = [];
  // A play ends where the next one starts, the last one at the recap.
  const starts = lines.flatMap((l, i) => (/^PLAY (\[|RECAP)/.test(l) ? [i] : []));
  starts.forEach((start, k) => {
    if (!play.test(lines[start]!)) return;
    const end = starts[k + 1] ?? lines.length;
    const chunk = lines.slice(start, end).join('\n');
    const host = /^(?:ok|changed): \[(\S+)\]/m.exec(chunk)?.[1];
    const inside = marks.filter((m) => m.i > start && m.i < end);
    const after = marks.find((m) => m.i >= end);
    if (!host || !inside.length || !after) return;
    const converged = marks.findIndex((m) => m.i > start && m.task.includes('the agent reports the whole cluster'));
    const next = marks[converged + 1];
    result.push({ host, seconds: after.elapsed - inside[0]!.elapsed, convergedSeconds: converged >= 0 && next ? next.previous : NaN });
  });
  return result;
}
