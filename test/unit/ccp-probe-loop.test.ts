import { describe, expect, it } from 'vitest';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { CcpProbeLoop } from '../../agent/src/daemon/ccp-probe.js';

/** The probe loop's shell: a silent CCP host gets a short probe, even while a long one hangs. */
describe('CcpProbeLoop', () => {
  const a = { host: 'h1', generation: 1, endpoint: 'https://10.0.0.1:6443' };
  function loop(dead: () => boolean, assigned: () => typeof a = () => a) {
    let now = 10_000;
    const probes: { host: string; timeoutMs: number; resolve: (ok: boolean) => void }[] = [];
    const reach: (boolean | null)[] = [];
    const keys: string[] = [];
    const l = new CcpProbeLoop(TimingsSchema.parse({}), { now: () => now }, {
      assignment: assigned,
      situation: () => ({ calm: false, outOfView: null, dead: dead() }),
      probeCcp: (x, _c, timeoutMs) => new Promise<boolean>((resolve) => probes.push({ host: x.host, timeoutMs, resolve })),
      probeAgent: async () => true,
      onReach: (k, ok) => {
        keys.push(k);
        reach.push(ok);
      },
      onAgentProbe: () => undefined,
    });
    return { l, probes, reach, keys, advance: (ms: number) => (now += ms) };
  }

  it('a probe with the long deadline hangs; once the host is dead by its heartbeats a short one goes out beside it, one at a time', async () => {
    let dead = false;
    const { l, probes, reach } = loop(() => dead);
    l.check();
    expect(probes.map((p) => p.timeoutMs)).toEqual([1500]);
    l.check();
    expect(probes, 'one long probe at a time').toHaveLength(1);
    dead = true;
    l.check();
    l.check();
    expect(probes.map((p) => p.timeoutMs)).toEqual([1500, 300]);
    probes[1]!.resolve(false);
    await new Promise((r) => setImmediate(r));
    expect(reach).toEqual([false]);
    l.check();
    expect(probes.map((p) => p.timeoutMs), 'the next short probe').toEqual([1500, 300, 300]);
  });

  it('a probe that fails with an error is no verdict and does not stop the loop', async () => {
    const { l, probes, reach } = loop(() => false);
    l.check();
    probes[0]!.resolve(Promise.reject(new Error('kubeconfig missing')) as unknown as boolean);
    await new Promise((r) => setImmediate(r));
    expect(reach).toEqual([]);
    l.check();
    expect(probes, 'the next probe goes out').toHaveLength(2);
  });

  it('a host heard lately gets the long deadline only', () => {
    const { l, probes } = loop(() => false);
    l.check();
    l.check();
    expect(probes.map((p) => p.timeoutMs)).toEqual([1500]);
  });

  it('a new assignment is probed at once, not after the deadline of a probe of the old one; the old answer is dropped', async () => {
    const b = { host: 'h2', generation: 2, endpoint: 'https://10.0.0.2:6443' };
    let current = a;
    const { l, probes, reach, keys } = loop(() => false, () => current);
    l.check();
    expect(probes.map((p) => p.host)).toEqual(['h1']);
    current = b; // the CCP moved here (or elsewhere) while the probe of h1 hangs
    l.check();
    expect(probes.map((p) => p.host), 'the new CCP probed without waiting').toEqual(['h1', 'h2']);
    l.check();
    expect(probes, 'still one probe at a time for one assignment').toHaveLength(2);
    probes[1]!.resolve(true);
    probes[0]!.resolve(false);
    await new Promise((r) => setImmediate(r));
    expect(keys, 'only the answer about the assigned CCP counts').toEqual(['2@https://10.0.0.2:6443']);
    expect(reach).toEqual([true]);
    l.check();
    expect(probes.map((p) => p.host), 'the old probe ending does not stop the next').toEqual(['h1', 'h2', 'h2']);
  });
});
