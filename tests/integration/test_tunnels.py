"""ports-analyze's tunnel table (--tunnels CSV, "tunnels" in --json) against tables derived
independently with TShark (derive_tunnels_expected.py): PPTP calls with their GRE frames, L2TP
tunnels, GRE v0 tunnels, on shared captures (tunnels_expected.json, derived once and stored)
and on the build's generated L2TP control exchange (derived here).

Usage: test_tunnels.py ANALYZE SHARED_DIR GENERATED_DIR|-
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import run_tests, skip  # noqa: E402

ANALYZE = SHARED = GENERATED = None
COLUMNS = ["kind", "client", "server", "client_id", "server_id", "packets", "bytes"]
# What TShark derives; ports-analyze has more kinds (pptp-control, data seen without its call).
KINDS = {"pptp-call", "l2tp-tunnel", "l2tp-session", "gre-tunnel"}


def as_row(r):
    return tuple("" if r[c] is None else str(r[c]) for c in COLUMNS)


class Tunnels(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def analyze(self, capture):
        out = os.path.join(self.tmp, "tunnels.csv")
        p = subprocess.run([ANALYZE, "--tunnels", out, capture], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            self.assertEqual(header[:7], COLUMNS)  # the columns first, in order
            return [tuple(r[:7]) for r in reader]

    def check(self, capture, expected):
        rows = self.analyze(capture)
        ours = sorted(r for r in rows if r[0] in KINDS)
        self.assertEqual(ours, sorted(as_row(r) for r in expected), capture)
        return rows

    def test_shared_captures_match_tshark(self):
        with open(os.path.join(HERE, "tunnels_expected.json")) as f:
            expected = json.load(f)
        self.assertTrue(any(r["kind"] == "pptp-call" for v in expected.values() for r in v))
        self.assertTrue(any(r["kind"] == "gre-tunnel" for v in expected.values() for r in v))
        for name, rows in expected.items():
            with self.subTest(name):
                self.check(os.path.join(SHARED, "pcaps", name), rows)

    def test_generated_l2tp_tunnels_match_tshark(self):
        if GENERATED == "-":
            self.skipTest("no generated L2TP capture (needs Debian's python3-scapy)")
        capture = os.path.join(GENERATED, "l2tp-control.pcap")
        out = os.path.join(self.tmp, "expected.json")
        subprocess.run([sys.executable, os.path.join(HERE, "derive_tunnels_expected.py"), out,
                        capture], check=True)
        with open(out) as f:
            expected = next(iter(json.load(f).values()))
        self.assertTrue(any(r["kind"] == "l2tp-tunnel" and r["server_id"] is not None
                            for r in expected))
        self.check(capture, expected)

    def test_json_has_the_same_objects(self):
        capture = os.path.join(SHARED, "pcaps", "ndpi", "pptp.pcap")
        p = subprocess.run([ANALYZE, "--json", capture], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        t = json.loads(p.stdout)["tunnels"]
        self.assertEqual(t["table_full"], 0)
        calls = [o for o in t["objects"] if o["kind"] == "pptp-call"]
        self.assertEqual([(c["client"], c["server"], c["client_id"], c["server_id"]) for c in calls],
                         [("192.168.43.22", "191.101.61.1", 0, 11755)])
        # The control connection: its client the SCCRQ's sender, as TShark reads it.
        sccrq = subprocess.run(["tshark", "-r", capture, "-Y", "pptp.control_message_type == 1",
                                "-T", "fields", "-e", "ip.src", "-e", "ip.dst"],
                               capture_output=True, text=True, check=True).stdout.split()
        control = [o for o in t["objects"] if o["kind"] == "pptp-control"]
        self.assertEqual([(c["client"], c["server"]) for c in control], [tuple(sccrq)])

    def test_full_table_is_counted(self):
        capture = os.path.join(SHARED, "pcaps", "pcapplusplus", "GrePackets.pcap")
        p = subprocess.run([ANALYZE, "--json", "--tunnel-entries", "1", capture],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        t = json.loads(p.stdout)["tunnels"]
        self.assertEqual(len(t["objects"]), 1)
        self.assertGreater(t["table_full"], 0)


if __name__ == "__main__":
    ANALYZE, SHARED, GENERATED = sys.argv[1:4]
    if shutil.which("tshark") is None:
        skip("tshark (package tshark) is not installed: the expected tables come from it")
    with open(os.path.join(HERE, "tunnels_expected.json")) as f:
        absent = [n for n in json.load(f) if not os.path.exists(os.path.join(SHARED, "pcaps", n))]
    if absent:
        skip(f"shared captures absent from {SHARED}/pcaps: {', '.join(absent)}")
    run_tests(sys.argv[4:])
