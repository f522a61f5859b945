"""ports-engine with a rules file, as an operator runs it, on real captures (../shared/pcaps):
drop in inline mode, alert lines, per-rule counters in --stats-json, and SIGHUP reloads with a
valid and an invalid file. Expected counts come from tshark display filters over the same
bytes, not from the engine.

Usage: test_rules_cli.py ENGINE SHARED_DIR PORTS_GEN PORTS_ANALYZE   (exit 77: tshark or the captures are missing)"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (connect_telemetry, eal_args, file_prefix, read_pcap, read_text,  # noqa: E402
                    run_engine, run_tests, skip, wait_for)

ENGINE = SHARED = PORTS_GEN = ANALYZE = None
PACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs",
                    "rules-classic.yaml")
PACK_CAPTURES = ["tcpdump/ntp-mode7.pcap", "tcpdump/ntp-control.pcap", "zeek/snmp/snmpv1_get.pcap",
                 "zeek/snmp/snmpv1_set.pcap", "zeek/snmp/snmpv2_get_next.pcap"]
CAPTURES = ["tcpdump/ntp-mode7.pcap", "zeek/snmp/snmpv1_get.pcap"]


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for sec, ns, data in frames:
            f.write(struct.pack("<IIII", sec, ns // 1000, len(data), len(data)))
            f.write(data)


def tshark_frames(pcap, display_filter):
    """Frame numbers (1-based) tshark selects."""
    p = subprocess.run(["tshark", "-r", pcap, "-Y", display_filter, "-T", "fields",
                        "-e", "frame.number"], capture_output=True, text=True, check=True)
    return [int(x) for x in p.stdout.split()]


class RulesCli(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        # One capture of real NTP mode 7 and SNMP v1 frames.
        self.frames = []
        for c in CAPTURES:
            self.frames += read_pcap(os.path.join(SHARED, "pcaps", c))
        self.pcap = os.path.join(self.tmp, "input.pcap")
        write_pcap(self.pcap, self.frames)

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_inline_drop_alert_and_count(self):
        drop = tshark_frames(self.pcap, "ntp.priv.reqcode == 28")
        alert = tshark_frames(self.pcap, "ntp.priv.reqcode == 8")
        public = tshark_frames(self.pcap, 'snmp.community == "public"')
        self.assertTrue(drop and alert and public)
        self.write("rules.yaml", """rules:
  - id: ntp-reqcode-28
    name: NTP mode 7 request code 28
    class: ntp
    match: {field: ntp.request_code, equals: 28}
    action: drop
  - id: ntp-reqcode-8
    name: NTP mode 7 "request code 8"
    class: ntp
    match: {field: ntp.request_code, equals: 8}
    action: alert
    alert_rate: 1000
  - id: snmp-public
    class: snmp
    match: {field: snmp.community, regex: "^public$"}
    action: count
