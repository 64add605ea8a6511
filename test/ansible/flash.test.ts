import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { labDescribe } from '../support/lab.js';

/**
 * ansible/flash.yml on an image file laid out as a Pi image (a FAT boot partition and an ext4
 * root), attached through a loop device to check what it injected. A block device target
 * is refused without the explicit flag; a dry run writes nothing.
 */
const ROOT = process.cwd();
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlashTestKeyOnlyForTheTest test@infravisor';

export function flashPrerequisites(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (loop devices, mounts)';
  for (const t of ['ansible-playbook', 'sfdisk', 'mkfs.vfat', 'mkfs.ext4', 'losetup', 'mcopy']) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  return null;
}

const sh = (cmd: string) => execFileSync('bash', ['-c', cmd], { encoding: 'utf8' });
const loops: string[] = [];
const mounts: string[] = [];

/** A 64 MiB image: partition 1 FAT (boot), partition 2 ext4 with /etc and /root (rootfs). */
/** Attaches partition N (1-based) of an image through a loop device at its offset. */
function attachPartition(file: string, n: number, readOnly = false): string {
  const t = JSON.parse(sh(`sfdisk --json ${file}`)) as { partitiontable: { sectorsize?: number; partitions: { start: number; size: number }[] } };
  const p = t.partitiontable.partitions[n - 1]!;
  const sector = t.partitiontable.sectorsize ?? 512;
  const loop = sh(`losetup --find --show ${readOnly ? '--read-only ' : ''}--offset ${p.start * sector} --sizelimit ${p.size * sector} ${file}`).trim();
  loops.push(loop);
  return loop;
}

function piImage(file: string): void {
  sh(`truncate -s 64M ${file} && printf 'label: dos\\n,16M,c\\n,,83\\n' | sfdisk -q ${file}`);
  const seed = mkdtempSync('/var/tmp/iv-flash-seed-');
  mkdirSync(join(seed, 'etc/NetworkManager/system-connections'), { recursive: true });
  mkdirSync(join(seed, 'root'), { recursive: true });
  writeFileSync(join(seed, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n');
  try {
    sh(`mkfs.vfat -n bootfs ${attachPartition(file, 1)} >/dev/null && mkfs.ext4 -q -L rootfs -d ${seed} ${attachPartition(file, 2)}`);
  } finally {
    rmSync(seed, { recursive: true, force: true });
    for (const l of loops.splice(0)) spawnSync('losetup', ['--detach', l]);
  }
}

function flash(args: Record<string, string | boolean>): { code: number; out: string } {
  const extra = ['-e', JSON.stringify(args)];
  const r = spawnSync('ansible-playbook', [join(ROOT, 'ansible/flash.yml'), ...extra], { cwd: join(ROOT, 'ansible'), encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

labDescribe(
  'ansible: flash.yml writes an image and injects the first boot',
  () => {
    let work = '';
    beforeAll(() => {
      work = mkdtempSync('/var/tmp/iv-flash-');
      piImage(join(work, 'pi.img'));
    });
    afterEach(() => {
      for (const m of mounts.splice(0).reverse()) spawnSync('umount', [m]);
      for (const l of loops.splice(0)) spawnSync('losetup', ['--detach', l]);
    });
    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const base = () => ({ flash_image: join(work, 'pi.img'), flash_hostname: 'pi7', flash_ssh_public_key: KEY, flash_address: '192.168.1.17/24', flash_gateway: '192.168.1.1' });

    it('a dry run (the default) writes nothing', () => {
      const out = join(work, 'dry.img');
      const r = flash({ ...base(), flash_target: out });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain(`write ${join(work, 'pi.img')} to ${out}`);
      expect(existsSync(out)).toBe(false);
    }, 120_000);

    it('writes the image file and injects hostname, SSH key and network', () => {
      const out = join(work, 'out.img');
      const r = flash({ ...base(), flash_target: out, flash_dry_run: false });
      expect(r.code, r.out).toBe(0);
      expect(statSync(out).size).toBe(statSync(join(work, 'pi.img')).size);
      // The role left nothing attached.
      expect(sh(`losetup -j ${out}`).trim()).toBe('');
      const mnt = join(work, 'mnt');
      mkdirSync(join(mnt, 'root'), { recursive: true });
      sh(`mount -o ro ${attachPartition(out, 2, true)} ${mnt}/root`);
      mounts.push(join(mnt, 'root'));
      // The FAT boot partition, read with mtools (this machine's kernel has no vfat).
      const t = JSON.parse(sh(`sfdisk --json ${out}`)) as { partitiontable: { partitions: { start: number }[] } };
      expect(sh(`MTOOLS_SKIP_CHECK=1 mdir -b -i ${out}@@${t.partitiontable.partitions[0]!.start * 512} ::/`)).toMatch(/^::\/SSH$/im);
      expect(readFileSync(join(mnt, 'root/etc/hostname'), 'utf8')).toBe('pi7\n');
      expect(readFileSync(join(mnt, 'root/etc/hosts'), 'utf8')).toMatch(/^127\.0\.1\.1\s+pi7$/m);
      expect(readFileSync(join(mnt, 'root/etc/hosts'), 'utf8')).not.toMatch(/raspberrypi/);
      expect(readFileSync(join(mnt, 'root/root/.ssh/authorized_keys'), 'utf8')).toBe(`${KEY}\n`);
      expect(statSync(join(mnt, 'root/root/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(mnt, 'root/etc/systemd/network/10-infravisor.network'), 'utf8')).toMatch(/Address=192\.168\.1\.17\/24\nGateway=192\.168\.1\.1/);
      expect(readFileSync(join(mnt, 'root/etc/NetworkManager/system-connections/infravisor-eth0.nmconnection'), 'utf8')).toMatch(/address1=192\.168\.1\.17\/24,192\.168\.1\.1/);
    }, 120_000);

    it('refuses a block device without the explicit flag, and names it', () => {
      const dev = sh(`losetup --find --show ${join(work, 'pi.img')}`).trim();
      loops.push(dev);
      const r = flash({ ...base(), flash_target: dev, flash_dry_run: false });
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`${dev} is a block device: pass -e flash_allow_block_device=true`);
    }, 120_000);

    it('names the missing variables', () => {
      const r = flash({ flash_target: join(work, 'x.img') });
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/Set these variables: flash_image, flash_hostname, flash_ssh_public_key/);
    }, 120_000);
  },
  flashPrerequisites,
);
