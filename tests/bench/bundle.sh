#!/usr/bin/env bash
# Packs bench-scaling with every shared library it loads (glibc's loader included), the mempool
# driver EAL would load from its plugin folder, and the shared captures, so it runs on a
# many-core box without DPDK installed:
#   tests/bench/bundle.sh BUILD_DIR OUT_DIR
#   OUT_DIR/run.sh --lanes 1,2,4,8,15 --seconds 1 --rounds 2
set -euo pipefail
build=$1
out=$2
rm -rf "$out"
mkdir -p "$out/lib" "$out/pmds" "$out/shared"
cp "$build/tests/bench/bench-scaling" "$out/"
strip "$out/bench-scaling"
ldd "$out/bench-scaling" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp -L /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_mempool_ring.so.23 "$out/pmds/"
cp -r "$(dirname "$0")/../../../shared/pcaps" "$out/shared/" 2>/dev/null || true
cat > "$out/run.sh" <<'RUN'
#!/bin/bash
# EAL loads only plugin files named *.so from a folder: give it the driver file itself.
cd "$(dirname "$0")"
nproc
lscpu | grep -E "Model name|Socket|NUMA node"
if [ -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0 ]; then
    exec ./bench-scaling --shared shared "$@"
fi
exec lib/ld-linux-x86-64.so.2 --library-path lib ./bench-scaling \
    --plugins pmds/librte_mempool_ring.so.23 --shared shared "$@"
RUN
chmod +x "$out/run.sh"