""")
        out_pcap = os.path.join(self.tmp, "out.pcap")
        # The rules path is relative to the config file (both in self.tmp).
        config = ("rules: rules.yaml\nports:\n"
                  f"  - name: in\n    device: \"net_pcap0,rx_pcap={self.pcap}\"\n"
                  "    mode: inline\n    peer: out\n"
                  f"  - name: out\n    device: \"net_pcap1,tx_pcap={out_pcap}\"\n")
        config_path = self.write("engine.yaml", config)
        stats = os.path.join(self.tmp, "stats.json")
        p = subprocess.run([ENGINE] + eal_args("rules-inline") + [
            "--", "--config", config_path, "--stats-json", stats, "--duration", "1"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(stats) as f:
            doc = json.load(f)

        # Dropped frames are exactly tshark's, and absent from what was forwarded.
        kept = [fr[2] for i, fr in enumerate(self.frames, 1) if i not in drop]
        self.assertEqual([fr[2] for fr in read_pcap(out_pcap)], kept)
        self.assertEqual(doc["rules"]["ntp-reqcode-28"],
                         {"matches": len(drop), "name": "NTP mode 7 request code 28",
                          "action": "drop"})
        self.assertEqual(doc["rules"]["ntp-reqcode-8"]["matches"], len(alert))
        self.assertEqual(doc["rules"]["snmp-public"]["matches"], len(public))
        self.assertEqual(doc["rule_engine"]["dropped"], len(drop))

        # One structured line per alert (its rate is high enough for all of them).
        lines = [l for l in p.stderr.splitlines() if "alert rule=ntp-reqcode-8 " in l]
        self.assertEqual(len(lines), len(alert), p.stderr)
        self.assertRegex(lines[0], r'name="NTP mode 7 \\"request code 8\\"" class=ntp lcore=0 '
                                   r'port=0 src=127\.0\.0\.1 dst=127\.0\.0\.1 length=\d+ matches=\d+')
        self.assertEqual(doc["rule_engine"]["alerts_emitted"], len(alert))
        self.assertEqual(doc["rule_engine"]["alerts_suppressed"], 0)
        self.assertIn("rules: 3 rules (generation 1)", p.stdout)

    def test_sighup_reloads_valid_file_and_keeps_running_set_on_invalid(self):
        # Every SNMP frame of the capture has community public: the surviving rule must
        # count all of them across both reloads (the classes counter is the reference).
        self.assertEqual(len(tshark_frames(self.pcap, "snmp")),
                         len(tshark_frames(self.pcap, 'snmp.community == "public"')))
        rules = self.write("rules.yaml", """rules:
  - id: snmp-public
    class: snmp
    match: {field: snmp.community, regex: "^public$"}
    action: count
  - id: ntp-reqcode-28
    class: ntp
    match: {field: ntp.request_code, equals: 28}
    action: count
""")
        config_path = self.write("engine.yaml", (
            f"rules: {rules}\nports:\n"
            f"  - name: in\n    device: \"net_pcap0,rx_pcap={self.pcap},infinite_rx=1\"\n"))
        stats = os.path.join(self.tmp, "stats.json")
        args = eal_args("rules-hup")
        out_path, err_path = os.path.join(self.tmp, "out.log"), os.path.join(self.tmp, "err.log")
        with open(out_path, "w") as out_f, open(err_path, "w") as err_f:
            p = subprocess.Popen([ENGINE] + args + [
                "--", "--config", config_path, "--stats-json", stats], stdout=out_f, stderr=err_f)
        tel = None

        def stage():
            return (tel.ask_or_none("/ports_engine/rules") or {}).get("stage", {})

        def wait(what, condition):
            self.assertTrue(wait_for(condition, 20, proc=p), f"{what}; engine log:\n" +
                            read_text(err_path))
        try:
            tel = connect_telemetry(file_prefix(args), p)
            # Traffic first: the whole capture once through the first set.
            wait("no traffic counted", lambda: tel.counted() >= len(self.frames))
            self.write("rules.yaml", """rules:
  - id: snmp-public
    class: snmp
    match: {field: snmp.community, regex: "^public$"}
    action: count
  - id: broken
    class: ntp
    match: {field: payload, regex: "(unclosed"}
    action: count
""")
            p.send_signal(signal.SIGHUP)
            wait("the invalid file's reload never failed", lambda: stage().get("reloads_failed") == 1)
            self.write("rules.yaml", """rules:
  - id: ntp-mode7
    class: ntp
    match: {field: ntp.mode, equals: 7}
    action: count
  - id: snmp-public
    name: SNMP public (second file)
    class: snmp
    match: {field: snmp.community, regex: "public"}
    action: count
