#!/usr/bin/env bash
# Runs the unit tests on arm64 Node under qemu-user: npm's arm64 Node build, an arm64
# dependency tree from the lockfile (vitest's native rollup/esbuild packages for arm64), the
# arm64 prebuild of the netlink addon. Child processes (esbuild) are arm64 too, so the qemu
# binfmt handler must be registered; this script registers it when it runs as root.
# Needs: qemu-user-static binfmt-support, the arm64 cross libraries (libc6-arm64-cross,
# libstdc++6-arm64-cross: pulled in by g++-aarch64-linux-gnu), `npm run build` and `npm run prebuilds`.
#   npm run test:arm64 [-- VITEST_ARGS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sysroot=/usr/aarch64-linux-gnu
die() { echo "test:arm64: $*" >&2; exit 1; }
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || die "no arm64 glibc in $sysroot; apt-get install libc6-arm64-cross libstdc++6-arm64-cross"
[ -e "$sysroot/lib/libstdc++.so.6" ] || die "no arm64 libstdc++ in $sysroot; apt-get install libstdc++6-arm64-cross"
[ -f "$root/dist/agent/src/cli/main.js" ] || die "no build (some unit tests run the built CLI); run npm run build"
[ -n "$(ls "$root"/native/prebuilds/linux-arm64/*.node 2>/dev/null)" ] || die "no arm64 prebuild of the netlink addon; run npm run prebuilds"
bash "$root/test/arm64/binfmt.sh"
node_arm64=$("$root/agent/guest/fetch-node.sh" arm64)
export QEMU_LD_PREFIX=$sysroot

# A copy of the sources with an arm64 dependency tree; removed afterwards.
work=$(mktemp -d /tmp/infravisor-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$root" && tar cf - package.json package-lock.json tsconfig.json tsconfig.test.json vitest.config.ts agent test dist docs \
   native/package.json native/binding.gyp native/prebuilds/linux-arm64) | tar xf - -C "$work"
(cd "$work" && npm ci --cpu=arm64 --os=linux --libc=glibc --ignore-scripts --no-audit --no-fund --loglevel=error)
arch=$("$node_arm64" -p process.arch)
[ "$arch" = arm64 ] || die "the arm64 Node reports $arch"
echo "test:arm64: $("$node_arm64" -v) on $arch (qemu-user), unit tests" >&2
cd "$work" && "$node_arm64" node_modules/vitest/vitest.mjs run test/unit "$@"
