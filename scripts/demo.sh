#!/usr/bin/env bash
# The README's first command: install what is missing, build, generate a traffic mix of every
# class plus NTP requests to the demo service, and run the engine on a net_pcap port over it,
# printing a few rule alerts, the per-class table, what the NTP service answered and where every
# output went. No NIC and no hugepages needed (EAL runs with --no-huge). Extra arguments go to
# ports-engine's app side, e.g. scripts/demo.sh --stats-interval 1
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/demo
shown_alerts=3

bash scripts/install-deps.sh
# The first build compiles ~150 files (minutes on 2 cores): one progress line per tenth, and
# whatever the compiler says on an error.
echo "demo: building ports-engine in ./build (the first build takes several minutes)"
NINJA_STATUS='[%f/%t] ' bash scripts/build.sh | awk '
    /^\[[0-9]+\/[0-9]+\] / {
        split(substr($1, 2), n, "/"); tenth = int(10 * n[1] / n[2])
        if (tenth > last) { last = tenth; printf "demo: build %d%% (%d of %d steps)\n", 10 * tenth, n[1], n[2]; fflush() }
        next
    }
    /^ninja: (Entering|no work)/ { next }
    { print; fflush() }'
echo "demo: built"

mkdir -p "$out"
rm -f "$out/alerts.log" "$out/replies.pcap"
build/tests/gen/ports-gen --out "$out/mix.pcap" --count 20000 --seed 1 --ntp-clients 2000 \
    --expect "$out/expected.json" >/dev/null
echo "demo: generated $out/mix.pcap: 20000 frames of every class and 2000 NTP requests to the"
echo "      demo service 192.0.2.1; running the engine on it for 2 s (net_pcap, one lcore)"
# The engine's tables (stdout) are kept for the end, its log goes to a file: on a failure it is
# shown whole, else only its warnings.
if ! build/engine/ports-engine --no-huge -m 256 --no-pci --no-shconf --file-prefix "ports-demo-$$" \
    -l 0 --log-level=warning -- --config configs/demo.yaml --duration 2 \
    --stats-json "$out/stats.json" --alerts "$out/alerts.log" "$@" \
    >"$out/summary.txt" 2>"$out/engine.log"; then
    cat "$out/engine.log" >&2
    echo "demo: the engine failed (log above, also in $out/engine.log)" >&2
    exit 1
fi
grep -E '^[0-9T:.-]+ (warning|error|critical) ' "$out/engine.log" || true

alerts=$(wc -l <"$out/alerts.log")
echo
echo "rule alerts: $alerts lines (at most 10 a second per rule); the first $shown_alerts:"
head -n "$shown_alerts" "$out/alerts.log" | cut -c1-150
echo
cat "$out/summary.txt"
echo
# The replies, read back from the pcap (IPv4/UDP: the demo service's address family).
python3 - "$out/replies.pcap" <<'PY'
import datetime, struct, sys
NTP_EPOCH = datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc)
def stamp(b):
    sec, frac = struct.unpack("!II", b)
    t = NTP_EPOCH + datetime.timedelta(seconds=sec + frac / 2**32)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")
data = open(sys.argv[1], "rb").read()
off, shown, total = 24, [], 0
while off + 16 <= len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    total += 1
    if len(shown) < 3 and len(frame) >= 14 + 20 + 8 + 48 and frame[12:14] == b"\x08\x00":
        ihl = (frame[14] & 0x0F) * 4
        ntp = frame[14 + ihl + 8:]
        dst = ".".join(str(x) for x in frame[30:34])
        refid = ntp[12:16].decode("ascii", "replace").rstrip("\0")
        disp = struct.unpack("!I", ntp[8:12])[0] / 65536 * 1e6
        shown.append(f"  to {dst}: mode {ntp[0] & 7}, stratum {ntp[1]}, refid {refid}, "
                     f"root dispersion {disp:.0f} us\n"
                     f"    receive  {stamp(ntp[32:40])} (the capture's record time)\n"
                     f"    transmit {stamp(ntp[40:48])} (the engine's clock)")
print(f"NTP answers: {total} in {sys.argv[1]}; the first {len(shown)}:")
print("\n".join(shown))
PY
echo
echo "outputs in $out/: mix.pcap (input), expected.json (the generator's tally),"
echo "  replies.pcap (NTP replies), stats.json (every counter), alerts.log ($alerts alerts),"
echo "  summary.txt (the tables above), engine.log (the engine's log)"
