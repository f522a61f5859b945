"""ports-engine (net_pcap) and ports-analyze agree on every shared capture, and both match the
per-class counts derived independently from TShark's dissection (expected_counts.json, made by
derive_expected.py; see its docstring). The engine tracks tunnels (a tunnels: section) as
ports-analyze --json does, so the classes' inner_* counters agree too.

Usage: test_captures.py ENGINE ANALYZE SHARED_DIR   (ENGINE "-": ports-analyze only, e.g. in the
sanitizer build, which has no DPDK engine)
Exits 77 (meson: skipped) when SHARED_DIR/pcaps is absent, as in a fresh clone without ../shared.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import classes_of, run_engine  # noqa: E402


def main():
    engine, analyze, shared = sys.argv[1:4]
    pcaps = os.path.join(shared, "pcaps")
    if not os.path.isdir(pcaps):
        print(f"SKIP: {pcaps} is absent (the shared captures sit beside the clone in CI)")
        return 77
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected_counts.json")) as f:
        expected = json.load(f)["captures"]

    failures = []
    checked = 0
    engine_runs = 0
    for rel, exp in sorted(expected.items()):
        path = os.path.join(pcaps, rel)
        if not os.path.exists(path):
            failures.append(f"{rel}: listed in expected_counts.json but missing")
            continue
        p = subprocess.run([analyze, "--json", path], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            failures.append(f"{rel}: ports-analyze exit {p.returncode}: {p.stderr.strip()}")
            continue
        offline = json.loads(p.stdout)
        got = classes_of(offline, ("packets", "bytes"))
        if got != exp["classes"]:
            failures.append(f"{rel}: ports-analyze {got} != tshark-derived {exp['classes']}")
        if offline["total"]["packets"] != exp["frames"]:
            failures.append(f"{rel}: {offline['total']['packets']} frames, expected {exp['frames']}")
        checked += 1
        # The DPDK engine sees Ethernet frames only: net_pcap hands it the records as they are
        # (pcap or pcapng, through libpcap).
        if engine == "-" or exp["linktype"] != "EN10MB":
            continue
        if "built-in pcapng reader" in p.stderr:
            # libpcap (and so net_pcap) stops early on this file; only ports-analyze reads it
            # whole. README notes the limitation.
            print(f"note: {rel}: libpcap cannot read it whole; engine comparison skipped")
            continue
        tag = rel.replace("/", "-").replace(".", "-")
        full_offline = {c: v for c, v in offline["classes"].items()}
        for duration in ("0.5", "3"):
            # A busy machine may starve the replay; a longer run settles a real mismatch.
            # Tunnels tracked, as ports-analyze --json does: the classes' inner_* counters
            # (what tunnels carried) are compared too.
            rc, _, err, doc = run_engine(engine, [f"net_pcap0,rx_pcap={path}"],
                                         ["--duration", duration], tag,
                                         config="tunnels:\n  entries: 1024\n")
            if rc == 0 and doc is not None and doc["classes"] == full_offline:
                break
        engine_runs += 1
        if rc != 0 or doc is None:
            failures.append(f"{rel}: ports-engine exit {rc}: {err.strip()[-400:]}")
            continue
        if doc["classes"] != full_offline:
            failures.append(f"{rel}: engine {classes_of(doc)} != analyzer {classes_of(offline)}")
    for f in failures:
        print("FAIL:", f)
    print(f"{checked} captures checked against tshark, {engine_runs} through the engine")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
