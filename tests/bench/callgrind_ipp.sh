#!/usr/bin/env bash
# Instructions per packet of parse+classify+count (no PMD), measured with callgrind as the
# difference between two runs of bench-classify (3 and 1 repetitions over the same frames), so
# start-up and capture loading cancel out. Usage: callgrind_ipp.sh BENCH_CLASSIFY [SHARED_DIR]
set -euo pipefail
bench=$1
shared=${2:-../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$bench" --reps "$1" --shared "$shared" \
        >"$tmp/out.$1" 2>"$tmp/err.$1"
    grep -E '^summary:|^totals:' "$tmp/cg.$1" | head -1 | awk '{print $2}'
}
ir1=$(ir 1)
ir3=$(ir 3)
frames=$(sed -n 's/^frames \([0-9]*\) x.*/\1/p' "$tmp/out.1")
grep '^traffic:' "$tmp/out.1"
awk -v a="$ir1" -v b="$ir3" -v n="$frames" 'BEGIN {
    printf "callgrind: %.1f instructions per packet for parse+classify+count (%d frames, target <= 60)\n", (b - a) / (2 * n), n }'