""")
            p.send_signal(signal.SIGHUP)
            # The second file is running (the first load and this one) and has matched.
            wait("the valid file's reload never completed", lambda: stage().get("reloads_ok") == 2)
            wait("the new rule never matched",
                 lambda: (tel.ask_or_none("/ports_engine/rules") or {}).get(
                     "ntp_mode7", {}).get("matches", 0) > 0)
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=30)
        finally:
            if tel is not None:
                tel.close()
            if p.poll() is None:
                p.kill()
                p.wait()
        out, err = read_text(out_path), read_text(err_path)
        self.assertEqual(p.returncode, 0, err)
        self.assertRegex(err, r"rules\.yaml not loaded, the running set stays \(2 rules, "
                              r"generation 1\): \S*rules\.yaml:\d+: rule broken: ")
        self.assertRegex(err, r"rules\.yaml loaded: 2 rules, .*generation 2")
        with open(stats) as f:
            doc = json.load(f)
        self.assertEqual(sorted(doc["rules"]), ["ntp-mode7", "snmp-public"])
        self.assertEqual(doc["rules"]["snmp-public"]["name"], "SNMP public (second file)")
        # Continuity: one counter from start to stop, through the failed and the good reload.
        self.assertEqual(doc["rules"]["snmp-public"]["matches"], doc["classes"]["snmp"]["packets"])
        self.assertGreater(doc["rules"]["ntp-mode7"]["matches"], 0)
        self.assertLess(doc["rules"]["ntp-mode7"]["matches"], doc["classes"]["ntp"]["packets"])
        engine = doc["rule_engine"]
        self.assertEqual((engine["reloads_ok"], engine["reloads_failed"]), (2, 1))
        self.assertEqual(engine["generation"], 2)
        self.assertIn("reloads 2 ok 1 failed", out)

    def test_ntp_service_does_not_answer_dropped_requests(self):
        # The README demo's traffic (ports-gen: a mix and 50 NTP clients of 192.0.2.1) with a
        # rule dropping NTP client mode: the service answers none of them.
        pcap = os.path.join(self.tmp, "demo.pcap")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "2000", "--seed", "1",
                        "--ntp-clients", "50"], check=True)
        rules = self.write("rules.yaml", """rules:
  - id: ntp-client-mode
    class: ntp
    match: {field: ntp.mode, equals: 3}
    action: drop
""")
        replies = os.path.join(self.tmp, "replies.pcap")
        config = (f"rules: {rules}\nntp:\n  addresses: [192.0.2.1]\n  assume_synchronized: true\n"
                  f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap},tx_pcap={replies}\"\n")
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "rules-ntp", config=config)
        self.assertEqual(rc, 0, err)
        matches = doc["rules"]["ntp-client-mode"]["matches"]
        self.assertGreaterEqual(matches, 50)
        # The rule's field extraction and the classifier's own mode counter agree.
        self.assertEqual(matches, doc["classes"]["ntp"]["mode_client"])
        self.assertEqual(doc["rule_engine"]["dropped"], matches)
        self.assertEqual(doc["ntp_server"]["replies"], 0)
        self.assertEqual(doc["ntp_server"]["requests"], 0)
        self.assertEqual(len(read_pcap(replies)), 0)

    def test_shipped_pack_counts_as_the_analyzer_does(self):
        # The engine's workers and ports-analyze apply the shipped pack to the same bytes: the
        # per-rule counts must be the same (both documents share the "rules" shape).
        frames = []
        for c in PACK_CAPTURES:
            frames += read_pcap(os.path.join(SHARED, "pcaps", c))
        pcap = os.path.join(self.tmp, "pack.pcap")
        write_pcap(pcap, frames)
        a = subprocess.run([ANALYZE, "--json", "--threads", "1", "--rules", PACK, pcap],
                           capture_output=True, text=True, check=True)
        offline = json.loads(a.stdout)["rules"]
        config = (f"rules: {os.path.abspath(PACK)}\nports:\n"
                  f"  - name: in\n    device: \"net_pcap0,rx_pcap={pcap}\"\n")
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "rules-pack", config=config)
        self.assertEqual(rc, 0, err)
        self.assertEqual({k: v["matches"] for k, v in doc["rules"].items()},
                         {k: v["matches"] for k, v in offline.items()})
        self.assertGreaterEqual(sum(1 for v in offline.values() if v["matches"] > 0), 3)
        self.assertEqual(doc["total"]["packets"], len(frames))

    def alert_config(self, extra=""):
        self.write("rules.yaml", """rules:
  - id: ntp-reqcode-8
    class: ntp
    match: {field: ntp.request_code, equals: 8}
    action: alert
    alert_rate: 1000
