"""ports-analyze as a user runs it. Usage: test_analyze.py ANALYZE PORTS_GEN"""
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import classes_of, run_tests  # noqa: E402

ANALYZE = PORTS_GEN = None
CLASSES = ["ntp", "snmp", "snmp-trap", "l2tp", "pptp", "gre", "other"]


class Analyze(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.pcap = os.path.join(cls._tmp.name, "mix.pcap")
        expect = os.path.join(cls._tmp.name, "mix.json")
        subprocess.run([PORTS_GEN, "--out", cls.pcap, "--count", "6000", "--seed", "31",
                        "--expect", expect], check=True)
        with open(expect) as f:
            cls.tally = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def analyze(self, *args):
        p = subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_json_matches_generator_tally_with_every_class(self):
        rc, out, err = self.analyze("--json", self.pcap)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(list(doc["classes"]), CLASSES)
        self.assertEqual(classes_of(doc), self.tally["classes"])
        self.assertEqual(doc["total"], self.tally["total"])

    def test_per_packet_rows_are_in_capture_order_and_sum_to_the_json(self):
        csv_path = os.path.join(self._tmp.name, "pp.csv")
        rc, out, err = self.analyze("--json", "--per-packet", csv_path, self.pcap)
        self.assertEqual(rc, 0, err)
        with open(csv_path) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([int(r["frame"]) for r in rows], list(range(1, 6001)))
        doc = json.loads(out)
        for c in CLASSES:
            self.assertEqual(sum(1 for r in rows if r["class"] == c), doc["classes"][c]["packets"])
            self.assertEqual(sum(1 for r in rows if r["class"] == c and r["valid"] == "0"),
                             doc["classes"][c]["malformed"])

    def test_one_thread_and_many_give_the_same_rows(self):
        one = os.path.join(self._tmp.name, "one.csv")
        many = os.path.join(self._tmp.name, "many.csv")
        self.assertEqual(self.analyze("--threads", "1", "--per-packet", one, self.pcap)[0], 0)
        self.assertEqual(self.analyze("--threads", "4", "--per-packet", many, self.pcap)[0], 0)
        with open(one) as a, open(many) as b:
            self.assertEqual(a.read(), b.read())

    def test_two_captures_are_summed_and_numbered_on(self):
        csv_path = os.path.join(self._tmp.name, "two.csv")
        rc, out, _ = self.analyze("--json", "--per-packet", csv_path, self.pcap, self.pcap)
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out)["total"]["packets"], 12000)
        with open(csv_path) as f:
            self.assertEqual(sum(1 for _ in f), 12001)

    def test_missing_capture_is_an_error(self):
        rc, _, err = self.analyze("/nonexistent.pcap")
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent.pcap", err)

    def test_capture_cut_short_prints_the_frames_read_warns_and_exits_1(self):
        # The capture as a copy interrupted mid-record leaves it: the last record's header says
        # more bytes than the file still has.
        with open(self.pcap, "rb") as f:
            data = f.read()
        cut = os.path.join(self._tmp.name, "cut.pcap")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        rc, out, err = self.analyze("--json", cut)
        self.assertEqual(rc, 1, err)
        doc = json.loads(out)  # the JSON is there, whole
        read = doc["total"]["packets"]
        self.assertGreater(read, 1000)
        self.assertLess(read, 6000)
        self.assertEqual(doc["input"]["frames"], read)
        self.assertEqual(len(doc["input"]["cut_short"]), 1)
        self.assertIn(f"{cut} is cut short: the counts cover its first {read} record(s)", err)

    def test_unknown_link_type_is_counted_as_other_and_said(self):
        # Three records of LINKTYPE_USER0 (147), which no reader here knows.
        path = os.path.join(self._tmp.name, "user0.pcap")
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147))
            for i in range(3):
                body = bytes(40)
                f.write(struct.pack("<IIII", 1, i, len(body), len(body)) + body)
        rc, out, err = self.analyze("--json", path)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["classes"]["other"]["packets"], 3)
        self.assertEqual(doc["input"]["unknown_link_type"], 3)
        self.assertRegex(err, r"user0\.pcap: 3 record\(s\) of link type [^\n]*147\)?, which "
                              r"ports-analyze does not read: counted as other")

    def test_no_capture_is_a_usage_error(self):
        rc, _, err = self.analyze("--json")
        self.assertEqual(rc, 2)
        self.assertIn("usage", err)


if __name__ == "__main__":
    ANALYZE, PORTS_GEN = sys.argv[1], sys.argv[2]
    run_tests()
