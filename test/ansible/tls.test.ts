import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Identity } from '../../agent/src/trust/identity.js';
import { labDescribe } from '../support/lab.js';
import { tempDir } from '../support/tmp.js';

/**
 * The infravisor role's TLS tasks (ansible/roles/infravisor/tasks/tls.yml) run for real on this
 * machine as controller and host (connection local): the CA and a host's material are made, a
 * second run changes nothing, the agent accepts what they made, and a host in
 * infravisor_revoked_hosts is in the CRL.
 */
function tools(): string | null {
  for (const t of ['ansible-playbook', 'openssl']) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  return null;
}

function play(dir: string, revoked: string[]) {
  const file = join(dir, 'play.yml');
  writeFileSync(
    file,
    `- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    infravisor_cluster: home
    infravisor_pki_dir: ${dir}/pki
    infravisor_tls_dir: ${dir}/tls
    infravisor_revoked_hosts: ${JSON.stringify(revoked)}
    infravisor_tls_rotate: false
  tasks:
    - ansible.builtin.import_tasks: ${process.cwd()}/ansible/roles/infravisor/tasks/tls.yml
  handlers:
    - name: Restart infravisor
      ansible.builtin.debug:
        msg: restart
`,
  );
  const r = spawnSync('ansible-playbook', ['-i', 'localhost,', file], { encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_DEPRECATION_WARNINGS: 'false' }, timeout: 180_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const recap = /localhost\s+: ok=(\d+)\s+changed=(\d+)/.exec(r.stdout)!;
  return { changed: Number(recap[2]), out: r.stdout };
}

labDescribe(
  'ansible: TLS material for the agents (community.crypto on the controller)',
  () => {
    it('makes a CA and a host certificate the agent accepts; a second run changes nothing; a revoked host is in the CRL', () => {
      const dir = tempDir();
      expect(play(dir, []).changed).toBeGreaterThan(0);
      expect(play(dir, []).changed).toBe(0);
      chmodSync(join(dir, 'tls', 'host.key'), 0o600);
      const id = Identity.load({ ca: join(dir, 'tls/ca.crt'), cert: join(dir, 'tls/host.crt'), key: join(dir, 'tls/host.key'), crl: join(dir, 'tls/ca.crl') }, { name: 'localhost' });
      expect(id.role).toBe('host');
      const verify = () => spawnSync('openssl', ['verify', '-crl_check', '-CAfile', join(dir, 'tls/ca.crt'), '-CRLfile', join(dir, 'tls/ca.crl'), join(dir, 'tls/host.crt')], { encoding: 'utf8' });
      expect(verify().status).toBe(0);
      play(dir, ['localhost']);
      expect(verify().stdout + verify().stderr).toMatch(/certificate revoked/);
      expect(play(dir, ['localhost']).changed).toBe(0);
      expect(play(dir, ['localhost']).out).not.toMatch(/BEGIN (EC )?PRIVATE KEY/);
    }, 600_000);
  },
  tools,
);
