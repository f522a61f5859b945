#!/usr/bin/env bash
# The README's first command: install what is missing, build, generate a traffic mix of every
# class plus NTP requests to the demo service, and run the engine on a net_pcap port over it,
# printing the per-class table and what the NTP service answered.
# No NIC and no hugepages needed (EAL runs with --no-huge). Extra arguments go to ports-engine's
# app side, e.g. scripts/demo.sh --stats-interval 1
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null
mkdir -p build/demo
build/tests/gen/ports-gen --out build/demo/mix.pcap --count 20000 --seed 1 --ntp-clients 2000 \
    --expect build/demo/expected.json
echo "generated build/demo/mix.pcap: 20000 frames of every class and 2000 NTP requests to the demo"
echo "service 192.0.2.1 (tally: build/demo/expected.json); NTP replies go to build/demo/replies.pcap"
exec build/engine/ports-engine --no-huge -m 256 --no-pci --no-shconf --file-prefix "ports-demo-$$" \
    -l 0 --log-level=warning -- --config configs/demo.yaml --duration 2 \
    --stats-json build/demo/stats.json "$@"
