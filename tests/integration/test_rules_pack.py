"""The shipped rule pack (configs/rules-classic.yaml) through ports-analyze --rules: on every
shared capture and on the L2TP control exchange make_l2tp_capture.py builds (in DATA_DIR), each
rule matches as many frames as its TShark display filter (rules_expected.json, made by
derive_rules_expected.py; see its docstring).

Usage: test_rules_pack.py ANALYZE SOURCE_ROOT SHARED_DIR DATA_DIR
The shared captures are skipped when SHARED_DIR/pcaps is absent, the built ones when DATA_DIR is
'-' (no scapy); the rest still runs.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import run_tests  # noqa: E402

ANALYZE = ROOT = SHARED = DATA = None
HERE = os.path.dirname(os.path.abspath(__file__))


def expected():
    with open(os.path.join(HERE, "rules_expected.json")) as f:
        return json.load(f)["captures"]


def path_of(key):
    where, rel = key.split(":", 1)
    return os.path.join(DATA, rel) if where == "data" else os.path.join(SHARED, "pcaps", rel)


class RulesPack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pack = os.path.join(ROOT, "configs", "rules-classic.yaml")
        cls.expected = expected()
        cls.have_shared = os.path.isdir(os.path.join(SHARED, "pcaps"))
        cls.have_data = DATA != "-"
        cls._tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def need_data(self):
        if not self.have_data:
            self.skipTest("no scapy (/usr/bin/python3): the L2TP capture was not built")

    def analyze(self, *args):
        p = subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def keys(self):
        keys = [k for k in sorted(self.expected)
                if (self.have_data if k.startswith("data:") else self.have_shared)]
        if not keys:
            self.skipTest("no capture: SHARED_DIR/pcaps absent and the L2TP capture not built")
        return keys

    def test_every_capture_matches_the_tshark_counts(self):
        failures = []
        for key in self.keys():
            rc, out, err = self.analyze("--json", "--rules", self.pack, path_of(key))
            self.assertEqual(rc, 0, f"{key}: {err}")
            got = {rule: v["matches"] for rule, v in json.loads(out)["rules"].items()}
            if got != self.expected[key]:
                failures.append(f"{key}: got {got}, expected {self.expected[key]}")
        self.assertEqual(failures, [])

    def test_the_pack_detects_every_classic_somewhere(self):
        # The analyzer, with the shipped pack, over every capture: each rule of the pack (the
        # ids rules_expected.json lists) matches at least one frame somewhere.
        self.need_data()
        if not self.have_shared:
            self.skipTest("shared captures absent")
        keys = self.keys()
        rc, out, err = self.analyze("--json", "--rules", self.pack, *[path_of(k) for k in keys])
        self.assertEqual(rc, 0, err)
        got = {rule: v["matches"] for rule, v in json.loads(out)["rules"].items()}
        ids = {rule for k in keys for rule in self.expected[k]}
        self.assertEqual(set(got), ids)
        self.assertEqual(sorted(r for r, n in got.items() if n == 0), [])

    def test_one_run_over_all_captures_sums_per_capture_counts(self):
        keys = self.keys()
        rc, out, err = self.analyze("--json", "--threads", "2", "--rules", self.pack,
                                    *[path_of(k) for k in keys])
        self.assertEqual(rc, 0, err)
        got = {rule: v["matches"] for rule, v in json.loads(out)["rules"].items()}
        want = {}
        for k in keys:
            for rule, n in self.expected[k].items():
                want[rule] = want.get(rule, 0) + n
        self.assertEqual(got, want)

    def test_per_packet_lists_each_matching_rule_once(self):
        self.need_data()
        key = "data:l2tp-control.pcap"
        csv_path = os.path.join(self._tmp.name, "pp.csv")
        rc, out, err = self.analyze("--json", "--rules", self.pack, "--per-packet", csv_path,
                                    path_of(key))
        self.assertEqual(rc, 0, err)
        with open(csv_path) as f:
            rows = list(csv.DictReader(f))
        self.assertIn("rules", rows[0])
        per_rule = {}
        for row in rows:
            ids = [i for i in row["rules"].split(";") if i]
            self.assertEqual(len(ids), len(set(ids)), row)
            for i in ids:
                per_rule[i] = per_rule.get(i, 0) + 1
        doc = json.loads(out)
        self.assertEqual({r: v["matches"] for r, v in doc["rules"].items() if v["matches"]}, per_rule)
        # The three Host Name AVPs in clear: frames 1, 2 and 8 (6 has it hidden).
        self.assertEqual([row["frame"] for row in rows if "l2tp-hostname" in row["rules"]],
                         ["1", "2", "8"])

    def test_without_rules_the_csv_and_json_are_unchanged(self):
        self.need_data()
        csv_path = os.path.join(self._tmp.name, "plain.csv")
        rc, out, err = self.analyze("--json", "--per-packet", csv_path, path_of("data:l2tp-control.pcap"))
        self.assertEqual(rc, 0, err)
        self.assertNotIn("rules", json.loads(out))
        with open(csv_path) as f:
            self.assertEqual(f.readline().strip(), "frame,class,valid,detail")

    def test_a_bad_rules_file_is_refused_with_file_line_and_rule(self):
        self.need_data()
        bad = os.path.join(self._tmp.name, "bad.yaml")
        with open(bad, "w") as f:
            f.write("rules:\n  - id: ok\n    class: any\n    match: {field: payload, regex: a}\n"
                    "    action: count\n  - id: broken\n    class: ntp\n"
                    "    match: {field: ntp.mode, regex: '7'}\n    action: count\n")
        rc, out, err = self.analyze("--json", "--rules", bad, path_of("data:l2tp-control.pcap"))
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertEqual(err.strip(), f"ports-analyze: {bad}:8: rule broken: field ntp.mode is a "
                                      "number: match it with 'equals'")
        missing = os.path.join(self._tmp.name, "missing.yaml")
        rc, out, err = self.analyze("--rules", missing, path_of("data:l2tp-control.pcap"))
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip(), f"ports-analyze: {missing}: cannot read the rules file: "
                                      "No such file or directory")


if __name__ == "__main__":
    ANALYZE, ROOT, SHARED, DATA = sys.argv[1:5]
    run_tests()
