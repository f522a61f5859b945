"""PORTS-ENGINE-MIB's tunnels through a real snmpd (private port, config and AgentX socket), and
the tunnel notifications through a real snmptrapd:

- the engine tracks tunnels (tunnels: with mib_rows 2) over the four shared captures with PPTP,
  GRE and L2TP of tunnels_expected.json; snmpwalk by name of portsEngineTunnels and of the PPTP
  call, L2TP tunnel, L2TP session and GRE tunnel tables equals --stats-json's "tunnels": the
  figures, and each kind's 2 largest objects by bytes, rank 1 the largest, every column;
- snmp.traps.tunnels on, tunnels.idle_timeout 1 s: ndpi/pptp.pcap (a call connected, then
  disconnected), tcpdump/pptp.pcap (a call connected) and the build's generated L2TPv2
  exchange (a tunnel established) give portsEngineTunnelUp for each, with its endpoints and
  IDs, then portsEngineTunnelDown: closed(1) for the first, expired(2) for the others once they
  age out; once each.

Usage: test_snmp_tunnels.py ENGINE SHARED_DIR GENERATED_DIR|- MIB_DIR..."""
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import eal_args, run_tests, skip  # noqa: E402
import snmp_support as snmp  # noqa: E402

ENGINE = SHARED = GENERATED = None
MIB_DIRS = []

TABLES = {"pptp-call": "PptpCall", "l2tp-tunnel": "L2tpTunnel", "l2tp-session": "L2tpSession",
          "gre-tunnel": "GreTunnel"}
STATES = ["none", "requested", "replied", "established", "stopping", "closed", "data"]
FIGURES = {"Capacity": "capacity", "Objects": "objects_total", "Frames": "frames",
           "TableFull": "table_full", "Expired": "expired", "Reused": "reused",
           "Unknown": "unknown"}