""")
        return self.write("engine.yaml", "rules: rules.yaml\n" + extra + "ports:\n"
                          f"  - name: in\n    device: \"net_pcap0,rx_pcap={self.pcap}\"\n")

    def test_alerts_go_to_their_own_file(self):
        alert = tshark_frames(self.pcap, "ntp.priv.reqcode == 8")
        self.assertTrue(alert)
        # The config's 'alerts' (relative to the config file) and --alerts, which wins.
        for name, extra, args in (("config", "alerts: from-config.log\n", []),
                                  ("cli", "alerts: from-config.log\n",
                                   ["--alerts", os.path.join(self.tmp, "from-cli.log")])):
            with self.subTest(name):
                for f in ("from-config.log", "from-cli.log"):
                    if os.path.exists(os.path.join(self.tmp, f)):
                        os.unlink(os.path.join(self.tmp, f))
                p = subprocess.run([ENGINE] + eal_args("rules-alerts-" + name) + [
                    "--", "--config", self.alert_config(extra), "--duration", "1"] + args,
                    capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                written = os.path.join(self.tmp, "from-cli.log" if args else "from-config.log")
                with open(written) as f:
                    lines = f.read().splitlines()
                self.assertEqual(len(lines), len(alert))
                self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} alert "
                                           r"rule=ntp-reqcode-8 .* src=127\.0\.0\.1 ")
                self.assertNotIn("alert rule=", p.stderr)
                if args:
                    self.assertFalse(os.path.exists(os.path.join(self.tmp, "from-config.log")))

    def test_alerts_file_that_cannot_be_written_refuses_to_start(self):
        # A directory where the file should be (a missing directory is created, as spdlog does).
        unwritable = self.tmp
        p = subprocess.run([ENGINE] + eal_args("rules-alerts-bad") + [
            "--", "--config", self.alert_config(), "--duration", "1", "--alerts", unwritable],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"alerts {unwritable}: ", p.stderr)
        # --alerts with no rules to write them: a usage error, before EAL.
        config = self.write("norules.yaml", f"ports:\n  - name: a\n    device: \"net_pcap0,rx_pcap={self.pcap}\"\n")
        p = subprocess.run([ENGINE] + eal_args("rules-alerts-norules") + [
            "--", "--config", config, "--alerts", os.path.join(self.tmp, "a.log")],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("no rules configured", p.stderr)

    def test_bad_rules_file_refuses_to_start_with_file_and_line(self):
        self.write("rules.yaml", "rules:\n  - id: x\n    class: ntp\n    match: {field: ntp.nope, equals: 1}\n    action: count\n")
        config = f"rules: {os.path.join(self.tmp, 'rules.yaml')}\nports:\n  - name: a\n    device: \"net_pcap0,rx_pcap={self.pcap}\"\n"
        rc, _, err, doc = run_engine(ENGINE, [], ["--duration", "1"], "rules-bad", config=config)
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"rules: \S*rules\.yaml:\d+: rule x: ")
        self.assertIsNone(doc)


if __name__ == "__main__":
    ENGINE, SHARED, PORTS_GEN, ANALYZE = sys.argv[1:5]
    if shutil.which("tshark") is None:
        skip("tshark (package tshark) is not installed: the expected counts come from it")
    absent = [c for c in CAPTURES + PACK_CAPTURES if not os.path.exists(os.path.join(SHARED, "pcaps", c))]
    if absent:
        skip(f"shared captures absent from {SHARED}/pcaps: {', '.join(absent)}")
    run_tests()
