"""The engine's notifications through snmpd to a real snmptrapd (both on private loopback
ports): portsEngineStarted, LinkDown/LinkUp and IF-MIB's linkDown/linkUp (ifIndex,
ifAdminStatus, ifOperStatus) of a net_tap port taken down and up with `ip link`, its IF-MIB
row's ifOperStatus and ifLastChange following,
a threshold (a class's malformed rate over net_pcap infinite_rx) and portsEngineStopping;
a rule's `alert` action as portsEngineRuleAlert, and the rule table walked by name equal to
--stats-json's "rules".

SNMPv3 authPriv (SHA-256/AES) notifications reach a receiver that accepts nothing else.

Usage: test_snmp_traps.py ENGINE PORTS_GEN MIB_DIR...   (the link test needs root: net_tap)"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import eal_args, run_tests  # noqa: E402
import snmp_support as snmp  # noqa: E402

ENGINE = PORTS_GEN = None
MIB_DIRS = []


class SnmpTraps(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.trapd = self.snmpd = self.engine = None

    def tearDown(self):
        if self.engine is not None and self.engine.poll() is None:
            self.engine.kill()
            self.engine.communicate()
        for d in (self.snmpd, self.trapd):
            if d is not None:
                d.stop()
        self._tmp.cleanup()

    def wait_trap(self, name, timeout=10):
        return snmp.wait_for(lambda: name in self.trapd.read(), timeout)

    def row_when(self, if_index, status, names, timeout=10):
        """snmpget of `names` once ifOperStatus.IF_INDEX is `status`, or the last answer after
        `timeout` s; returns (rc, stdout, stderr, {name: value}). Polled: the subagent answers
        a GET from a snapshot up to get_max_age (1 s, telemetry/snmp_agent.hpp) old, which can
        predate the link change that a notification has just reported."""
        last = None

        def answer():
            nonlocal last
            rc, out, err = snmp.get(self.snmpd.v2c(), MIB_DIRS, names)
            got = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
            last = (rc, out, err, got)
            return rc == 0 and got.get(f"ifOperStatus.{if_index}") == status
        snmp.wait_for(answer, timeout)
        return last

    def test_v3_authpriv_notifications_reach_a_v3_only_receiver(self):
        # snmpd sends as SNMPv3 authPriv (SHA-256/AES) under a fixed engine ID; the receiver
        # knows the user under that engine ID only, and accepts nothing unauthenticated.
        engine_id_text = "ports-engine-test"
        engine_id = "80001F8804" + engine_id_text.encode().hex()  # net-snmp's text engine ID
        self.trapd = snmp.Snmptrapd(self.tmp, MIB_DIRS, v3_engine_id=engine_id).start()
        self.snmpd = snmp.Snmpd(self.tmp)
        with open(self.snmpd.conf, "a") as f:
            f.write(f"engineID {engine_id_text}\n"
                    f'trapsess -v 3 -u {snmp.V3_USER} -l authPriv -a SHA-256 -A "{snmp.V3_AUTH}" '
                    f'-x AES -X "{snmp.V3_PRIV}" 127.0.0.1:{self.trapd.port}\n')
        self.snmpd.start()
        pcap = os.path.join(self.tmp, "small.pcap")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "200", "--seed", "45"], check=True)
        path = os.path.join(self.tmp, "engine.yaml")
        with open(path, "w") as f:
            f.write(f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
                    f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n")
        self.engine = subprocess.Popen(
            [ENGINE] + eal_args("v3traps") + ["--", "--config", path, "--duration", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(self.wait_trap("portsEngineStarted"), self.trapd.read())
        self.engine.send_signal(signal.SIGTERM)
        _, err = self.engine.communicate(timeout=30)
        self.assertEqual(self.engine.returncode, 0, err)
        self.assertTrue(self.wait_trap("portsEngineStopping"), self.trapd.read())
        self.assertIn("portsEngineVersion.0 = ", self.trapd.read())

    def test_started_link_threshold_and_stopping_reach_the_trap_receiver(self):
        if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
            self.skipTest("needs root and /dev/net/tun for the net_tap port")
        pcap = os.path.join(self.tmp, "mix.pcap")
        expect = os.path.join(self.tmp, "mix.json")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "2000", "--seed", "43",
                        "--malformed-share", "0.2", "--expect", expect], check=True)
        with open(expect) as f:
            tally = json.load(f)
        # The class with the most malformed frames: its rate is far above 1/s under infinite_rx.
        cls = max(tally["classes"], key=lambda c: tally["classes"][c]["malformed"])
        self.assertGreater(tally["classes"][cls]["malformed"], 0)
        counter = f"{cls}.malformed"

        self.trapd = snmp.Snmptrapd(self.tmp, MIB_DIRS).start()
        self.snmpd = snmp.Snmpd(self.tmp, trap_port=self.trapd.port).start()
        tap = f"pe{os.getpid() % 100000}"
        if_index = 9001  # the tap is port 1; if_index_base 9000
        config = ("ports:\n"
                  f"  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap},infinite_rx=1\"\n"
                  f"  - name: tap\n    device: \"net_tap0,iface={tap}\"\n"
                  f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n  if_index_base: 9000\n"
                  "  thresholds:\n"
                  f"    - {{counter: {counter}, rate_above: 1, interval: 1, holddown: 60}}\n")
        path = os.path.join(self.tmp, "engine.yaml")
        with open(path, "w") as f:
            f.write(config)
        self.engine = subprocess.Popen(
            [ENGINE] + eal_args("traps") + ["--", "--config", path, "--duration", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        self.assertTrue(self.wait_trap("portsEngineStarted"),
                        "no portsEngineStarted; snmptrapd log:\n" + self.trapd.read())
        self.assertTrue(self.wait_trap(f"portsEngineThresholdCounter.0 = {counter}"),
                        "no threshold notification:\n" + self.trapd.read())
        # The watcher has seen the tap up before it goes down: the threshold notification
        # comes from the watcher's second look at the earliest (a rate needs two samples), and
        # the agent's view of the link says up.
        self.assertTrue(snmp.wait_for(lambda: snmp.get(self.snmpd.v2c(), MIB_DIRS, [
            "PORTS-ENGINE-MIB::portsEnginePortLink.2"])[1].strip().endswith("= 1"), 10),
            "the tap's link never showed up in the MIB")
        # Only the notifications this test causes from here on are waited for.
        names = ("portsEngineLinkDown", "portsEngineLinkUp", "= linkDown", "= linkUp")
        downs, ups, if_downs, if_ups = (self.trapd.read().count(n) for n in names)
        oper = f"IF-MIB::ifOperStatus.{if_index}"
        last_change = f"IF-MIB::ifLastChange.{if_index}"
        subprocess.run(["ip", "link", "set", "dev", tap, "down"], check=True)
        self.assertTrue(snmp.wait_for(
            lambda: self.trapd.read().count("portsEngineLinkDown") > downs and
            self.trapd.read().count("= linkDown") > if_downs, 10), self.trapd.read())
        # The row says it too: down(2), since a sysUpTime after snmpd's start.
        rc, out, err, got = self.row_when(if_index, "2",
                                          [oper, last_change, "SNMPv2-MIB::sysUpTime.0"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(got[f"ifOperStatus.{if_index}"], "2", out)
        down_since = int(got[f"ifLastChange.{if_index}"])
        self.assertGreater(down_since, 0, out)
        self.assertLessEqual(down_since, int(got["sysUpTime.0"]), out)
        subprocess.run(["ip", "link", "set", "dev", tap, "up"], check=True)
        self.assertTrue(snmp.wait_for(
            lambda: self.trapd.read().count("portsEngineLinkUp") > ups and
            self.trapd.read().count("= linkUp") > if_ups, 10), self.trapd.read())
        rc, out, err, got = self.row_when(if_index, "1", [oper, last_change])
        self.assertEqual(rc, 0, err)
        self.assertEqual(got[f"ifOperStatus.{if_index}"], "1", out)
        self.assertGreaterEqual(int(got[f"ifLastChange.{if_index}"]), down_since, out)
        # A net_tap is an Ethernet interface.
        rc, out, err = snmp.get(self.snmpd.v2c(), MIB_DIRS, [f"IF-MIB::ifType.{if_index}"])
        self.assertTrue(out.strip().endswith("= 6"), out + err)

        self.engine.send_signal(signal.SIGTERM)
        _, err = self.engine.communicate(timeout=30)
        self.assertEqual(self.engine.returncode, 0, err)
        self.assertTrue(self.wait_trap("portsEngineStopping"), self.trapd.read())

        log = self.trapd.read()
        # The tap is port 1 (index 2): the link notifications name it and its state.
        self.assertIn("portsEnginePortName.2 = tap", log)
        self.assertIn("portsEnginePortLink.2 = down", log)
        self.assertIn("portsEnginePortLink.2 = up", log)
        # IF-MIB's linkDown/linkUp name the tap's row by its ifIndex, with both statuses.
        self.assertIn(f"ifIndex.{if_index} = {if_index}", log)
        self.assertIn(f"ifAdminStatus.{if_index} = up", log)
        self.assertIn(f"ifOperStatus.{if_index} = down", log)
        self.assertIn(f"ifOperStatus.{if_index} = up", log)
        self.assertIn("portsEngineThresholdLimit.0 = 1", log)
        # Hold-down: one threshold notification in this run, however long the flood lasts.
        self.assertEqual(log.count("portsEngineThresholdCounter.0"), 1, log)
        self.assertEqual(log.count("portsEngineStarted"), 1, log)

    def test_rule_alert_and_rule_table(self):
        pcap = os.path.join(self.tmp, "mix.pcap")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "2000", "--seed", "46"], check=True)
        rules = os.path.join(self.tmp, "rules.yaml")
        with open(rules, "w") as f:
            f.write("rules:\n"
                    "  - id: ntp-mode7\n    name: NTP mode 7 request\n    class: ntp\n"
                    "    match: {field: ntp.mode, equals: 7}\n    action: alert\n"
                    "  - id: snmp-v3-user\n    class: any\n"
                    "    match: {field: snmp.user, regex: \".\"}\n    action: count\n")
        self.trapd = snmp.Snmptrapd(self.tmp, MIB_DIRS).start()
        self.snmpd = snmp.Snmpd(self.tmp, trap_port=self.trapd.port).start()
        path = os.path.join(self.tmp, "engine.yaml")
        stats = os.path.join(self.tmp, "stats.json")
        with open(path, "w") as f:
            f.write(f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
                    f"rules: {rules}\n"
                    f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n")
        self.engine = subprocess.Popen(
            [ENGINE] + eal_args("ruletraps") + ["--", "--config", path, "--duration", "30",
                                                 "--stats-json", stats],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(self.wait_trap("portsEngineRuleAlert"), self.trapd.read())
        log = self.trapd.read()
        self.assertIn("portsEngineRuleId.1 = ntp-mode7", log)
        self.assertIn("portsEngineRuleName.1 = NTP mode 7 request", log)
        # The capture is read once (2000 frames): the counts are final once the MIB's total is.
        self.assertTrue(snmp.wait_for(lambda: snmp.get(self.snmpd.v2c(), MIB_DIRS, [
            "PORTS-ENGINE-MIB::portsEngineTotalPackets.0"])[1].strip().endswith("= 2000"), 15),
            "the engine never counted the whole capture")
        rc, table, raw, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS,
                                        root="PORTS-ENGINE-MIB::portsEngineRuleTable")
        self.engine.send_signal(signal.SIGTERM)
        _, err_engine = self.engine.communicate(timeout=30)
        self.assertEqual(self.engine.returncode, 0, err_engine)
        self.assertEqual(rc, 0, err)
        with open(stats) as f:
            doc = json.load(f)
        # Every valid mode 7 frame of the capture matched, and the walk says the same.
        self.assertEqual(doc["rules"]["ntp-mode7"]["matches"],
                         doc["classes"]["ntp"]["mode_private"])
        self.assertGreater(doc["rules"]["ntp-mode7"]["matches"], 0)
        self.assertEqual(int(table["portsEngineRuleMatches.1"]),
                         doc["rules"]["ntp-mode7"]["matches"])
        self.assertEqual(table["portsEngineRuleId.2"], "snmp-v3-user")
        self.assertEqual(table["portsEngineRuleClass.1"], "1")  # ntp(1)
        self.assertEqual(table["portsEngineRuleClass.2"], "8")  # any(8)
        self.assertEqual(table["portsEngineRuleAction.1"], "alert")
        self.assertEqual(int(table["portsEngineRuleMatches.2"]),
                         doc["rules"]["snmp-v3-user"]["matches"])
        self.assertGreater(doc["rules"]["snmp-v3-user"]["matches"], 0)


if __name__ == "__main__":
    ENGINE, PORTS_GEN, MIB_DIRS = snmp.arguments()
    run_tests()
