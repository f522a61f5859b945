"""DPDK telemetry commands: /ports_engine/{classes,ntp,lcores,ports,rules} over the engine's
telemetry socket (and through Debian's dpdk-telemetry.py where installed) give the figures
--stats-json writes at exit; /ports_engine/rules_reload reloads the rules file;
/ports_engine/ntp_reload (and SIGHUP) reload the NTP keys from the config file read again.

usage: test_dpdk_telemetry.py ENGINE PORTS_GEN CONFIGS_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import connect_telemetry, eal_args, file_prefix, run_tests, wait_for  # noqa: E402

ENGINE, GEN, CONFIGS = sys.argv[1:4]


class DpdkTelemetry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ports-tel-")
        mix = os.path.join(cls.tmp, "mix.pcap")
        subprocess.run([GEN, "--out", mix, "--count", "3000", "--seed", "7", "--ntp-clients", "200"],
                       check=True, capture_output=True)
        with open(os.path.join(CONFIGS, "demo.yaml")) as f:
            config = f.read().replace("build/demo/mix.pcap", mix).replace(
                "build/demo/replies.pcap", os.path.join(cls.tmp, "replies.pcap"))
        # The demo's own rule pack gives way to this test's one rule.
        config = "\n".join(l for l in config.splitlines() if not l.startswith("rules:")) + "\n"
        rules = os.path.join(cls.tmp, "rules.yaml")
        with open(rules, "w") as f:
            f.write("rules:\n  - id: ntp-client\n    class: ntp\n"
                    "    match: {field: ntp.mode, equals: 3}\n    action: count\n")
        cfg_path = os.path.join(cls.tmp, "engine.yaml")
        with open(cfg_path, "w") as f:
            f.write(config + f"rules: {rules}\n")
        stats = os.path.join(cls.tmp, "stats.json")
        args = eal_args("telemetry")
        # No shared config files, but the telemetry socket is still the runtime dir's.
        cls.prefix = file_prefix(args)
        cls.engine = subprocess.Popen(
            [ENGINE] + args + ["--", "--config", cfg_path, "--stats-json", stats,
                               "--duration", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            cls.client = connect_telemetry(cls.prefix, cls.engine)
        except RuntimeError:
            cls.engine.kill()
            raise RuntimeError(f"no telemetry socket: {cls.engine.communicate()[1]}")
        # The socket comes with the EAL, the commands with the runtime; the capture is read at
        # once: wait until every frame is counted.
        def lcore0_rx():
            lcores = cls.client.ask_or_none("/ports_engine/lcores")
            return lcores["0"]["rx_packets"] if lcores and "0" in lcores else 0
        wait_for(lambda: lcore0_rx() >= 3200, 20, proc=cls.engine)
        cls.answers = {c: cls.client.ask(c) for c in (
            "/ports_engine/classes", "/ports_engine/classes,snmp-trap", "/ports_engine/ntp",
            "/ports_engine/lcores", "/ports_engine/ports", "/ports_engine/classes,nonsense",
            "/ports_engine/rules")}
        before = cls.answers["/ports_engine/rules"]["stage"]["reloads_ok"]
        cls.reload_answer = cls.client.ask("/ports_engine/rules_reload")

        def reloaded():
            stage = cls.client.ask("/ports_engine/rules")["stage"]
            return stage if stage["reloads_ok"] > before else None
        cls.after_reload = wait_for(reloaded, 20, proc=cls.engine)
        # The config gains a key file: the NTP reload takes it (telemetry), then again (SIGHUP).
        cls.ntp_status_before = cls.client.ask("/ports_engine/ntp_reload,status")
        with open(cfg_path, "w") as f:
            f.write(config.replace("  refid: DEMO\n", "  refid: DEMO\n  keys: "
                                   + os.path.join(CONFIGS, "ntp-test.keys") + "\n")
                    + f"rules: {rules}\n")
        cls.ntp_reload_answer = cls.client.ask("/ports_engine/ntp_reload")
        cls.engine.send_signal(1)
        cls.ntp_after_sighup = wait_for(
            lambda: (lambda s: s if s["generation"] >= 3 else None)(
                cls.client.ask("/ports_engine/ntp_reload,status")), 20, proc=cls.engine)
        cls.tool_answer = None
        tool = shutil.which("dpdk-telemetry.py")
        if tool is not None:
            p = subprocess.run([tool, "-f", cls.prefix], input="/ports_engine/ntp\n",
                               capture_output=True, text=True, timeout=30)
            for line in p.stdout.splitlines():
                line = line.strip().removeprefix("-->").strip()
                if line.startswith('{"/ports_engine/ntp"'):
                    cls.tool_answer = json.loads(line)["/ports_engine/ntp"]
        cls.client.close()
        cls.engine.send_signal(2)
        out, err = cls.engine.communicate(timeout=30)
        cls.rc = cls.engine.returncode
        cls.err = err
        with open(stats) as f:
            cls.stats = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_engine_stopped_cleanly(self):
        self.assertEqual(self.rc, 0, self.err)

    def test_classes_equal_stats_json(self):
        got = self.answers["/ports_engine/classes"]
        self.assertEqual(got["total"], self.stats["total"])
        for name, counters in self.stats["classes"].items():
            key = name.replace("-", "_")  # telemetry names allow only [A-Za-z0-9_/]
            self.assertEqual(got[key], counters, name)
        self.assertGreater(got["ntp"]["packets"], 0)

    def test_one_class_by_parameter(self):
        self.assertEqual(self.answers["/ports_engine/classes,snmp-trap"],
                         self.stats["classes"]["snmp-trap"])

    def test_unknown_class_is_an_error(self):
        self.assertIn("unknown class nonsense",
                      self.answers["/ports_engine/classes,nonsense"]["error"])

    def test_ntp_equals_stats_json(self):
        got = self.answers["/ports_engine/ntp"]
        self.assertEqual(got.pop("enabled"), 1)
        self.assertEqual(got, self.stats["ntp_server"])
        self.assertEqual(got["replies"], 200)

    def test_lcores_and_ports(self):
        lcore = self.answers["/ports_engine/lcores"]["0"]
        self.assertEqual(lcore["rx_packets"], self.stats["lcores"][0]["rx_packets"])
        self.assertEqual(lcore["tx_packets"], 200)
        self.assertTrue(0.0 <= float(lcore["busy_ratio"]) <= 1.0)
        port = self.answers["/ports_engine/ports"]["0"]
        self.assertEqual(port["driver"], "net_pcap")
        self.assertEqual(port["link_up"], 1)
        self.assertEqual(port["rx_packets"], self.stats["ports"][0]["rx_packets"])

    def test_rules_equal_stats_json(self):
        got = self.answers["/ports_engine/rules"]
        want = self.stats["rules"]["ntp-client"]
        self.assertEqual(got["ntp_client"]["matches"], want["matches"])
        self.assertEqual(got["ntp_client"]["action"], "count")
        # Every valid client request of the mix and the 200 demo requests.
        self.assertEqual(want["matches"], self.stats["classes"]["ntp"]["mode_client"])
        self.assertGreaterEqual(want["matches"], 200)

    def test_rules_reload_command(self):
        self.assertEqual(self.reload_answer["requested"], 1)
        self.assertIsNotNone(self.after_reload, "the requested reload never completed")
        self.assertEqual(self.after_reload["last_reload/ok"], 1)
        self.assertEqual(self.after_reload["reloads_failed"], 0)

    def test_ntp_reload_command_and_sighup(self):
        self.assertEqual(self.ntp_status_before["generation"], 1)
        self.assertEqual(self.ntp_status_before["keys"], 0)
        got = self.ntp_reload_answer
        self.assertEqual(got["ok"], 1, got)
        self.assertEqual(got["generation"], 2)
        self.assertEqual(got["keys"], 3)
        self.assertIn("3 key(s) from", got["message"])
        self.assertIsNotNone(self.ntp_after_sighup, "SIGHUP did not reload the NTP keys")
        self.assertEqual(self.ntp_after_sighup["last_reload"]["ok"], 1)
        self.assertEqual(self.stats["ntp_reload"]["generation"], 3)
        self.assertEqual(self.stats["ntp_reload"]["reloads_ok"], 2)
        self.assertEqual(self.stats["ntp_reload"]["reloads_failed"], 0)
        self.assertIn("keys generation 3", self.err)

    def test_dpdk_telemetry_tool(self):
        if self.tool_answer is None and shutil.which("dpdk-telemetry.py") is None:
            self.skipTest("dpdk-telemetry.py (package dpdk-dev) not installed")
        self.assertIsNotNone(self.tool_answer, "dpdk-telemetry.py printed no answer")
        self.assertEqual(self.tool_answer["replies"], 200)


if __name__ == "__main__":
    run_tests()
