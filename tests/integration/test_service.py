"""ports-engine as systemd runs it: READY=1 once its ports are up and workers run, WATCHDOG=1
from the control loop, STOPPING=1 at SIGTERM, all to a NOTIFY_SOCKET bound here (an AF_UNIX
datagram socket, as systemd's); --check-config (exit 0/1, FILE:LINE, no EAL), --pci-devices,
--version.

usage: test_service.py ENGINE SOURCE_ROOT VERSION"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import eal_args, read_text, run_tests  # noqa: E402

ENGINE, SOURCE, VERSION = sys.argv[1:4]
CONFIGS = os.path.join(SOURCE, "configs")


class Notify(unittest.TestCase):
    """One engine on two net_null ports; the socket collects what it sends."""

    def test_ready_watchdog_stopping_reach_notify_socket(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "notify")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.settimeout(0.2)
            log = os.path.join(tmp, "engine.log")
            env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="300000")
            with open(log, "w") as err:
                engine = subprocess.Popen(
                    [ENGINE] + eal_args("notify") + ["--vdev", "net_null0", "--vdev", "net_null1",
                                                     "--"],
                    stdout=subprocess.DEVNULL, stderr=err, env=env)
            messages = []   # (seconds since start, message)
            log_at_ready = None
            start = time.monotonic()
            try:
                # READY, then pings for ~1 s (a 0.3 s watchdog: one every 0.15 s), then SIGTERM.
                deadline = start + 20
                stop_sent = None
                while time.monotonic() < deadline and engine.poll() is None:
                    try:
                        m = sock.recv(4096).decode()
                    except socket.timeout:
                        continue
                    messages.append((time.monotonic() - start, m))
                    if m.startswith("READY=1") and log_at_ready is None:
                        log_at_ready = read_text(log)
                        ready_at = time.monotonic()
                    if log_at_ready is not None and stop_sent is None and \
                            time.monotonic() - ready_at > 1.0:
                        engine.send_signal(signal.SIGTERM)
                        stop_sent = time.monotonic()
                engine.wait(timeout=30)
                # What was sent between the last recv and the exit.
                sock.setblocking(False)
                while True:
                    try:
                        messages.append((time.monotonic() - start, sock.recv(4096).decode()))
                    except BlockingIOError:
                        break
            finally:
                if engine.poll() is None:
                    engine.kill()
                    engine.wait()
                sock.close()
            texts = [m for _, m in messages]
            self.assertEqual(engine.returncode, 0, read_text(log))
            ready = [m for m in texts if m.startswith("READY=1")]
            self.assertEqual(len(ready), 1, texts)
            self.assertIn("STATUS=2 port(s), 1 lcore(s) running", ready[0])
            # READY=1 came after the ports were started (their link lines are logged first).
            self.assertIn("net_null1", log_at_ready)
            self.assertIn("lcore 0: 2 rx queue(s)", log_at_ready)
            pings = [t for t, m in messages if m == "WATCHDOG=1"]
            self.assertGreaterEqual(len(pings), 4, texts)
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            self.assertLess(max(gaps), 0.3, gaps)  # always inside the watchdog interval
            stopping = [i for i, m in enumerate(texts) if m.startswith("STOPPING=1")]
            self.assertEqual(len(stopping), 1, texts)
            self.assertGreater(stopping[0], texts.index(ready[0]))
            self.assertIn("stopped cleanly", read_text(log))

    def test_without_watchdog_usec_no_ping(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "notify")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.settimeout(10)
            env = dict(os.environ, NOTIFY_SOCKET=path)
            env.pop("WATCHDOG_USEC", None)
            p = subprocess.run([ENGINE] + eal_args("nowatchdog") +
                               ["--vdev", "net_null0", "--", "--duration", "0.5"],
                               capture_output=True, text=True, env=env, timeout=60)
            sock.setblocking(False)
            texts = []
            while True:
                try:
                    texts.append(sock.recv(4096).decode())
                except BlockingIOError:
                    break
            sock.close()
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual([m.split("\n")[0] for m in texts], ["READY=1", "STOPPING=1"])


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, *args):
        # No "--", no EAL arguments: as the unit's ExecStartPre runs it.
        return subprocess.run([ENGINE] + list(args), capture_output=True, text=True, timeout=120)

    def good_config(self):
        keys = os.path.join(CONFIGS, "ntp-test.keys")
        rules = os.path.join(CONFIGS, "rules-classic.yaml")
        return self.write("good.yaml", (
            "ntp:\n  addresses: [192.0.2.1]\n"
            f"  keys: {keys}\n"
            "ports:\n  - name: a\n    device: net_null0\n"
            "  - name: b\n    device: \"03:00.1\"\n"
            "  - name: c\n    device: \"0000:3B:00.0,rxq_cqe_comp_en=1\"\n"
            f"rules: {rules}\n"))

    def test_good_config_exits_0_with_a_summary_and_no_eal(self):
        p = self.check("--check-config", self.good_config())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("good.yaml: ok: 3 port(s) (2 PCI), ntp, rules", p.stdout)
        # EAL never ran: it logs "EAL: ..." lines (and wants hugepages) when it does.
        self.assertNotIn("EAL", p.stdout + p.stderr)

    def test_check_config_after_eal_args_and_dashes_too(self):
        p = self.check("--no-huge", "--", "--check-config", self.good_config())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("EAL", p.stdout + p.stderr)

    def test_bad_key_is_refused_with_file_and_line(self):
        path = self.write("bad.yaml", "ports:\n  - name: a\n    devic: net_null0\n")
        p = self.check("--check-config", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:3:", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_missing_rules_file_is_refused_at_the_config_line(self):
        path = self.write("norules.yaml", "ports:\n  - name: a\n    device: net_null0\n"
                                          "rules: missing-rules.yaml\n")
        p = self.check("--check-config", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:4: 'rules'", p.stderr)
        self.assertIn("No such file or directory", p.stderr)
        self.assertIn("missing-rules.yaml", p.stderr)

    def test_bad_rule_is_refused_with_the_rules_file_line(self):
        rules = self.write("rules.yaml", "rules:\n  - id: r1\n    class: ntp\n"
                                         "    match: {field: snmp.community, regex: \"(\"}\n"
                                         "    action: count\n")
        path = self.write("badrule.yaml", f"ports:\n  - name: a\n    device: net_null0\nrules: {rules}\n")
        p = self.check("--check-config", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:4: rules: {rules}:", p.stderr)

    def test_bad_key_file_is_refused(self):
        keys = self.write("bad.keys", "1 MD5 short-but-fine\n2 NOPE abc\n")
        path = self.write("badkeys.yaml", f"ntp:\n  addresses: [192.0.2.1]\n  keys: {keys}\n"
                                          "ports:\n  - name: a\n    device: net_null0\n")
        p = self.check("--check-config", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:3: ntp keys: {keys}:2", p.stderr)

    def test_missing_config_file(self):
        p = self.check("--check-config", os.path.join(self.tmp, "none.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("none.yaml", p.stderr)

    def test_pci_devices_lists_full_lowercase_addresses(self):
        p = self.check("--pci-devices", self.good_config())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), ["0000:03:00.1", "0000:3b:00.0"])
        vdevs = self.write("vdev.yaml", "ports:\n  - name: a\n    device: net_null0\n")
        p = self.check("--pci-devices", vdevs)
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)

    def test_shipped_example_configs_check_out(self):
        # Every engine config installed as an example (rules-classic.yaml is a rules file)
        # passes the check, but those naming files of the operator's machine (NTS
        # certificates), which must say so by name.
        for name in sorted(os.listdir(CONFIGS)):
            if not name.endswith(".yaml") or name == "rules-classic.yaml":
                continue
            with self.subTest(config=name):
                path = os.path.join(CONFIGS, name)
                p = self.check("--check-config", path)
                if name == "nts-server.yaml":
                    self.assertEqual(p.returncode, 1)
                    self.assertIn("'certificate' /etc/ports-engine/nts-cert.pem: No such file", p.stderr)
                else:
                    self.assertEqual(p.returncode, 0, p.stderr)

    def test_version(self):
        for args in (["--version"], ["--", "--version"]):
            p = self.check(*args)
            self.assertEqual((p.returncode, p.stdout), (0, f"ports-engine {VERSION}\n"))


if __name__ == "__main__":
    run_tests(sys.argv[4:])
