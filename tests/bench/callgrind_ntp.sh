#!/usr/bin/env bash
# Instructions per unauthenticated NTP reply of the engine alone (classify, serve, build,
# checksums, flush), measured with callgrind: the differential between 300k and 100k packets
# of bench-ntp's plain mode, minus the same differential of its raw forward mode, so start-up,
# the PMD's rx/tx and the bench's wire cancel out.
# Usage: callgrind_ntp.sh BUILD_DIR [KEYS]
set -euo pipefail
build=$1
keys=${2:-configs/ntp-test.keys}
bench="$build/tests/bench/bench-ntp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1.$2" "$bench" --mode "$1" \
        --packets "$2" --keys "$keys" >"$tmp/out.$1.$2" 2>"$tmp/err.$1.$2"
    grep -E '^summary:|^totals:' "$tmp/cg.$1.$2" | head -1 | awk '{print $2}'
}
f1=$(ir forward 100000)
f3=$(ir forward 300000)
p1=$(ir plain 100000)
p3=$(ir plain 300000)
awk -v f1="$f1" -v f3="$f3" -v p1="$p1" -v p3="$p3" 'BEGIN {
    printf "callgrind: %.1f instructions per NTP reply (engine only, target <= 300)\n", ((p3 - p1) - (f3 - f1)) / 200000 }'
