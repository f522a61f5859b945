"""PORTS-ENGINE-MIB through a real snmpd: the engine runs as AgentX subagent of a private snmpd
(loopback port, own config, persistent dir and AgentX socket) on net_pcap over a capture of
every class plus NTP requests to its service.

Usage: test_snmp.py ENGINE PORTS_GEN MIB_DIR...
- snmpwalk -v2c, snmpwalk -v3 authPriv (SHA-256/AES) and snmpbulkwalk of the MIB by name give
  the numbers of the engine's --stats-json (classes with every detail counter, totals, ports,
  NTP server, lcores);
- a wrong community, a wrong v3 auth or priv passphrase get nothing;
- snmpd killed and started again while the engine runs: the subagent reconnects and the
  walk gives the same counters (not reset);
- under a flood (infinite_rx) every walk is one snapshot: its total is the sum of its rows;
- the shipped configs/snmpd-v2c.conf and snmpd-v3.conf work as documented;
- without snmpd the engine runs on;
- IF-MIB: snmpwalk and snmptable of ifTable and ifXTable show a row per engine port (ifIndex
  snmp.if_index_base + port id) equal to --stats-json's ports, the In casts equal to the
  capture's destination MACs, beside snmpd's own rows for the kernel's interfaces (lo ...),
  in OID order and with no ifIndex served twice."""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import eal_args, file_prefix, read_pcap, read_text, run_tests, wait_counted  # noqa: E402
import snmp_support as snmp  # noqa: E402

ENGINE = PORTS_GEN = None
MIB_DIRS = []

CLASSES = ["ntp", "snmp", "snmp-trap", "l2tp", "pptp", "gre", "other"]
NTP_OBJECTS = {
    "Requests": "requests", "Replies": "replies", "AuthOk": "auth_ok", "AuthFail": "auth_fail",
    "CryptoNaks": "crypto_nak", "RateLimited": "rate_limited", "KodSent": "kod_sent",
    "DropMode6": "drop_mode6", "DropMode7": "drop_mode7", "DropOtherMode": "drop_other_mode",
    "DropAccess": "drop_access", "DropMalformed": "drop_malformed",
    "DropAuthRequired": "drop_auth_required", "DropUnsupportedIp": "drop_unsupported_ip",
    "DropSignFailed": "drop_sign_failed", "DropTimestampError": "drop_timestamp_error",
    "InterleavedReplies": "interleaved_replies", "InterleavedMisses": "interleaved_misses"}
PORT_OBJECTS = {
    "RxPackets": "rx_packets", "TxPackets": "tx_packets", "RxOctets": "rx_bytes",
    "TxOctets": "tx_bytes", "RxErrors": "rx_errors", "RxMissed": "rx_missed",
    "RxNoMbuf": "rx_nombuf", "TxErrors": "tx_errors"}


def kernel_interfaces():
    """{ifindex: name} of this network namespace's interfaces."""
    out = {}
    for dev in os.listdir("/sys/class/net"):
        try:
            with open(f"/sys/class/net/{dev}/ifindex") as f:
                out[int(f.read())] = dev
        except FileNotFoundError:  # removed while listed
            pass
    return out


