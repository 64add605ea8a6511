#!/usr/bin/env bash
# Makes a self-contained agent directory for one CPU architecture, to copy onto a host that
# has Node 20 and nothing else: the built agent, its production dependencies resolved from
# the lockfile with that architecture's native packages (ffi-rs), and the netlink addon's
# prebuild for it. Nothing compiles on the target and nothing is downloaded there.
#
#   agent/packaging/bundle.sh ARCH OUT [--with-standin]
#     ARCH: arm64 (64-bit Pi OS / Debian), arm (armv7, 32-bit Pis) or x64
#     OUT: a directory, or a file ending in .tar.gz (one top directory `infravisor/`: the
#          artefact the Ansible role `infravisor` installs)
#     --with-standin: also ship the k3s stand-in test fixture (the emulated lab's CCP)
#
# The bundle's bundle.json names its version and architecture (Ansible checks it before
# installing). Needs `npm run build` and `npm run prebuilds` first. Prints OUT when done.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=${1:-}; out=${2:-}; standin=${3:-}
case "$arch" in arm64|arm|x64) ;; *) echo "bundle: ARCH must be arm64, arm or x64 (got '${arch}')" >&2; exit 2 ;; esac
[ -n "$out" ] || { echo "bundle: give an output directory: bundle.sh $arch OUT_DIR" >&2; exit 2; }
[ -f "$root/dist/agent/src/cli/main.js" ] || { echo "bundle: no build found; run npm run build first" >&2; exit 1; }
prebuild="$root/native/prebuilds/linux-$arch"
[ -n "$(ls "$prebuild"/*.node 2>/dev/null)" ] || { echo "bundle: no netlink prebuild for linux-$arch; run npm run prebuilds (it needs Debian's cross compiler for $arch)" >&2; exit 1; }

stage="$out.tmp.$$"
trap 'rm -rf "$stage"' EXIT
rm -rf "$stage"; mkdir -p "$stage/native/prebuilds" "$stage/agent"
cp "$root/package.json" "$root/package-lock.json" "$stage/"
cp -r "$root/dist" "$stage/dist"; rm -rf "$stage/dist/test" "$stage/dist/bench"
cp -r "$root/agent/proto" "$root/agent/systemd" "$root/agent/ui" "$stage/agent/"
cp "$root/native/package.json" "$stage/native/"
cp -r "$prebuild" "$stage/native/prebuilds/"
if [ "$standin" = --with-standin ]; then
  mkdir -p "$stage/test/fixtures"; cp -r "$root/test/fixtures/k3s-standin" "$stage/test/fixtures/"
fi
libc=glibc
# --ignore-scripts: the install script would build the addon for this machine, not for ARCH.
(cd "$stage" && npm ci --omit=dev --ignore-scripts --cpu="$arch" --os=linux --libc="$libc" --no-audit --no-fund --loglevel=error >&2)
ffi=$(ls -d "$stage"/node_modules/@yuuang/ffi-rs-linux-* 2>/dev/null | xargs -n1 basename | tr '\n' ' ')
case "$arch:$ffi" in
  arm64:*arm64-gnu*|arm:*arm-gnueabihf*|x64:*x64-gnu*) ;;
  *) echo "bundle: ffi-rs has no native package for linux-$arch in node_modules (found: ${ffi:-none})" >&2; exit 1 ;;
esac
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
printf '{"name":"infravisor","version":"%s","arch":"%s","platform":"linux","libc":"%s"}\n' "$version" "$arch" "$libc" > "$stage/bundle.json"
case "$out" in
  *.tar.gz)
    mkdir -p "$(dirname "$out")"
    top="$stage.top"; rm -rf "$top"; mkdir -p "$top"; mv "$stage" "$top/infravisor"
    trap 'rm -rf "$top"' EXIT
    tar -C "$top" --owner=0 --group=0 -czf "$out.tmp" infravisor && mv "$out.tmp" "$out"
    rm -rf "$top" ;;
  *) rm -rf "$out"; mv "$stage" "$out" ;;
esac
trap - EXIT
echo "$out"