def address(value):
    """An InetAddress as snmpwalk prints it (hex octets, or the text of printable ones)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if re.fullmatch(r"([0-9A-Fa-f]{2} ?)+", text) and len(text.split()) in (4, 16):
        raw = bytes(int(b, 16) for b in text.split())
    else:
        raw = text.encode("latin-1")
    return str(ipaddress.ip_address(raw))


class SnmpTunnels(unittest.TestCase):
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

    def start_engine(self, tag, captures, extra):
        config = "ports:\n"
        for i, c in enumerate(captures):
            config += f'  - name: c{i}\n    device: "net_pcap_c{i},rx_pcap={c}"\n'
        config += f"snmp:\n  agentx_socket: {self.snmpd.agentx}\n" + extra
        path = os.path.join(self.tmp, f"{tag}.yaml")
        with open(path, "w") as f:
            f.write(config)
        self.stats = os.path.join(self.tmp, f"{tag}.json")
        self.engine = subprocess.Popen(
            [ENGINE] + eal_args(tag) + ["--", "--config", path, "--duration", "60",
                                        "--stats-json", self.stats],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop_engine(self):
        self.engine.send_signal(signal.SIGTERM)
        _, err = self.engine.communicate(timeout=30)
        self.assertEqual(self.engine.returncode, 0, err)
        with open(self.stats) as f:
            return json.load(f)

    def test_tunnel_tables_walked_by_name_equal_stats_json(self):
        with open(os.path.join(HERE, "tunnels_expected.json")) as f:
            captures = [os.path.join(SHARED, "pcaps", n) for n in sorted(json.load(f))]
        self.snmpd = snmp.Snmpd(self.tmp).start()
        self.start_engine("snmptun", captures, "tunnels:\n  entries: 1024\n  mib_rows: 2\n")

        def settled():
            # The tables stop moving once every capture is read: two walks agree.
            rc, first, _, _ = snmp.walk(self.snmpd.v2c(), MIB_DIRS,
                                        root="PORTS-ENGINE-MIB::portsEngineTunnels")
            rc2, second, _, _ = snmp.walk(self.snmpd.v2c(), MIB_DIRS,
                                          root="PORTS-ENGINE-MIB::portsEngineTunnels")
            ok = rc == 0 and rc2 == 0 and first == second and \
                int(first.get("portsEngineTunnelFrames.0", "0")) > 0
            return first if ok else None
        self.assertTrue(snmp.wait_for(settled, 20, step=0.3), "the tunnel figures never settled")
        walks = {}
        for name in (["portsEngineTunnels", "portsEngineClassDetailTable"] +
                     [f"portsEngine{t}Table" for t in TABLES.values()]):
            rc, values, raw, err = snmp.walk(self.snmpd.v2c(), MIB_DIRS,
                                             root=f"PORTS-ENGINE-MIB::{name}")
            self.assertEqual(rc, 0, err)
            walks.update(values)
        doc = self.stop_engine()
        t = doc["tunnels"]
        self.assertEqual(walks["portsEngineTunnelsEnabled.0"], "1")
        self.assertEqual(walks["portsEngineTunnelRowLimit.0"], "2")
        self.assertEqual(walks["portsEngineTunnelNotificationsSuppressed.0"], "0")
        for obj, key in FIGURES.items():
            self.assertEqual(int(walks[f"portsEngineTunnel{obj}.0"]), t[key], obj)
        rows_seen = 0
        for kind, table in TABLES.items():
            objects = [o for o in t["objects"] if o["kind"] == kind][:2]
            prefix = f"portsEngine{table}"
            for rank, o in enumerate(objects, start=1):
                with self.subTest(kind=kind, rank=rank):
                    col = lambda c: walks.get(f"{prefix}{c}.{rank}")  # noqa: E731
                    self.assertEqual(address(col("ClientAddress")), o["client"])
                    self.assertEqual(address(col("ServerAddress")), o["server"])
                    self.assertEqual(col("ClientAddressType"),
                                     "2" if ":" in o["client"] else "1")
                    self.assertEqual(col("ClientId"), str(o["client_id"]) if "client_id" in o
                                     else None)
                    self.assertEqual(col("ServerId"), str(o["server_id"]) if "server_id" in o
                                     else None)
                    self.assertEqual(col("State"), str(STATES.index(o["state"])))
                    self.assertEqual(col("PacketsFromClient"), str(o["packets"][0]))
                    self.assertEqual(col("PacketsFromServer"), str(o["packets"][1]))
                    self.assertEqual(col("OctetsFromClient"), str(o["bytes"][0]))
                    self.assertEqual(col("OctetsFromServer"), str(o["bytes"][1]))
                    rows_seen += 1
            # Bounded: no third row, though GRE has more tunnels than two.
            self.assertIsNone(walks.get(f"{prefix}ClientAddress.{len(objects) + 1}"))
            if kind == "gre-tunnel":
                self.assertGreater(len([o for o in t["objects"] if o["kind"] == kind]), 2)
                for rank, o in enumerate(objects, start=1):
                    self.assertEqual(walks[f"{prefix}KeyPresent.{rank}"],
                                     "1" if "client_id" in o else "2")
        self.assertGreaterEqual(rows_seen, 4)
        # What the tunnels carried, per class, in the class detail rows (named as in
        # --stats-json): other's inner_packets and inner_bytes (ICMP, RIP, DNS... in GRE).
        classes = ["ntp", "snmp", "snmp-trap", "l2tp", "pptp", "gre", "other"]
        seen = {}
        for key, value in walks.items():
            if key.startswith("portsEngineClassDetailName.") and \
                    value in ("inner_packets", "inner_bytes"):
                c, d = key.split(".")[1:3]
                seen[(classes[int(c) - 1], value)] = walks[f"portsEngineClassDetailValue.{c}.{d}"]
        self.assertEqual(len(seen), 2 * len(classes))
        for (cls, key), value in seen.items():
            self.assertEqual(int(value), doc["classes"][cls][key], (cls, key))
        self.assertGreater(doc["classes"]["other"]["inner_packets"], 0)
        # Largest first.
        gre = [o for o in t["objects"] if o["kind"] == "gre-tunnel"]
        self.assertEqual(int(walks["portsEngineGreTunnelOctetsFromClient.1"]) +
                         int(walks["portsEngineGreTunnelOctetsFromServer.1"]),
                         max(sum(o["bytes"]) for o in gre))

    def test_tunnel_up_and_down_notifications(self):
        if GENERATED == "-":
            self.skipTest("no generated L2TP capture (needs Debian's python3-scapy)")
        captures = [os.path.join(SHARED, "pcaps", "ndpi", "pptp.pcap"),
                    os.path.join(SHARED, "pcaps", "tcpdump", "pptp.pcap"),
                    os.path.join(GENERATED, "l2tp-control.pcap")]
        self.trapd = snmp.Snmptrapd(self.tmp, MIB_DIRS).start()
        self.snmpd = snmp.Snmpd(self.tmp, trap_port=self.trapd.port).start()
        self.start_engine("tuntraps", captures,
                          "  traps:\n    tunnels: true\n    tunnel_rate: 10\n"
                          "tunnels:\n  entries: 1024\n  idle_timeout: 1\n")
        up, down = "snmpTrapOID.0 = portsEngineTunnelUp", "snmpTrapOID.0 = portsEngineTunnelDown"
        # Three ups, three downs (the last two when the tables age them out).
        self.assertTrue(snmp.wait_for(lambda: self.trapd.read().count(down) >= 3, 30),
                        "not every notification came:\n" + self.trapd.read())
        doc = self.stop_engine()
        log = self.trapd.read()
        self.assertEqual(log.count(up), 3, log)
        self.assertEqual(log.count(down), 3, log)
        # One notification per line (snmptrapd -Lf): its varbinds, by name.
        notes = [l for l in log.splitlines() if "portsEngineTunnel" in l]

        def find(kind, client, server, client_id, server_id, up):
            what = "= portsEngineTunnelUp\t" if up else "= portsEngineTunnelDown\t"
            for line in notes:
                vb = dict(re.findall(r"(portsEngineTunnel\w+)\.0 = ([^\t]*?)(?=\t|$)", line))
                if what in line and vb.get("portsEngineTunnelKind") == kind and \
                        address(vb["portsEngineTunnelClientAddress"]) == client and \
                        address(vb["portsEngineTunnelServerAddress"]) == server and \
                        vb["portsEngineTunnelClientId"] == str(client_id) and \
                        vb["portsEngineTunnelServerId"] == str(server_id):
                    return vb
            self.fail(f"no {what} for {kind} {client} -> {server}:\n{log}")

        find("pptpCall", "192.168.43.22", "191.101.61.1", 0, 11755, True)
        self.assertEqual(find("pptpCall", "192.168.43.22", "191.101.61.1", 0, 11755,
                              False)["portsEngineTunnelDownReason"], "closed")
        find("pptpCall", "10.1.1.11", "10.1.1.10", 0, 0, True)
        self.assertEqual(find("pptpCall", "10.1.1.11", "10.1.1.10", 0, 0,
                              False)["portsEngineTunnelDownReason"], "expired")
        find("l2tpTunnel", "192.0.2.10", "198.51.100.20", 17, 29, True)
        self.assertEqual(find("l2tpTunnel", "192.0.2.10", "198.51.100.20", 17, 29,
                              False)["portsEngineTunnelDownReason"], "expired")
        # Aged out of the tables: the calls and the tunnel are gone at exit.
        self.assertGreaterEqual(doc["tunnels"]["expired"], 3)


if __name__ == "__main__":
    missing = snmp.missing_tools()
    if missing:
        skip("missing " + ", ".join(missing) + " (packages snmpd, snmp, snmptrapd)")
    ENGINE, SHARED, GENERATED = sys.argv[1:4]
    MIB_DIRS = sys.argv[4:]
    if not os.path.isdir(os.path.join(SHARED, "pcaps")):
        skip(f"{SHARED}/pcaps is absent (the shared captures sit beside the clone in CI)")
    run_tests()
