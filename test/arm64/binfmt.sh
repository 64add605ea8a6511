#!/usr/bin/env bash
# Registers qemu-user's binfmt handler for arm64 programs when it is missing (this machine's
# PID 1 does not do it at boot). Needs root, qemu-user-static and binfmt-support.
# Used by .ci/install and test/arm64/unit.sh.
set -euo pipefail
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "binfmt: the qemu-aarch64 handler is not registered; run as root, or: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable qemu-aarch64" >&2; exit 1; }
command -v update-binfmts >/dev/null || { echo "binfmt: update-binfmts is missing; apt-get install binfmt-support qemu-user-static" >&2; exit 1; }
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || update-binfmts --import qemu-aarch64
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "binfmt: could not register the qemu-aarch64 handler" >&2; exit 1; }
