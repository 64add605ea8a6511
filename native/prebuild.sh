#!/usr/bin/env bash
# Builds the N-API prebuilds shipped in the npm package: linux-x64 natively, linux-arm64 and
# linux-arm (armv7, 32-bit Pis) with Debian's cross toolchains where they are installed
# (gcc-aarch64-linux-gnu g++-aarch64-linux-gnu, gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf).
# Output: native/prebuilds/linux-<arch>/*.node, loaded by node-gyp-build.
set -euo pipefail
cd "$(dirname "$0")"
pb=../node_modules/.bin/prebuildify
built=()

host_arch=$(node -p process.arch)
"$pb" --napi --strip --target "node@$(node -p 'process.versions.node')" --arch "$host_arch"
built+=("linux-$host_arch")

cross() { # arch triplet
  local arch=$1 triplet=$2
  if ! command -v "$triplet-g++" >/dev/null; then
    echo "prebuild: skipping linux-$arch ($triplet-g++ not installed)" >&2
    return 0
  fi
  CC="$triplet-gcc" CXX="$triplet-g++" LINK="$triplet-g++" AR="$triplet-ar" PREBUILD_STRIP_BIN="$triplet-strip" \
    "$pb" --napi --strip --target "node@$(node -p 'process.versions.node')" --arch "$arch"
  built+=("linux-$arch")
}
[ "$host_arch" != arm64 ] && cross arm64 aarch64-linux-gnu
[ "$host_arch" != arm ] && cross arm arm-linux-gnueabihf
echo "prebuilds: ${built[*]}"
command -v file >/dev/null && find prebuilds -name "*.node" -exec file {} \; || true
