"""DPDK telemetry commands: /ports_engine/{classes,ntp,lcores,ports,rules} over the engine's
telemetry socket (and through Debian's dpdk-telemetry.py where installed) give the figures
--stats-json writes at exit; /ports_engine/rules_reload reloads the rules file.

usage: test_dpdk_telemetry.py ENGINE PORTS_GEN CONFIGS_DIR"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from common import eal_args, run_tests  # noqa: E402

ENGINE, GEN, CONFIGS = sys.argv[1:4]


def runtime_dir(prefix):
    # Where the EAL puts its runtime files (eal_get_runtime_dir): /var/run as root, else XDG.
    if os.getuid() == 0:
        base = "/var/run"
    else:
        base = os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk", prefix)


class TelemetryClient:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(path)
        hello = json.loads(self.sock.recv(1024).decode())
        self.max_len = hello["max_output_len"]

    def ask(self, cmd):
        self.sock.send(cmd.encode())
        return json.loads(self.sock.recv(self.max_len).decode())[cmd.split(",")[0]]

    def close(self):
        self.sock.close()


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
        cls.prefix = args[args.index("--file-prefix") + 1]
        cls.engine = subprocess.Popen(
            [ENGINE] + args + ["--", "--config", cfg_path, "--stats-json", stats,
                               "--duration", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sock_path = os.path.join(runtime_dir(cls.prefix), "dpdk_telemetry.v2")
        deadline = time.time() + 20
        while not os.path.exists(sock_path):
            if time.time() > deadline or cls.engine.poll() is not None:
                cls.engine.kill()
                raise RuntimeError(f"no telemetry socket at {sock_path}: "
                                   f"{cls.engine.communicate()[1]}")
            time.sleep(0.1)
        cls.client = TelemetryClient(sock_path)
        # The socket comes with the EAL, the commands with the runtime; the capture is read at
        # once: wait until every frame is counted.
        deadline = time.time() + 20
        while time.time() < deadline:
            lcores = cls.client.ask("/ports_engine/lcores")
            if isinstance(lcores, dict) and "0" in lcores and lcores["0"]["rx_packets"] >= 3200:
                break
            time.sleep(0.1)
        cls.answers = {c: cls.client.ask(c) for c in (
            "/ports_engine/classes", "/ports_engine/classes,snmp-trap", "/ports_engine/ntp",
            "/ports_engine/lcores", "/ports_engine/ports", "/ports_engine/classes,nonsense",
            "/ports_engine/rules")}
        before = cls.answers["/ports_engine/rules"]["stage"]["reloads_ok"]
        cls.reload_answer = cls.client.ask("/ports_engine/rules_reload")
        deadline = time.time() + 20
        cls.after_reload = None
        while time.time() < deadline:
            stage = cls.client.ask("/ports_engine/rules")["stage"]
            if stage["reloads_ok"] > before:
                cls.after_reload = stage
                break
            time.sleep(0.1)
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

    def test_dpdk_telemetry_tool(self):
        if self.tool_answer is None and shutil.which("dpdk-telemetry.py") is None:
            self.skipTest("dpdk-telemetry.py (package dpdk-dev) not installed")
        self.assertIsNotNone(self.tool_answer, "dpdk-telemetry.py printed no answer")
        self.assertEqual(self.tool_answer["replies"], 200)


if __name__ == "__main__":
    run_tests()