def expected_from_stats(doc):
    """What the walk must show, {object.index: value}, from --stats-json."""
    out = {"portsEngineTotalPackets.0": str(doc["total"]["packets"]),
           "portsEngineTotalOctets.0": str(doc["total"]["bytes"]),
           "portsEnginePortCount.0": str(len(doc["ports"])),
           "portsEngineLcoreCount.0": str(len(doc["lcores"]))}
    for i, cls in enumerate(CLASSES, start=1):
        counters = doc["classes"][cls]
        out[f"portsEngineClassName.{i}"] = cls
        for obj, key in (("Packets", "packets"), ("Octets", "bytes"),
                         ("Malformed", "malformed"), ("Fragments", "fragments")):
            out[f"portsEngineClass{obj}.{i}"] = str(counters[key])
        details = [k for k in counters if k not in ("packets", "bytes", "malformed", "fragments")]
        for d, key in enumerate(details, start=1):
            out[f"portsEngineClassDetailName.{i}.{d}"] = key
            out[f"portsEngineClassDetailValue.{i}.{d}"] = str(counters[key])
    for p in doc["ports"]:
        i = p["port_id"] + 1
        out[f"portsEnginePortName.{i}"] = p["name"]
        out[f"portsEnginePortDriver.{i}"] = p["driver"]
        out[f"portsEnginePortLink.{i}"] = "1" if p["link_up"] else "2"
        for obj, key in PORT_OBJECTS.items():
            out[f"portsEnginePort{obj}.{i}"] = str(p[key])
        stamps = p.get("ntp_receive_stamps")
        if stamps is not None:  # columns 14-18: ports that serve NTP only
            out[f"portsEnginePortNtpStampSource.{i}"] = stamps["source"]
            out[f"portsEnginePortNtpStampErrorDrops.{i}"] = str(stamps["timestamp_error_drops"])
            for obj, key in (("Software", "software"), ("Pcap", "pcap_microseconds"),
                             ("Device", "device_ticks")):
                out[f"portsEnginePortNtp{obj}Stamped.{i}"] = str(stamps["replies_by_source"][key])
    for obj, key in NTP_OBJECTS.items():
        out[f"portsEngineNtp{obj}.0"] = str(doc["ntp_server"][key])
    out["portsEngineNtpEnabled.0"] = "1"
    # Replies leave by the lcores' one TX path: the NTP group's TX drops are theirs.
    out["portsEngineNtpTxDropped.0"] = str(sum(l["tx_dropped"] for l in doc["lcores"]))
    # This config has no ntp.nts (so no exception path either): both groups are served, off.
    assert "nts" not in doc, "the walk test expects a config without ntp.nts"
    out["portsEngineNtsEnabled.0"] = "2"
    for obj in ("Requests", "Replies", "Naks", "AuthFailed", "Malformed", "CookiesIssued",
                "RateLimited", "KeAccepted", "KeSessionsOk", "KeTlsFailed", "KeBadRequests",
                "KeTimeouts", "KeRejected", "KeCookiesIssued", "MasterKeys", "KeyRotations",
                "KeyReloads", "KeyReloadFailures"):
        out[f"portsEngineNts{obj}.0"] = "0"
    out["portsEngineExceptionEnabled.0"] = "2"
    for obj in ("ToKernel", "FromKernel", "RateDropped"):
        out[f"portsEngineException{obj}.0"] = "0"
    # No tunnels: section: the tunnel group is served, off, and its tables are empty
    # (test_snmp_tunnels.py walks them filled).
    assert "tunnels" not in doc, "the walk test expects a config without tunnels:"
    out["portsEngineTunnelsEnabled.0"] = "2"
    for obj in ("Capacity", "Objects", "Frames", "TableFull", "Expired", "Reused", "Unknown",
                "RowLimit", "NotificationsSuppressed"):
        out[f"portsEngineTunnel{obj}.0"] = "0"
    for l in doc["lcores"]:
        i = l["lcore"] + 1
        out[f"portsEngineLcoreId.{i}"] = str(l["lcore"])
        out[f"portsEngineLcoreRxPackets.{i}"] = str(l["rx_packets"])
        out[f"portsEngineLcoreTxPackets.{i}"] = str(l["tx_packets"])
        out[f"portsEngineLcoreTxDropped.{i}"] = str(l["tx_dropped"])
        f = l["fates"]
        for obj, key in (("Forwarded", "forwarded"), ("Replied", "replied"),
                         ("ToKernel", "to_kernel"), ("Released", "released")):
            out[f"portsEngineLcore{obj}.{i}"] = str(f[key])
        out[f"portsEngineLcoreDropped.{i}"] = str(sum(f["dropped"].values()))
        # Every received frame's fate, once.
        assert l["rx_packets"] == (f["forwarded"] + f["replied"] + f["to_kernel"] + f["released"]
                                   + sum(f["dropped"].values())), l
    return out


