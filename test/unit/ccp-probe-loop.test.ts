import { describe, expect, it } from 'vitest';
import { TimingsSchema } from '../../agent/src/config/schema.js';
import { CcpProbeLoop } from '../../agent/src/daemon/ccp-probe.js';

/** The probe loop's shell: a silent CCP host gets a short probe, even while a long one hangs. */
describe('CcpProbeLoop', () => {
  const a = { host: 'h1', generation: 1, endpoint: 'https://10.0.0.1:6443' };
  function loop(dead: () => boolean) {
    let now = 10_000;
    const probes: { timeoutMs: number; resolve: (ok: boolean) => void }[] = [];
    const reach: (boolean | null)[] = [];
    const l = new CcpProbeLoop(TimingsSchema.parse({}), { now: () => now }, {
      assignment: () => a,
      situation: () => ({ calm: false, outOfView: null, dead: dead() }),
      probeCcp: (_a, _c, timeoutMs) => new Promise<boolean>((resolve) => probes.push({ timeoutMs, resolve })),
      probeAgent: async () => true,
      onReach: (_k, ok) => reach.push(ok),
      onAgentProbe: () => undefined,
    });
    return { l, probes, reach, advance: (ms: number) => (now += ms) };
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
});
