"""The engine's tunnel tables (a tunnels: section) against ports-analyze's, over the shared
captures with PPTP, GRE and L2TP whose tables tunnels_expected.json holds (derived with TShark,
checked against ports-analyze by the 'tunnels' test):

- one lcore, the four captures on four net_pcap ports: --stats-json's "tunnels" has the objects
  of ports-analyze --json over the same captures (kind, endpoints, IDs, state, packets and bytes
  each way, what they carried), the same table figures and the same classes (the inner_*
  counters included); /ports_engine/tunnels (DPDK telemetry) says what --stats-json says;
- two lcores, each capture split in two by protocol (GRE on one lcore, the rest - PPTP's TCP
  control connection, L2TP - on the other, as RSS may split them): the merged table is still
  ports-analyze's, each call whole.

Usage: test_tunnels_engine.py ENGINE ANALYZE SHARED_DIR
"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import (connect_telemetry, eal_args, file_prefix, read_pcap, run_tests,  # noqa: E402
                    skip, wait_for)

ENGINE = ANALYZE = SHARED = None
CAPTURES = []  # the shared captures of tunnels_expected.json
FIGURES = ("capacity", "frames", "created", "table_full", "expired", "reused", "unknown",
           "objects_total")


def object_key(o):
    return (o["kind"], o["client"], o["server"], o.get("client_id", -1), o.get("server_id", -1))


def comparable(objects):
    """Objects in one order (merge orders by kind, then bytes: ties may fall either way)."""
    return sorted(objects, key=lambda o: (object_key(o), json.dumps(o, sort_keys=True)))


def telemetry_line(o):
    """An object as /ports_engine/tunnels prints it (engine/commands.cpp)."""
    ids = [str(o[k]) if k in o else "-" for k in ("client_id", "server_id")]
    return " ".join([o["kind"], o["client"], o["server"]] + ids +
                    [str(sum(o["packets"])), str(sum(o["bytes"])), o["state"]])


def write_pcap(path, records):
    """A classic little-endian microsecond pcap of Ethernet records [(sec, nsec, bytes)]."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for sec, nsec, data in records:
            f.write(struct.pack("<IIII", sec, nsec // 1000, len(data), len(data)))
            f.write(data)


def read_capture(path):
    """[(sec, nsec, bytes)] of a classic pcap or a pcapng file (its enhanced and simple packet
    blocks, in file order; pcapng timestamps are not needed here and read as 0)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x0a\x0d\x0d\x0a":
        return read_pcap(path)
    out, off, endian = [], 0, "<"
    while off + 12 <= len(data):
        block_type = struct.unpack_from(endian + "I", data, off)[0]
        if block_type == 0x0A0D0D0A:  # section header: its byte-order magic
            endian = "<" if struct.unpack_from("<I", data, off + 8)[0] == 0x1A2B3C4D else ">"
        length = struct.unpack_from(endian + "I", data, off + 4)[0]
        if block_type == 6:  # enhanced packet block
            caplen = struct.unpack_from(endian + "I", data, off + 20)[0]
            out.append((0, 0, data[off + 28:off + 28 + caplen]))
        elif block_type == 3:  # simple packet block
            origlen = struct.unpack_from(endian + "I", data, off + 8)[0]
            out.append((0, 0, data[off + 12:off + 12 + min(origlen, length - 16)]))
        off += length
    return out


def is_gre(frame):
    """IPv4 or IPv6 protocol 47 right after an untagged or 802.1Q Ethernet header."""
    off = 12
    ethertype = struct.unpack_from("!H", frame, off)[0]
    while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        ethertype = struct.unpack_from("!H", frame, off)[0]
    l3 = off + 2
    if ethertype == 0x0800 and len(frame) > l3 + 9:
        return frame[l3 + 9] == 47
    if ethertype == 0x86DD and len(frame) > l3 + 6:
        return frame[l3 + 6] == 47
    return False


class TunnelsEngine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ports-tunnels-")
        p = subprocess.run([ANALYZE, "--json"] + CAPTURES, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"ports-analyze: {p.stderr}")
        cls.offline = json.loads(p.stdout)
        cls.frames = cls.offline["input"]["frames"]

    def run_engine(self, tag, ports, lcores, extra=""):
        """The engine over net_pcap ports [(name, [capture...])], each capture a queue; waits until
        every frame is counted, asks /ports_engine/tunnels, stops it: (telemetry answer,
        --stats-json)."""
        config = "ports:\n"
        for name, files in ports:
            device = ",".join([f"net_pcap_{name}"] + [f"rx_pcap={f}" for f in files])
            config += f'  - name: {name}\n    device: "{device}"\n    queues: {len(files)}\n'
        config += extra + "tunnels:\n  entries: 1024\n"
        cfg = os.path.join(self.tmp, f"{tag}.yaml")
        with open(cfg, "w") as f:
            f.write(config)
        stats = os.path.join(self.tmp, f"{tag}.json")
        args = eal_args(f"tunnels-{tag}", lcores)
        engine = subprocess.Popen([ENGINE] + args + ["--", "--config", cfg, "--stats-json", stats,
                                                     "--duration", "60"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            tel = connect_telemetry(file_prefix(args), engine)
            try:
                counted = wait_for(lambda: tel.counted() >= self.frames, 20, proc=engine)
                self.assertTrue(counted, f"the engine counted {tel.counted()} of {self.frames}")
                answer = tel.ask("/ports_engine/tunnels")
            finally:
                tel.close()
            engine.send_signal(signal.SIGINT)
            _, err = engine.communicate(timeout=30)
        finally:
            if engine.poll() is None:
                engine.kill()
                engine.communicate()
        self.assertEqual(engine.returncode, 0, err)
        with open(stats) as f:
            return answer, json.load(f)

    def check_same_table(self, doc, figures=FIGURES[1:]):
        ours, theirs = doc["tunnels"], self.offline["tunnels"]
        for k in figures:
            self.assertEqual(ours[k], theirs[k], k)
        self.assertEqual(comparable(ours["objects"]), comparable(theirs["objects"]))
        # Every class, the inner_* counters included (what the tunnels carried).
        self.assertEqual(doc["classes"], self.offline["classes"])

    def replayable(self, capture):
        """The capture as net_pcap reads it whole: a pcapng file whose interfaces differ in
        snapshot length stops libpcap early (README, Offline), so it goes as classic pcap."""
        with open(capture, "rb") as f:
            if f.read(4) != b"\x0a\x0d\x0d\x0a":
                return capture
        path = os.path.join(self.tmp, os.path.basename(capture) + ".classic.pcap")
        write_pcap(path, read_capture(capture))
        return path

    def test_one_lcore_equals_ports_analyze_and_telemetry(self):
        ports = [(f"c{i}", [self.replayable(c)]) for i, c in enumerate(CAPTURES)]
        answer, doc = self.run_engine("one", ports, "0")
        self.check_same_table(doc)
        kinds = {o["kind"] for o in doc["tunnels"]["objects"]}
        self.assertTrue({"pptp-call", "gre-tunnel", "pptp-control"} <= kinds, kinds)
        self.assertTrue(any(o.get("inner") for o in doc["tunnels"]["objects"]),
                        "no object says what it carried")
        self.assertGreater(sum(v["inner_packets"] for v in doc["classes"].values()), 0)
        # DPDK telemetry: the same figures, the same objects (fewer than tunnels.top: all).
        self.assertEqual(answer["enabled"], 1)
        self.assertEqual(answer["lcores_missing"], 0)
        for k in FIGURES:
            self.assertEqual(answer[k], doc["tunnels"][k], k)
        lines = [answer[str(i)] for i in range(len(doc["tunnels"]["objects"]))]
        self.assertNotIn(str(len(lines)), answer)
        self.assertEqual(lines, [telemetry_line(o) for o in doc["tunnels"]["objects"]])

    def test_two_lcores_split_by_protocol_merge_to_the_same_table(self):
        # GRE on lcore 1, everything else on lcore 0: a PPTP call's control messages and its
        # GRE frames are counted by different lcores, as RSS sends them (TCP/1723 hashed on
        # ports, GRE on addresses); each capture's order kept within each part.
        control, gre = [], []
        for i, c in enumerate(CAPTURES):
            records = read_capture(c)
            parts = {"a": [r for r in records if not is_gre(r[2])],
                     "b": [r for r in records if is_gre(r[2])]}
            for part, rs in parts.items():
                if rs:
                    path = os.path.join(self.tmp, f"split{i}{part}.pcap")
                    write_pcap(path, rs)
                    (control if part == "a" else gre).append(path)
        self.assertTrue(control and gre)
        lcores = ("lcores:\n" + "".join(f"  - {{lcore: 0, port: a, queue: {q}}}\n"
                                        for q in range(len(control))) +
                  "".join(f"  - {{lcore: 1, port: b, queue: {q}}}\n" for q in range(len(gre))))
        _, doc = self.run_engine("two", [("a", control), ("b", gre)], "0-1", lcores)
        self.assertEqual(len(doc["lcores"]), 2)
        self.assertTrue(all(l["rx_packets"] > 0 for l in doc["lcores"]), doc["lcores"])
        # Not "created": GRE frames of a call counted on the lcore that has not seen its
        # control messages are an object there (pptp-data) until the merge folds it in.
        self.check_same_table(doc, [f for f in FIGURES[1:] if f != "created"])
        # ... and there were such objects: the calls' GRE frames were apart from their calls.
        self.assertGreater(doc["tunnels"]["created"], self.offline["tunnels"]["created"])


if __name__ == "__main__":
    ENGINE, ANALYZE, SHARED = sys.argv[1:4]
    with open(os.path.join(HERE, "tunnels_expected.json")) as f:
        names = sorted(json.load(f))
    CAPTURES = [os.path.join(SHARED, "pcaps", n) for n in names]
    absent = [c for c in CAPTURES if not os.path.exists(c)]
    if absent:
        skip(f"shared captures absent: {', '.join(absent)}")
    run_tests(sys.argv[4:])
