import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { deriveK3sToken } from '../../agent/src/ccp/config.js';
import { Secret } from '../../agent/src/config/secret.js';
import { loadRecord } from '../../agent/src/lab/record.js';
import { lab, labDescribe, labPrerequisites } from '../support/lab.js';
import { converged } from '../support/converged.js';
import { reportLogsOnFailure } from '../support/failure-logs.js';
import { waitFor } from '../support/wait.js';

/**
 * The control channel on the lab's wire: what an attacker on the LAN sees during a failover, and
 * what revoking a host does. 4 hosts.
 */
const NAME = 't-sec';
vi.setConfig({ testTimeout: 120_000 });

const tcpdumpMissing = () => labPrerequisites() ?? (existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump') ? null : 'needs tcpdump');

labDescribe(
  'security on the lab wire',
  () => {
    beforeAll(async () => {
      await lab.down(NAME).catch(() => undefined);
      await lab.up({ name: NAME, hosts: 4, subnet: '10.93.0.0/24' });
      await converged(NAME, 'initial formation', { timeoutMs: 30_000 });
    });
    afterAll(async () => {
      await lab.down(NAME);
    });
    reportLogsOnFailure(NAME);

    it('a capture of the wire during a failover and a merge holds no secret, token, manifest or key', async () => {
      const rec = loadRecord(NAME);
      const pcap = join(rec.dir, 'wire.pcap');
      // Every frame through the switch's bridge: all the hosts' traffic.
      const dump = spawn('ip', ['netns', 'exec', rec.switchNs, 'tcpdump', '-i', rec.bridge, '-U', '-s', '0', '-w', pcap], { stdio: 'ignore' });
      try {
        await waitFor(() => existsSync(pcap), 5000, 'tcpdump started');
        const ccpHost = (await lab.status(NAME)).clusters[0]!.ccp!.host;
        await lab.cut(NAME, ccpHost);
        await converged(NAME, 'CCP host cut', { expected: (s) => s.clusters.length === 2, timeoutMs: 30_000 });
        await lab.heal(NAME);
        await converged(NAME, 'heal', { expected: (s) => s.clusters.length === 1, timeoutMs: 30_000 });
      } finally {
        dump.kill('SIGTERM');
        await new Promise((r) => dump.once('close', r));
      }
      const wire = readFileSync(pcap);
      expect(wire.length).toBeGreaterThan(10_000); // it did capture the traffic
      const secret = readFileSync(join(rec.dir, 'cluster.secret'), 'utf8').trim();
      const keyOf = (h: string) => readFileSync(join(rec.dir, h, 'tls', `${h}.key`), 'utf8').replace(/-----[^-]+-----|\s/g, '');
      const needles: [string, string][] = [
        ['the cluster secret', secret],
        ['the k3s token', deriveK3sToken(new Secret(secret), rec.cluster)],
        ['the manifest', 'kind: Namespace'],
        ['a private key', Buffer.from(keyOf('h1'), 'base64').subarray(-40).toString('hex')],
      ];
      for (const [what, s] of needles) {
        expect(wire.includes(Buffer.from(s)), what).toBe(false);
        expect(wire.includes(Buffer.from(s, 'utf16le')), `${what} (UTF-16)`).toBe(false);
      }
      // …while the topics' names, in clear on a plaintext broker, are not either: all MQTT is TLS.
      expect(wire.includes(Buffer.from(`ivr/v1/${rec.cluster}/presence`)), 'an MQTT topic in clear').toBe(false);
    });

    it('a revoked host is refused by every broker: the others form their cluster without it and keep their CCP', async () => {
      const before = await lab.status(NAME);
      const ccp = before.clusters[0]!.ccp!;
      const victim = ['h4', 'h3', 'h2'].find((h) => h !== ccp.host && h !== before.clusters[0]!.primary)!;
      await lab.revoke(NAME, victim);
      const st = await converged(NAME, `${victim} revoked`, { expected: (s) => s.clusters.some((c) => c.members.length === 3 && !c.members.includes(victim)), timeoutMs: 40_000 });
      const rest = st.clusters.find((c) => !c.members.includes(victim))!;
      expect(rest.ccp).toMatchObject({ host: ccp.host, generation: ccp.generation });
      // The victim, refused everywhere, is a cluster of its own (not of the broker it last had).
      expect(st.clusters.find((c) => c.members.includes(victim))?.members).toEqual([victim]);
      const refused = st.hosts.filter((h) => h.name !== victim).reduce((n, h) => n + (h.view?.broker.failedHandshakes ?? 0), 0);
      expect(refused).toBeGreaterThan(0);
      // …and it tries again after a doubling wait: a few handshakes a second over all the brokers,
      // its own included, not hundreds (an immediate retry on its own broker made ~350/s).
      const all = st.hosts.reduce((n, h) => n + (h.view?.broker.failedHandshakes ?? 0), 0);
      expect(all).toBeLessThan(300);
    });
  },
  tcpdumpMissing,
);
