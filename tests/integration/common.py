"""Helpers shared by the python tests (integration, e2e, bench): running the engine, reading pcap
files, and a unittest runner whose exit status tells a skip from a pass (run_tests).

Stdlib only: the tests run under any python3 (scapy is not needed here)."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

# meson's exit status for "skipped".
SKIP = 77

EAL_TEST_ARGS = ["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=warning"]


def eal_args(tag, lcores="0"):
    # A unique prefix per run: never the default one another process may hold.
    return EAL_TEST_ARGS + ["--file-prefix", f"ports-test-{tag}-{os.getpid()}", "-l", lcores]


def run_engine(engine, vdevs, app_args, tag, lcores="0", timeout=60, config=None):
    """Runs ports-engine; returns (returncode, stdout, stderr, stats-json or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        stats = os.path.join(tmp, "stats.json")
        cmd = [engine] + eal_args(tag, lcores)
        for v in vdevs:
            cmd += ["--vdev", v]
        cmd += ["--", "--stats-json", stats] + list(app_args)
        if config is not None:
            path = os.path.join(tmp, "engine.yaml")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        doc = None
        if os.path.exists(stats):
            with open(stats) as f:
                doc = json.load(f)
        return p.returncode, p.stdout, p.stderr, doc


def read_pcap(path):
    """Returns [(ts_sec, ts_nsec, bytes)] of a classic pcap file (micro- or nanosecond stamps,
    either byte order; net_pcap writes nanosecond files)."""
    with open(path, "rb") as f:
        data = f.read()
    kinds = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}  # multiplier from the file's unit to ns
    for endian in "<>":
        magic = struct.unpack(endian + "I", data[:4])[0]
        if magic in kinds:
            to_ns = kinds[magic]
            break
    else:
        raise ValueError(f"{path}: not a pcap file")
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        out.append((sec, frac * to_ns, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def classes_of(doc, keys=("packets", "bytes", "malformed")):
    return {c: {k: v[k] for k in keys} for c, v in doc["classes"].items()}


def skip(reason):
    """The whole test cannot run here: one line saying why, exit 77 (meson: SKIP)."""
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def run_tests(argv=None):
    """unittest.main for these tests, exit status as meson reads it: 1 on a failure or when no
    case ran, 77 (SKIP) when every case skipped, else 0. Each skipped case is printed on stdout
    as 'skipped case: ID: REASON' (scripts/test.sh counts them in its closing line): a case
    that skipped is never hidden inside a pass."""
    prog = unittest.main(argv=[sys.argv[0], "-v"] + list(argv or []), exit=False)
    sys.exit(exit_status(prog.result))


def exit_status(result):
    sys.stderr.flush()
    for case, reason in result.skipped:
        print(f"skipped case: {case.id()}: {reason}", flush=True)
    if not result.wasSuccessful():
        return 1
    if result.testsRun == 0:
        print("no test case ran", flush=True)
        return 1
    if len(result.skipped) == result.testsRun:
        reasons = sorted({reason for _, reason in result.skipped})
        print(f"SKIP: every case skipped: {'; '.join(reasons)}", flush=True)
        return SKIP
    return 0
