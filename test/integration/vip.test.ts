import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IpVip } from '../../agent/src/ccp/vip.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import { labDescribe } from '../support/lab.js';

/**
 * The cluster address with real `ip` and `arping` on a real switch: three namespaces on a
 * bridge, two that take the address in turn and a member whose neighbour entry must follow.
 */
const P = `ivt-vip-${process.pid}-`;
const NS = { sw: `${P}sw`, a: `${P}a`, b: `${P}b`, m: `${P}m` };
const ADDR = { a: '10.97.0.1', b: '10.97.0.2', m: '10.97.0.3' };
const VIP = '10.97.0.250';
const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const inNs = (ns: string) => (argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
const mac = (ns: string) => /link\/ether (\S+)/.exec(ip('-n', ns, 'link', 'show', 'eth0'))![1]!;
/** The member's neighbour entry for the address: its link-layer address, or null. */
const entry = () => /lladdr (\S+)/.exec(ip('-n', NS.m, 'neigh', 'show', VIP, 'dev', 'eth0'))?.[1] ?? null;
const ping = () => execFileSync('ip', ['netns', 'exec', NS.m, 'ping', '-c', '1', '-W', '1', VIP], { stdio: 'ignore' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

labDescribe('cluster address: ip and arping on a real switch', () => {
  const a = new IpVip(() => 'eth0', silentLogger(), inNs(NS.a));
  const b = new IpVip(() => 'eth0', silentLogger(), inNs(NS.b));
  const m = new IpVip(() => 'eth0', silentLogger(), inNs(NS.m));

  beforeAll(() => {
    ip('netns', 'add', NS.sw);
    ip('-n', NS.sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', NS.sw, 'link', 'set', 'br0', 'up');
    for (const h of ['a', 'b', 'm'] as const) {
      ip('netns', 'add', NS[h]);
      ip('-n', NS.sw, 'link', 'add', `p-${h}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS[h]);
      ip('-n', NS.sw, 'link', 'set', `p-${h}`, 'master', 'br0', 'up');
      ip('-n', NS[h], 'address', 'add', `${ADDR[h]}/24`, 'dev', 'eth0');
      ip('-n', NS[h], 'link', 'set', 'eth0', 'up');
    }
  });
  afterAll(() => {
    for (const ns of Object.values(NS)) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* not made */
      }
    }
  });

  it('the holder answers for it; an announcement by the next holder moves the member\'s existing entry; giving up and forgetting twice is no error', async () => {
    await a.hold(VIP);
    await a.hold(VIP); // idempotent
    ping();
    expect(entry()).toBe(mac(NS.a));
    await a.release(VIP);
    await a.release(VIP);
    await b.hold(VIP);
    await b.announce(VIP);
    await sleep(100);
    // No packet from the member in between: the gratuitous ARP alone moved its entry.
    expect(entry()).toBe(mac(NS.b));
    ping();
    await m.forget(VIP);
    expect(entry()).toBeNull();
    await m.forget(VIP);
    ping();
    expect(entry()).toBe(mac(NS.b));
    expect(ip('-n', NS.a, 'address', 'show', 'dev', 'eth0')).not.toContain(VIP);
    await b.release(VIP);
    expect(ip('-n', NS.b, 'address', 'show', 'dev', 'eth0')).not.toContain(VIP);
  });

  it('an unknown interface, or none found, is an error that says so', async () => {
    const bad = new IpVip(() => 'nope0', silentLogger(), inNs(NS.a));
    await expect(bad.hold(VIP)).rejects.toThrow(/nope0/);
    const none = new IpVip(() => null, silentLogger(), inNs(NS.a));
    await expect(none.hold(VIP)).rejects.toThrow(/set link.interface/);
  });
});
