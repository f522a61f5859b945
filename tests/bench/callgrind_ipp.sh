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
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1${2:-}" "$bench" --reps "$1" --shared "$shared" \
        ${2:-} >"$tmp/out.$1${2:-}" 2>"$tmp/err.$1${2:-}"
    grep -E '^summary:|^totals:' "$tmp/cg.$1${2:-}" | head -1 | awk '{print $2}'
}
ir1=$(ir 1)
ir3=$(ir 3)
rec1=$(ir 1 --record)
rec3=$(ir 3 --record)
frames=$(sed -n 's/^frames \([0-9]*\) x.*/\1/p' "$tmp/out.1")
grep '^traffic:' "$tmp/out.1"
# A queue with later stages (rules, a service) also fills the frame records they read.
awk -v a="$rec1" -v b="$rec3" -v n="$frames" 'BEGIN {
    printf "callgrind: %.1f instructions per packet for parse+classify+count+record (the rule and service stages read the records)\n", (b - a) / (2 * n) }'
awk -v a="$ir1" -v b="$ir3" -v n="$frames" 'BEGIN {
    printf "callgrind: %.1f instructions per packet for parse+classify+count (%d frames, target <= 60)\n", (b - a) / (2 * n), n }'
