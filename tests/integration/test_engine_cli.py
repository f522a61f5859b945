"""ports-engine as a user runs it: on net_pcap ports over captures made by ports-gen.

Usage: test_engine_cli.py ENGINE PORTS_GEN
One behaviour per test: counts match the generator's own tally, one and several lcores and
queues, inline forwarding, a clean stop on SIGTERM, and clear refusals of bad input."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (classes_of, eal_args, file_prefix, read_pcap, read_text,  # noqa: E402
                    run_engine, run_tests, wait_counted, wait_for)

ENGINE = PORTS_GEN = None


def generate(tmp, name, count, seed, ntp_clients=0):
    pcap = os.path.join(tmp, name + ".pcap")
    expect = os.path.join(tmp, name + ".json")
    subprocess.run([PORTS_GEN, "--out", pcap, "--count", str(count), "--seed", str(seed),
                    "--ntp-clients", str(ntp_clients), "--expect", expect], check=True)
    with open(expect) as f:
        return pcap, json.load(f)


def add_tallies(a, b):
    return {c: {k: a[c][k] + b[c][k] for k in a[c]} for c in a}


class EngineCli(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_single_lcore_counts_match_generator(self):
        pcap, tally = generate(self.tmp, "mix", 4000, 21)
        rc, out, err, doc = run_engine(ENGINE, [f"net_pcap0,rx_pcap={pcap}"],
                                       ["--duration", "1"], "single", lcores="0")
        self.assertEqual(rc, 0, err)
        self.assertEqual(classes_of(doc), tally["classes"])
        self.assertEqual(doc["total"], tally["total"])
        self.assertEqual(doc["ports"][0]["rx_packets"], tally["total"]["packets"])
        self.assertIn("class", out)  # the per-class table on stdout
        self.assertIn("stopped cleanly", err)

    def test_demo_answers_its_ntp_clients_and_prints_both_tables(self):
        # What README's first command runs (configs/demo.yaml), on a smaller capture.
        pcap, tally = generate(self.tmp, "demo", 2000, 1, ntp_clients=50)
        replies = os.path.join(self.tmp, "replies.pcap")
        config = ("ntp:\n  addresses: [192.0.2.1]\n  assume_synchronized: true\n"
                  f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap},tx_pcap={replies}\"\n")
        rc, out, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "demo", config=config)
        self.assertEqual(rc, 0, err)
        self.assertEqual(classes_of(doc), tally["classes"])
        self.assertEqual(doc["ntp_server"]["replies"], 50)
        self.assertIn("ntp service: 50 requests, 50 replies", out)
        self.assertEqual(len(read_pcap(replies)), 50)

    def test_two_queues_on_two_lcores_count_everything_once(self):
        a, ta = generate(self.tmp, "a", 1500, 22)
        b, tb = generate(self.tmp, "b", 2500, 23)
        config = ("ports:\n  - name: cap\n"
                  f"    device: \"net_pcap0,rx_pcap={a},rx_pcap={b}\"\n    queues: 2\n")
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "twoq", lcores="0-1",
                                     config=config)
        self.assertEqual(rc, 0, err)
        self.assertEqual(classes_of(doc), add_tallies(ta["classes"], tb["classes"]))
        self.assertEqual(sorted(l["lcore"] for l in doc["lcores"]), [0, 1])
        self.assertTrue(all(l["rx_packets"] > 0 for l in doc["lcores"]))

    def test_inline_mode_forwards_every_frame_to_the_peer(self):
        pcap, tally = generate(self.tmp, "fwd", 1000, 24)
        out_pcap = os.path.join(self.tmp, "out.pcap")
        config = ("ports:\n"
                  f"  - name: in\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
                  "    mode: inline\n    peer: out\n"
                  f"  - name: out\n    device: \"net_pcap1,tx_pcap={out_pcap}\"\n")
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "inline", config=config)
        self.assertEqual(rc, 0, err)
        self.assertEqual(classes_of(doc), tally["classes"])
        sent = [f[2] for f in read_pcap(pcap)]
        got = [f[2] for f in read_pcap(out_pcap)]
        self.assertEqual(len(got), len(sent))
        self.assertEqual(got, sent)

    def test_sigterm_stops_cleanly_with_stats(self):
        pcap, tally = generate(self.tmp, "sig", 500, 25)
        stats = os.path.join(self.tmp, "stats.json")
        args = eal_args("sigterm")
        cmd = [ENGINE] + args + ["--vdev", f"net_pcap0,rx_pcap={pcap}", "--",
                                 "--stats-json", stats, "--stats-interval", "0.2"]
        log = os.path.join(self.tmp, "engine.log")
        with open(log, "w") as f:
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=f)
        try:
            # Running: the whole capture counted and one --stats-interval line logged.
            self.assertTrue(wait_counted(file_prefix(args), p, tally["total"]["packets"]),
                            read_text(log))
            self.assertTrue(wait_for(lambda: " pps " in read_text(log), 10, proc=p), read_text(log))
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = read_text(log)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("signal received", err)
        self.assertIn("pps", err)  # at least one --stats-interval line
        with open(stats) as f:
            self.assertEqual(classes_of(json.load(f)), tally["classes"])

    def test_bad_config_line_is_reported_and_engine_refuses_to_start(self):
        config = "ports:\n  - name: a\n    device: net_null0\n    queues: lots\n"
        rc, _, err, doc = run_engine(ENGINE, [], [], "badcfg", config=config)
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"engine\.yaml:4: 'queues' must be an integer")
        self.assertIsNone(doc)

    def test_bad_devargs_fail_with_a_clear_message(self):
        config = "ports:\n  - name: a\n    device: \"net_pcap0,rx_pcap=/nonexistent.pcap\"\n"
        rc, _, err, _ = run_engine(ENGINE, [], [], "baddev", config=config)
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot probe device 'net_pcap0,rx_pcap=/nonexistent.pcap'", err)

    def test_mempool_too_large_fails_with_a_clear_message(self):
        pcap, _ = generate(self.tmp, "pool", 10, 26)
        config = f"ports:\n  - name: a\n    device: \"net_pcap0,rx_pcap={pcap}\"\nmbufs: 4000000\n"
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "pool", config=config)
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot create a pool of 4000000 mbufs", err)
        self.assertIsNone(doc)

    def test_no_ports_fails_with_a_clear_message(self):
        rc, _, err, _ = run_engine(ENGINE, [], ["--duration", "1"], "noports")
        self.assertNotEqual(rc, 0)
        self.assertIn("no ports", err)

    def test_unknown_argument_is_a_usage_error(self):
        p = subprocess.run([ENGINE, "--", "--durration", "1"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown argument '--durration'", p.stderr)


if __name__ == "__main__":
    ENGINE, PORTS_GEN = sys.argv[1], sys.argv[2]
    run_tests()
