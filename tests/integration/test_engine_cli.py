"""ports-engine as a user runs it: on net_pcap ports over captures made by ports-gen.

Usage: test_engine_cli.py ENGINE PORTS_GEN
One behaviour per test: counts match the generator's own tally, one and several lcores and
queues, inline forwarding, a clean stop on SIGTERM, and clear refusals of bad input (a config
that is a directory, empty, a FIFO, repeats a key, leaves a quote open, nests too deep, has more
ports than DPDK, names a missing file; net_pcap infinite_rx on a capture larger than the
descriptors) before any device is touched."""
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

    def refused_before_any_device(self, config_path, tag):
        """Runs the engine on --config config_path with a net_pcap port on EAL's command line
        whose tx_pcap file its probe would create: the refusal must come before it. Returns
        stderr."""
        pcap, _ = generate(self.tmp, "refuse", 10, 5)
        sentinel = os.path.join(self.tmp, tag + "-probed.pcap")
        cmd = [ENGINE] + eal_args(tag) + ["--vdev", f"net_pcap0,rx_pcap={pcap},tx_pcap={sentinel}",
                                          "--", "--duration", "1", "--config", config_path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(os.path.exists(sentinel), "a device was probed before the refusal")
        return p.stderr

    def write_config(self, text, name="engine.yaml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_directory_as_config_is_refused(self):
        err = self.refused_before_any_device(self.tmp, "cfgdir")
        self.assertIn(f"config: {self.tmp}: cannot read the config file: it is a directory", err)

    def test_empty_config_file_is_refused(self):
        err = self.refused_before_any_device(self.write_config(""), "cfgempty")
        self.assertIn("engine.yaml:1: the config is empty", err)

    def test_fifo_as_config_is_refused_without_waiting_for_a_writer(self):
        fifo = os.path.join(self.tmp, "config.fifo")
        os.mkfifo(fifo)
        err = self.refused_before_any_device(fifo, "cfgfifo")  # timeout=30: it must not block
        self.assertIn(f"{fifo}: cannot read the config file: not a regular file", err)

    def test_key_repeated_in_one_mapping_is_refused_with_both_lines(self):
        path = self.write_config("ports:\n  - name: a\n    device: net_null0\n"
                                 "    queues: 1\n    device: net_null1\n")
        err = self.refused_before_any_device(path, "cfgdup")
        self.assertIn("engine.yaml:5: key 'device' appears twice in this mapping (first at line 3)",
                      err)

    def test_unterminated_quote_is_refused_at_its_line(self):
        path = self.write_config("ports:\n  - name: a\n    device: \"net_null0\n    queues: 2\n")
        err = self.refused_before_any_device(path, "cfgquote")
        self.assertIn("engine.yaml:3: a double-quoted string opens here and is never closed", err)

    def test_deep_nesting_is_refused_with_what_is_wrong(self):
        path = self.write_config("ports: " + "[" * 5000 + "]" * 5000 + "\n")
        err = self.refused_before_any_device(path, "cfgdeep")
        self.assertRegex(err, r"engine\.yaml:1: nested deeper than 32 levels")
        self.assertNotIn("bad file", err)

    def test_more_ports_than_dpdk_has_room_for_are_refused_before_any_probe(self):
        text = "ports:\n" + "".join(f"  - {{name: p{i}, device: net_null{i}}}\n"
                                     for i in range(1000))
        err = self.refused_before_any_device(self.write_config(text), "cfgmany")
        self.assertRegex(err, r"engine\.yaml:\d+: port \d+ of 1000: this DPDK has room for \d+ "
                              r"ports \(RTE_MAX_ETHPORTS\)")

    def test_missing_key_file_names_the_config_line_and_errno(self):
        path = self.write_config("ntp:\n  addresses: [192.0.2.1]\n  keys: missing.keys\n"
                                 "ports:\n  - name: a\n    device: net_null0\n")
        err = self.refused_before_any_device(path, "cfgkeys")
        missing = os.path.join(self.tmp, "missing.keys")
        self.assertIn(f"engine.yaml:3: 'keys' {missing}: No such file or directory", err)

    def test_missing_rules_file_is_found_before_the_ports_are_set_up(self):
        path = self.write_config("ports:\n  - name: a\n    device: net_null0\n"
                                 "rules: missing-rules.yaml\n")
        err = self.refused_before_any_device(path, "cfgrules")
        missing = os.path.join(self.tmp, "missing-rules.yaml")
        self.assertIn(f"engine.yaml:4: 'rules' {missing}: No such file or directory", err)

    def test_net_pcap_infinite_rx_gets_a_pool_for_its_whole_capture(self):
        # 22000 frames: each kept in an mbuf by the PMD, far more than the descriptors need.
        pcap, tally = generate(self.tmp, "loop", 22000, 8)
        rc, _, err, doc = run_engine(ENGINE, [f"net_pcap0,rx_pcap={pcap},infinite_rx=1"],
                                     ["--duration", "2"], "infinite")
        self.assertEqual(rc, 0, err)
        self.assertIn("22000 mbufs more for the frames net_pcap infinite_rx keeps", err)
        self.assertGreater(doc["total"]["packets"], tally["total"]["packets"])  # it loops

    def test_net_pcap_infinite_rx_with_too_few_mbufs_names_the_pool_size(self):
        pcap, _ = generate(self.tmp, "loop", 22000, 8)
        config = (f"ports:\n  - name: a\n    device: \"net_pcap0,rx_pcap={pcap},infinite_rx=1\"\n"
                  "mbufs: 8192\n")
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "infinite-few", config=config)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r"engine\.yaml:4: mbufs: 8192 is too few: net_pcap infinite_rx keeps "
                              r"22000 frames in mbufs of this pool and the queues need \d+ more; "
                              r"give mbufs: \d+ or more")
        self.assertNotIn("Invalid argument", err)

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
