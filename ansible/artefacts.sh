#!/usr/bin/env bash
# Fills an artefacts directory (infravisor_artefacts_dir) with what this project builds, for
# the given architectures:
#   node/node-vVERSION-linux-ARCH.tar.xz        Node.js (npm's node-linux-ARCH build, laid out
#                                               as the nodejs.org archive: node-vVERSION-linux-ARCH/bin/node)
#   infravisor/infravisor-VERSION-linux-ARCH.tar.gz   the agent bundle (agent/packaging/bundle.sh)
# k3s (k3s/VERSION/: k3s[-arm64|-armhf], k3s-airgap-images-ARCH.tar.zst, sha256sum-ARCH.txt)
# and CRI-O (cri-o/cri-o.ARCH.vVERSION.tar.gz) come from their own release pages: put them
# there yourself (airgapped hosts download nothing).
#
#   ansible/artefacts.sh DIR ARCH... [--with-standin]     ARCH: arm64 x64
# Needs `npm run build` and `npm run prebuilds`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-}; shift || true
[ -n "$dir" ] && [ $# -gt 0 ] || { echo "usage: ansible/artefacts.sh DIR ARCH... [--with-standin]  (ARCH: arm64 x64)" >&2; exit 2; }
standin=""; arches=()
for a in "$@"; do case "$a" in --with-standin) standin=--with-standin ;; arm64|x64) arches+=("$a") ;; *) echo "artefacts: unknown ARCH $a (arm64 or x64)" >&2; exit 2 ;; esac; done
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
mkdir -p "$dir/node" "$dir/infravisor"
for arch in "${arches[@]}"; do
  bin=$("$root/agent/guest/fetch-node.sh" "$arch")
  nv=$(basename "$(dirname "$bin")"); nv=${nv##*-}
  tarball="$dir/node/node-v$nv-linux-$arch.tar.xz"
  if [ ! -f "$tarball" ]; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    install -D -m 0755 "$bin" "$tmp/node-v$nv-linux-$arch/bin/node"
    tar -C "$tmp" --owner=0 --group=0 -cJf "$tarball.tmp" "node-v$nv-linux-$arch" && mv "$tarball.tmp" "$tarball"
    rm -rf "$tmp"; trap - EXIT
  fi
  "$root/agent/packaging/bundle.sh" "$arch" "$dir/infravisor/infravisor-$version-linux-$arch.tar.gz" $standin >/dev/null
  echo "artefacts: $arch: node $nv, infravisor $version" >&2
done
