import { existsSync } from 'node:fs';
import { describe } from 'vitest';
import * as lab from '../../agent/src/lab/lab.js';
import type { LabStatus } from '../../agent/src/lab/status.js';

/**
 * Lab suites need root, iproute2 and nftables. Outside CI they are skipped with the reason
 * in their title; under CI (CI=true) they run regardless and fail if they cannot.
 */
export function labPrerequisites(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip')) return 'needs iproute2';
  if (!existsSync('/usr/sbin/nft')) return 'needs nftables';
  if (!existsSync('dist/agent/src/cli/main.js')) return 'needs a build (npm run build)';
  return null;
}

/** VM labs also need QEMU for the architecture and cpio (the guest image is built on first use). */
export function vmPrerequisites(): string | null {
  const base = labPrerequisites();
  if (base) return base;
  const onPath = (b: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(`${d}/${b}`));
  if (!onPath('qemu-system-aarch64')) return 'needs qemu-system-aarch64 (apt-get install qemu-system-arm)';
  if (!onPath('cpio')) return 'needs cpio';
  return null;
}

export function labDescribe(title: string, fn: () => void, prerequisites: () => string | null = labPrerequisites): void {
  const missing = prerequisites();
  if (missing && process.env.CI !== 'true') {
    describe.skip(`${title} (skipped: ${missing})`, fn);
    return;
  }
  describe(title, fn);
}

export const viewsOf = (st: LabStatus) => new Map(st.hosts.map((h) => [h.name, h.view?.view ?? null]));

/** Every running host sees exactly `members`. */
export function allSee(st: LabStatus, members: string[]): boolean {
  const want = [...members].sort().join();
  return st.hosts.filter((h) => members.includes(h.name)).every((h) => h.view?.view.join() === want);
}

export { lab };