def counters_only(values):
    """Drops what moves between two walks of an idle engine (uptime, snapshot time, busy)."""
    moving = ("portsEngineUptime", "portsEngineSnapshotTime", "portsEngineLcoreBusy")
    return {k: v for k, v in values.items() if not k.startswith(moving)}


class SnmpWalks(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.snmpd = None
        self.engine = None

    def tearDown(self):
        if self.engine is not None and self.engine.poll() is None:
            self.engine.kill()
            self.engine.communicate()
        if self.snmpd is not None:
            self.snmpd.stop()
        self._tmp.cleanup()

    def start_engine(self, config, tag):
        path = os.path.join(self.tmp, "engine.yaml")
        with open(path, "w") as f:
            f.write(config)
        self.stats = os.path.join(self.tmp, "stats.json")
        # The engine's output goes to a file the test can read while it runs (engine_log).
        self.log_path = os.path.join(self.tmp, f"engine-{tag}.log")
        args = eal_args(tag)
        self.prefix = file_prefix(args)
        cmd = [ENGINE] + args + ["--", "--config", path, "--stats-json", self.stats,
                                 "--duration", "30"]
        with open(self.log_path, "w") as log:
            self.engine = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def engine_log(self):
        return read_text(self.log_path)

    def stop_engine(self):
        self.engine.send_signal(signal.SIGTERM)
        self.engine.communicate(timeout=30)
        err = self.engine_log()
        self.assertEqual(self.engine.returncode, 0, err)
        with open(self.stats) as f:
            return json.load(f), err

    def wait_for_counts(self, security, total):
        """Until the subagent answers and the engine has counted the whole capture."""
        def done():
            rc, out, _ = snmp.get(security, MIB_DIRS, ["PORTS-ENGINE-MIB::portsEngineTotalPackets.0"])
            return rc == 0 and out.strip().endswith(f"= {total}")
        return snmp.wait_for(done, 15, step=0.2)

    def test_walks_match_stats_json_and_survive_an_snmpd_restart(self):
        pcap = os.path.join(self.tmp, "mix.pcap")
        expect = os.path.join(self.tmp, "mix.json")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "3000", "--seed", "41",
                        "--ntp-clients", "40", "--expect", expect], check=True)
        with open(expect) as f:
            tally = json.load(f)
        replies = os.path.join(self.tmp, "replies.pcap")
        self.snmpd = snmp.Snmpd(self.tmp).start()
        self.start_engine(
            "ntp:\n  addresses: [192.0.2.1]\n  assume_synchronized: true\n"
            f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap},tx_pcap={replies}\"\n"
            f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n", "snmp")
        total = tally["total"]["packets"]
        self.assertTrue(self.wait_for_counts(self.snmpd.v2c(), total),
                        "the subagent never served the capture's count; snmpd log:\n" +
                        self.snmpd.read_log())

        rc, v2c, raw, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("No Such", raw)
        rc, v3, _, err = snmp.walk(self.snmpd.v3(), MIB_DIRS)
        self.assertEqual(rc, 0, err)
        rc, bulk, _, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS, bulk=True)
        self.assertEqual(rc, 0, err)

        # Nothing for a wrong community (snmpd stays silent) or wrong v3 passphrases.
        rc, bad, raw_bad, _ = snmp.walk(self.snmpd.v2c("not-the-community"), MIB_DIRS,
                                        timeout=0.5, retries=0)
        self.assertNotEqual(rc, 0)
        self.assertEqual(bad, {}, raw_bad)
        rc, bad, raw_bad, err_bad = snmp.walk(self.snmpd.v3(auth="not-the-auth-passphrase"),
                                              MIB_DIRS, timeout=0.5, retries=0)
        self.assertNotEqual(rc, 0)
        self.assertEqual(bad, {}, raw_bad)
        self.assertIn("Authentication failure", err_bad)
        rc, bad, raw_bad, _ = snmp.walk(self.snmpd.v3(priv="not-the-priv-passphrase"), MIB_DIRS,
                                        timeout=0.5, retries=0)
        self.assertNotEqual(rc, 0)
        self.assertEqual(bad, {}, raw_bad)

        # snmpd dies and comes back: the subagent reconnects, the counters are still there.
        self.snmpd.stop(signal.SIGKILL)
        os.unlink(self.snmpd.agentx)
        # The subagent has seen it go before snmpd comes back.
        self.assertTrue(snmp.wait_for(lambda: "lost snmpd" in self.engine_log(), 15,
                                      proc=self.engine), self.engine_log())
        self.snmpd.start()
        self.assertTrue(self.wait_for_counts(self.snmpd.v2c(), total),
                        "no answer after snmpd's restart")
        rc, again, _, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS)
        self.assertEqual(rc, 0, err)
        # The IF-MIB rows are registered again too (default ifIndex base 1000000, port 0).
        rc, out, err = snmp.get(self.snmpd.v2c(), MIB_DIRS, ["IF-MIB::ifName.1000000"])
        self.assertEqual((rc, out.strip()), (0, "ifName.1000000 = capture"), err)

        doc, engine_log = self.stop_engine()
        expected = expected_from_stats(doc)
        self.assertGreater(doc["ntp_server"]["replies"], 0)
        for name, value in expected.items():
            self.assertEqual(v2c.get(name), value, name)
            self.assertEqual(again.get(name), value, name)
        self.assertEqual(counters_only(v3), counters_only(v2c))
        self.assertEqual(counters_only(bulk), counters_only(v2c))
        # Every instance of the walk is accounted for but the moving ones and the constants.
        unexpected = set(counters_only(v2c)) - set(expected)
        self.assertEqual(unexpected, {"portsEngineVersion.0", "portsEnginePortSpeed.1",
                                      "portsEngineNtpStratum.0", "portsEngineNtpLeap.0"})
        self.assertEqual(v2c["portsEngineNtpStratum.0"], "1")
        self.assertEqual(v2c["portsEngineNtpLeap.0"], "0")
        self.assertEqual(engine_log.count("connected to snmpd at"), 2, engine_log)
        self.assertIn("lost snmpd", engine_log)

    def test_shipped_snmpd_configs_serve_the_mib(self):
        # configs/snmpd-v2c.conf and snmpd-v3.conf as README uses them (their port, socket and
        # sink moved to private ones): the documented credentials read the engine's counters,
        # v3 without privacy does not.
        pcap = os.path.join(self.tmp, "small.pcap")
        expect = os.path.join(self.tmp, "small.json")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "400", "--seed", "44",
                        "--expect", expect], check=True)
        with open(expect) as f:
            total = json.load(f)["total"]["packets"]
        configs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs")
        v3 = ["-v3", "-l", "authPriv", "-u", "nms", "-a", "SHA-256",
              "-A", "change-this-auth-passphrase", "-x", "AES", "-X", "change-this-priv-passphrase"]
        for name, security in (("snmpd-v2c.conf", ["-v2c", "-c", "change-this-community"]),
                               ("snmpd-v3.conf", v3)):
            with self.subTest(config=name):
                run_dir = os.path.join(self.tmp, name)
                os.makedirs(run_dir)
                self.snmpd = snmp.Snmpd(run_dir, shipped_conf=os.path.join(configs, name)).start()
                target = [f"udp:127.0.0.1:{self.snmpd.port}"]
                self.start_engine(f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
                                  f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n", "shipped")
                self.assertTrue(self.wait_for_counts(security + target, total),
                                self.snmpd.read_log())
                if name == "snmpd-v3.conf":
                    rc, out, err = snmp.get(v3[:2] + ["authNoPriv"] + v3[3:9] + target, MIB_DIRS,
                                            ["PORTS-ENGINE-MIB::portsEngineTotalPackets.0"])
                    self.assertNotIn(f"= {total}", out)
                    self.assertIn("authorizationError", err)
                doc, _ = self.stop_engine()
                self.assertEqual(doc["total"]["packets"], total)
                self.snmpd.stop()

    def test_a_walk_is_one_snapshot_while_counters_move(self):
        # infinite_rx: the counters move all the time. Within one walk the total (read first)
        # still equals the sum of the class rows (read later), and each class's packets the
        # sum of its detail rows that partition it (NTP modes): one snapshot per walk, and one
        # coherent copy of each lcore's counters in it.
        pcap = os.path.join(self.tmp, "loop.pcap")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "2000", "--seed", "46"], check=True)
        self.snmpd = snmp.Snmpd(self.tmp).start()
        self.start_engine(f"ports:\n  - name: loop\n    device: \"net_pcap0,rx_pcap={pcap},infinite_rx=1\"\n"
                          f"mbufs: 8192\nsnmp:\n  agentx_socket: {self.snmpd.agentx}\n", "coherent")
        self.assertTrue(snmp.wait_for(lambda: snmp.get(self.snmpd.v2c(), MIB_DIRS, [
            "PORTS-ENGINE-MIB::portsEngineVersion.0"])[1].strip().endswith("0.1.0"), 15))
        totals = []
        for _ in range(3):
            rc, v, _, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS)
            self.assertEqual(rc, 0, err)
            total = int(v["portsEngineTotalPackets.0"])
            self.assertEqual(total, sum(int(v[f"portsEngineClassPackets.{i}"]) for i in range(1, 8)))
            self.assertEqual(int(v["portsEngineTotalOctets.0"]),
                             sum(int(v[f"portsEngineClassOctets.{i}"]) for i in range(1, 8)))
            # NTP's eight mode counters (details 1-8) count its parsed packets: all but the
            # malformed ones and first fragments.
            ntp_valid = (int(v["portsEngineClassPackets.1"]) - int(v["portsEngineClassMalformed.1"]) -
                         int(v["portsEngineClassFragments.1"]))
            self.assertEqual(ntp_valid, sum(int(v[f"portsEngineClassDetailValue.1.{d}"])
                                            for d in range(1, 9)))
            # Each lcore's fates partition what it received (one copy per lcore, taken by the
            # worker between two loop iterations).
            rx = int(v["portsEngineLcoreRxPackets.1"])
            self.assertEqual(rx, sum(int(v[f"portsEngineLcore{f}.1"]) for f in (
                "Forwarded", "Replied", "ToKernel", "Released", "Dropped")))
            self.assertEqual(rx, total)  # one lcore: every frame it counted, it received
            totals.append(total)
            # Not a wait for something: the flood runs on between two walks, and the next
            # walk must show more (the behaviour under test).
            time.sleep(0.3)
        self.assertLess(totals[0], totals[1])
        self.assertLess(totals[1], totals[2])
        self.stop_engine()

    def test_engine_runs_on_without_snmpd(self):
        pcap = os.path.join(self.tmp, "small.pcap")
        expect = os.path.join(self.tmp, "small.json")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "500", "--seed", "42",
                        "--expect", expect], check=True)
        with open(expect) as f:
            tally = json.load(f)
        sock = os.path.join(self.tmp, "nobody-listens.sock")
        self.start_engine(f"ports:\n  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
                          f"snmp:\n  agentx_socket: {sock}\n", "nosnmpd")
        # The engine counts the whole capture and the subagent has looked for snmpd.
        self.assertTrue(wait_counted(self.prefix, self.engine, tally["total"]["packets"]),
                        self.engine_log())
        self.assertTrue(snmp.wait_for(lambda: f"no snmpd at {sock} yet" in self.engine_log(), 15,
                                      proc=self.engine), self.engine_log())
        doc, err = self.stop_engine()
        self.assertEqual(doc["total"], tally["total"])
        self.assertIn(f"no snmpd at {sock} yet", err)

    def test_if_mib_rows_beside_snmpds_own(self):
        # A capture read once (the counts stand still once read) with broadcast and multicast
        # frames added, and an idle ring: their IF-MIB rows at if_index_base 4200 + port id.
        pcap = os.path.join(self.tmp, "mix.pcap")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "1500", "--seed", "47"], check=True)
        frames = [f for _, _, f in read_pcap(pcap)]
        frames += [b"\xff" * 6 + frames[i][6:] for i in range(7)]
        frames += [b"\x01\x00\x5e\x00\x00\x09" + frames[i][6:] for i in range(5)]
        frames += [b"\x33\x33\x00\x00\x00\x01" + frames[i][6:] for i in range(4)]
        with open(pcap, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for i, frame in enumerate(frames):
                f.write(struct.pack("<IIII", 1700000000, i, len(frame), len(frame)) + frame)
        casts = {"unicast": 0, "multicast": 0, "broadcast": 0}
        for frame in frames:
            if len(frame) >= 6 and frame[:6] == b"\xff" * 6:
                casts["broadcast"] += 1
            elif len(frame) >= 6 and frame[0] & 1:
                casts["multicast"] += 1
            else:
                casts["unicast"] += 1
        # The mix has its own (ARP, ...) besides those added.
        self.assertTrue(casts["broadcast"] >= 7 and casts["multicast"] >= 9, casts)

        self.snmpd = snmp.Snmpd(self.tmp).start()
        base = 4200
        self.start_engine(
            "ports:\n"
            f"  - name: capture\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
            "    alias: replayed capture\n"
            "  - name: idle\n    device: net_ring0\n"
            f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n  if_index_base: {base}\n", "ifmib")
        self.assertTrue(self.wait_for_counts(self.snmpd.v2c(), len(frames)),
                        "the subagent never served the capture's count; snmpd log:\n" +
                        self.snmpd.read_log())
        kernel_before = kernel_interfaces()
        walks = {}
        for name in ("ifTable", "ifXTable"):
            rc, values, raw, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS, root="IF-MIB::" + name)
            # snmpwalk fails on an OID that does not increase: the walk went through snmpd's
            # rows and ours in order.
            self.assertEqual(rc, 0, err)
            self.assertNotIn("No Such", raw)
            walks[name] = values
            rc, bulk, _, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS, root="IF-MIB::" + name,
                                         bulk=True)
            self.assertEqual(rc, 0, err)
            self.assertEqual(bulk, values)
        rc, if_table, raw_table, err = snmp.table(self.snmpd.v2c(), MIB_DIRS, "IF-MIB::ifTable")
        self.assertEqual(rc, 0, err)
        rc, if_x_table, _, err = snmp.table(self.snmpd.v2c(), MIB_DIRS, "IF-MIB::ifXTable")
        self.assertEqual(rc, 0, err)
        rc, uptime, err = snmp.get(self.snmpd.v2c(), MIB_DIRS, ["SNMPv2-MIB::sysUpTime.0"])
        self.assertEqual(rc, 0, err)
        doc, _ = self.stop_engine()
        walk = {**walks["ifTable"], **walks["ifXTable"]}

        # snmpd's own rows: every kernel interface of this namespace, lo's among them. One
        # that another process added or removed while the walks ran may or may not be there.
        after = kernel_interfaces()
        kernel = {i: d for i, d in after.items() if kernel_before.get(i) == d}
        transient = (set(after) | set(kernel_before)) - set(kernel)
        self.assertIn("lo", kernel.values())
        ours = {base + p["port_id"]: p for p in doc["ports"]}
        self.assertEqual(set(ours), {base, base + 1})
        self.assertFalse(set(kernel) & set(ours), "an engine ifIndex is a kernel one")
        for index, dev in kernel.items():
            self.assertEqual(walk.get(f"ifDescr.{index}"), dev, index)
            self.assertEqual(walk.get(f"ifName.{index}"), dev, index)
        indexes = {int(k.split(".")[1]) for k in walk if k.startswith("ifIndex.")}
        self.assertEqual(indexes - transient, set(kernel) | set(ours))
        self.assertEqual({int(i) for i in if_table} - transient, indexes - transient, raw_table)
        self.assertEqual({int(i) for i in if_x_table} - transient, indexes - transient)

        # The engine's rows equal --stats-json's ports (the engine stood still since the walk).
        for index, p in ours.items():
            ring = p["driver"] == "net_ring"
            expect = {
                "ifIndex": str(index), "ifDescr": p["name"], "ifType": "1",  # other(1)
                "ifMtu": str(p["mtu"]),
                "ifSpeed": str(min(p["speed_mbps"] * 1000000, 2**32 - 1)),
                "ifAdminStatus": "1", "ifOperStatus": "1" if p["link_up"] else "2",
                "ifInOctets": str(p["rx_bytes"] % 2**32),
                "ifInUcastPkts": str(p["rx_unicast"]),
                "ifInDiscards": str(p["rx_missed"] + p["rx_nombuf"]),
                "ifInErrors": str(p["rx_errors"]), "ifOutOctets": str(p["tx_bytes"] % 2**32),
                "ifOutErrors": str(p["tx_errors"]),
                "ifName": p["name"], "ifInMulticastPkts": str(p["rx_multicast"]),
                "ifInBroadcastPkts": str(p["rx_broadcast"]),
                "ifHCInOctets": str(p["rx_bytes"]), "ifHCInUcastPkts": str(p["rx_unicast"]),
                "ifHCInMulticastPkts": str(p["rx_multicast"]),
                "ifHCInBroadcastPkts": str(p["rx_broadcast"]),
                "ifHCOutOctets": str(p["tx_bytes"]), "ifLinkUpDownTrapEnable": "1",
                "ifHighSpeed": str(p["speed_mbps"]), "ifConnectorPresent": "2",  # vdevs
                "ifAlias": "" if ring else "replayed capture",
            }
            for column, value in expect.items():
                self.assertEqual(walk.get(f"{column}.{index}"), value, f"{column}.{index}")
                table = if_table if f"{column}.{index}" in walks["ifTable"] else if_x_table
                self.assertEqual(table[str(index)].get(column), value, f"snmptable {column}")
            self.assertEqual([int(x, 16) for x in walk[f"ifPhysAddress.{index}"].split(":")],
                             [int(x, 16) for x in p["mac"].split(":")])
            self.assertIn(walk[f"ifPromiscuousMode.{index}"], ("1", "2"))
            # The counters started with the engine, after snmpd: at a sysUpTime above 0 and
            # not after now; the link has not changed since (ifLastChange the same time).
            started = int(walk[f"ifCounterDiscontinuityTime.{index}"])
            self.assertGreater(started, 0)
            self.assertLessEqual(started, int(uptime.split("=")[1].strip()))
            self.assertEqual(walk[f"ifLastChange.{index}"], str(started))
            # Not instantiated: what neither the engine nor these PMDs can say (no
            # tx_*cast_packets xstats), and the deprecated columns.
            for column in ("ifInNUcastPkts", "ifInUnknownProtos", "ifOutUcastPkts",
                           "ifOutNUcastPkts", "ifOutDiscards", "ifOutQLen", "ifSpecific",
                           "ifOutMulticastPkts", "ifOutBroadcastPkts", "ifHCOutUcastPkts",
                           "ifHCOutMulticastPkts", "ifHCOutBroadcastPkts"):
                self.assertNotIn(f"{column}.{index}", walk)
        # The In casts are the capture's destination MACs, frame by frame.
        capture = ours[base]
        self.assertEqual({k: capture["rx_" + k] for k in casts}, casts)
        self.assertEqual(sum(casts.values()), capture["rx_packets"])
        self.assertEqual(ours[base + 1]["rx_packets"], 0)


if __name__ == "__main__":
    ENGINE, PORTS_GEN, MIB_DIRS = snmp.arguments()
    run_tests()
