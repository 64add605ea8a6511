#!/usr/bin/env bash
# Fuzzes the netlink parser (native/src/nlparse.c) under AddressSanitizer + UBSan, and, if
# valgrind is installed, runs a shorter pass under memcheck as well. Exit status 0 only when
# no memory error was found.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
iterations=${1:-200000}
gcc -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -o "$out/fuzz-asan" fuzz.c ../src/nlparse.c
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 "$out/fuzz-asan" -n "$iterations"
if command -v valgrind >/dev/null; then
  gcc -g -O0 -o "$out/fuzz-plain" fuzz.c ../src/nlparse.c
  valgrind -q --error-exitcode=3 --leak-check=full "$out/fuzz-plain" -n $((iterations / 20))
fi
