"""dpdk-dumpcap against a running engine (rte_pdump): the engine runs on hugepages with its shared
config (no --no-huge, no --no-shconf) and a unique --file-prefix, on two net_pcap ports replaying
generated captures forever (port a: two RX queues, one capture each; port b: one); dpdk-dumpcap
attaches as a secondary process and writes pcapng files, which are read back here (stdlib
reader; tshark counts them too where installed):

- `-D` lists both ports;
- `-i 1` (by index) captures port b's frames only, every one a frame of b's capture, unchanged;
- `-i net_pcap0` (by name) captures port a on every queue: frames of both queues' captures, each
  recorded with the queue it came in on (pcapng epb_queue);
- (a figure, no assertion) lcore 0's receive rate with nobody capturing next to the rate while a
  dumpcap runs a filter that matches nothing (the hooks and the BPF program, no copy);
- `-f 'udp port 123'` captures only frames that filter matches (compiled by dumpcap, run by the
  engine's rte_pdump/librte_bpf), while the port carries others too.

dpdk-dumpcap 22.11 has no queue option: it captures every queue of a port (RX and TX).

Root only: 64 2 MiB hugepages are reserved for the run on a hugetlbfs mounted here, and given
back (nr_hugepages restored, unmounted) however the test ends. Cost: ~15 s.

usage: test_dumpcap.py ENGINE PORTS_GEN"""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (connect_telemetry, read_pcap, read_text, run_tests, skip,  # noqa: E402
                    wait_for)

ENGINE = PORTS_GEN = None
PAGES = 64  # 128 MiB: the engine's pool (a few thousand mbufs) and dumpcap's (4096 mbufs)
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"
CAPTURED = 200  # frames per dumpcap run (-c)


def meminfo(key):
    for line in read_text("/proc/meminfo").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Hugepages:
    """Reserves PAGES 2 MiB pages and mounts a hugetlbfs of our own (so every file the EAL
    leaves there goes with the unmount); release() gives everything back."""

    def __init__(self, tmp):
        self.before = None
        self.mount = None
        if meminfo("Hugepagesize") != 2048:
            raise RuntimeError(f"the default hugepage size is {meminfo('Hugepagesize')} kB, not "
                               "2048")
        self.before = int(read_text(NR_HUGEPAGES))
        if meminfo("HugePages_Free") < PAGES:
            try:
                with open(NR_HUGEPAGES, "w") as f:
                    f.write(str(self.before + PAGES))
            except OSError as e:  # a container's read-only /proc/sys
                self.before = None
                raise RuntimeError(f"cannot write {NR_HUGEPAGES}: {e.strerror}")
        if meminfo("HugePages_Free") < PAGES:
            free = meminfo("HugePages_Free")
            self.release()
            raise RuntimeError(f"only {free} free 2 MiB hugepages after asking the kernel for "
                               f"{PAGES} more (memory too fragmented or too little)")
        mount = os.path.join(tmp, "huge")
        os.mkdir(mount)
        p = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", mount],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.release()
            raise RuntimeError(f"cannot mount hugetlbfs: {p.stderr.strip()}")
        self.mount = mount

    def release(self):
        if self.mount is not None:
            subprocess.run(["umount", self.mount], capture_output=True)
            os.rmdir(self.mount)
            self.mount = None
        if self.before is not None:
            with open(NR_HUGEPAGES, "w") as f:
                f.write(str(self.before))
            self.before = None


def read_pcapng(path):
    """[(interface_id, queue or None, bytes)] of every enhanced packet block of a pcapng file
    (one section, little- or big-endian)."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    off = 0
    endian = "<"
    while off + 12 <= len(data):
        btype = struct.unpack(endian + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:  # section header: the byte-order magic says the endianness
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack(endian + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            raise ValueError(f"{path}: block at {off} runs past the file")
        if btype == 6:
            iface, _, _, caplen, _ = struct.unpack(endian + "IIIII", data[off + 8:off + 28])
            frame = data[off + 28:off + 28 + caplen]
            queue = None
            opt = off + 28 + (caplen + 3) // 4 * 4
            end = off + blen - 4
            while opt + 4 <= end:
                code, olen = struct.unpack(endian + "HH", data[opt:opt + 4])
                if code == 0:
                    break
                if code == 6 and olen == 4:  # epb_queue
                    queue = struct.unpack(endian + "I", data[opt + 4:opt + 8])[0]
                opt += 4 + (olen + 3) // 4 * 4
            out.append((iface, queue, frame))
        off += blen
    return out


def udp_port(frame, port):
    """What libpcap's `udp port PORT` matches: untagged Ethernet, IPv4 (first fragment) or IPv6
    with UDP right after the fixed header, either port 123."""
    if len(frame) < 14:
        return False
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x0800 and len(frame) >= 34:
        ihl = (frame[14] & 0x0F) * 4
        if frame[23] != 17 or struct.unpack("!H", frame[20:22])[0] & 0x1FFF:
            return False
        l4 = 14 + ihl
    elif ethertype == 0x86DD and len(frame) >= 54:
        if frame[20] != 17:
            return False
        l4 = 54
    else:
        return False
    if len(frame) < l4 + 4:
        return False
    sport, dport = struct.unpack("!HH", frame[l4:l4 + 4])
    return port in (sport, dport)


class Dumpcap(unittest.TestCase):
    # The directory and the hugepages: set by __main__ before the cases run.
    tmp = None
    huge = None

    @classmethod
    def setUpClass(cls):
        cls.engine = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        cls.frames = {}
        for name, seed in (("a0", 11), ("a1", 12), ("b", 13)):
            path = os.path.join(cls.tmp, f"{name}.pcap")
            subprocess.run([PORTS_GEN, "--out", path, "--count", "400", "--seed", str(seed),
                            "--ntp-clients", "40"], check=True, capture_output=True)
            cls.frames[name] = {f for _, _, f in read_pcap(path)}
        # Relative capture paths (the engine and dumpcap run in the test's directory): a
        # secondary of DPDK 22.11 gets a vdev's arguments cut to 63 characters, and net_pcap
        # there opens the files they name (the engine warns of longer ones).
        config = os.path.join(cls.tmp, "engine.yaml")
        with open(config, "w") as f:
            f.write("capture: true\n"
                    "ports:\n"
                    "  - {name: a, device: 'net_pcap0,rx_pcap=a0.pcap,rx_pcap=a1.pcap,"
                    "infinite_rx=1', queues: 2}\n"
                    "  - {name: b, device: 'net_pcap1,rx_pcap=b.pcap,infinite_rx=1'}\n")
        cls.prefix = f"ports-test-dumpcap-{os.getpid()}"
        cls.log = os.path.join(cls.tmp, "engine.log")
        with open(cls.log, "w") as log:
            cls.engine = subprocess.Popen(
                [ENGINE, "--no-pci", "--huge-dir", cls.huge.mount, "--file-prefix", cls.prefix,
                 "--log-level=warning", "-l", "0", "--", "--config", config, "--duration", "60"],
                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=cls.tmp)
        if not wait_for(lambda: "lcore 0:" in read_text(cls.log), 20, proc=cls.engine):
            raise RuntimeError(f"the engine did not start: {read_text(cls.log)}")

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.engine is not None and cls.engine.poll() is None:
                cls.engine.send_signal(signal.SIGINT)
                try:
                    cls.engine.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    cls.engine.kill()
                    cls.engine.wait()
        finally:
            if getattr(cls, "prefix", None):
                shutil.rmtree(os.path.join("/var/run/dpdk", cls.prefix), ignore_errors=True)

    def dumpcap(self, *args, timeout=30):
        # dumpcap's EAL main thread on a CPU other than the engine's worker (lcore 0) where
        # there is one: on the same CPU both would share it with a busy-polling loop.
        cpus = sorted(os.sched_getaffinity(0) - {0}) or [0]
        cmd = ["taskset", "-c", str(cpus[0]), "dpdk-dumpcap", f"--file-prefix={self.prefix}",
               "-q"] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.tmp)

    def capture(self, name, *args):
        out = os.path.join(self.tmp, name + ".pcapng")
        p = self.dumpcap(*args, "-c", str(CAPTURED), "-w", out)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        frames = read_pcapng(out)
        tshark = shutil.which("tshark")
        if tshark is not None:
            t = subprocess.run([tshark, "-r", out, "-T", "fields", "-e", "frame.number"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(t.returncode, 0, t.stderr)
            self.assertEqual(len(t.stdout.split()), len(frames), "tshark reads another count")
        return frames

    def test_engine_says_how_to_capture(self):
        self.assertIn(f"capture: dpdk-dumpcap --file-prefix {self.prefix} -i PORT",
                      read_text(self.log))

    def test_lists_the_ports(self):
        p = self.dumpcap("-D")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("0. net_pcap0", p.stdout)
        self.assertIn("1. net_pcap1", p.stdout)

    def test_port_by_index_captures_that_port_only(self):
        frames = self.capture("b", "-i", "1")
        self.assertGreaterEqual(len(frames), CAPTURED)
        other = self.frames["a0"] | self.frames["a1"]
        for _, _, f in frames:
            self.assertIn(f, self.frames["b"], "a frame port b never received")
            self.assertNotIn(f, other - self.frames["b"], "a frame of port a")

    def test_port_by_name_captures_every_queue(self):
        frames = self.capture("a", "-i", "net_pcap0")
        self.assertGreaterEqual(len(frames), CAPTURED)
        seen = {0: 0, 1: 0}
        for _, q, f in frames:
            source = [n for n in ("a0", "a1") if f in self.frames[n]]
            self.assertTrue(source, "a frame port a never received")
            # Queue q of port a replays capture aq (net_pcap: one rx_pcap per queue).
            self.assertIn(f"a{q}", source, f"frame recorded on queue {q}, not its capture's")
            seen[q] += 1
        self.assertTrue(seen[0] and seen[1], f"frames of both queues: {seen}")

    def test_rate_figure(self):
        tel = connect_telemetry(self.prefix, self.engine)
        try:
            def rx():
                lcores = tel.ask_or_none("/ports_engine/lcores")
                return lcores["0"]["rx_packets"] if lcores and "0" in lcores else 0

            def rate(seconds):
                n0, t0 = rx(), time.monotonic()
                time.sleep(seconds)
                return (rx() - n0) / (time.monotonic() - t0) / 1e6
            idle = rate(1.0)
            # Filter 'udp port 9' (discard): nothing of the mix matches, so nothing is copied.
            self.assertFalse(any(udp_port(f, 9) for f in self.frames["b"]))
            out = os.path.join(self.tmp, "none.pcapng")
            cpus = sorted(os.sched_getaffinity(0) - {0}) or [0]
            p = subprocess.Popen(["taskset", "-c", str(cpus[0]), "dpdk-dumpcap",
                                  f"--file-prefix={self.prefix}", "-q", "-i", "1", "-f",
                                  "udp port 9", "-a", "duration:3", "-w", out],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 cwd=self.tmp)
            # Measured once the hooks are on (dumpcap says 'Capturing on' after the enable).
            self.assertTrue(wait_for(lambda: os.path.exists(out), 10, proc=p), p.poll())
            time.sleep(0.5)
            hooked = rate(1.0)
            output = p.communicate(timeout=30)[0]
            self.assertEqual(p.returncode, 0, output)
            after = rate(1.0)
        finally:
            tel.close()
        print(f"\nfigure: lcore 0 receives {idle:.2f} Mpps with nobody capturing, {hooked:.2f} "
              f"Mpps while a dumpcap filters port b (matching nothing), {after:.2f} Mpps after it "
              "stopped (2 ports, 3 net_pcap queues, one lcore; shared CPUs: a figure, not a "
              "bound)", flush=True)
        self.assertEqual(read_pcapng(out), [])

    def test_bpf_filter_keeps_only_matching_frames(self):
        matching = {f for f in self.frames["b"] if udp_port(f, 123)}
        self.assertTrue(matching and matching != self.frames["b"],
                        "port b's capture must carry NTP and other frames")
        frames = self.capture("ntp", "-i", "1", "-f", "udp port 123")
        self.assertGreaterEqual(len(frames), CAPTURED)
        for _, _, f in frames:
            self.assertIn(f, matching, "a frame 'udp port 123' does not match")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    ENGINE, PORTS_GEN = (os.path.abspath(a) for a in sys.argv[1:3])  # run in the test dir
    if os.geteuid() != 0:
        skip("needs root: reserves hugepages and mounts hugetlbfs for the engine")
    if shutil.which("dpdk-dumpcap") is None:
        skip("no dpdk-dumpcap (Debian package dpdk)")
    Dumpcap.tmp = tempfile.mkdtemp(prefix="ports-dumpcap-")
    try:
        # Here, not in setUpClass: a class that skips there counts as no case run.
        try:
            Dumpcap.huge = Hugepages(Dumpcap.tmp)
        except (RuntimeError, OSError) as e:
            skip(f"no hugepages: {e}")
        run_tests(sys.argv[3:])
    finally:  # also on sys.exit
        if Dumpcap.huge is not None:
            Dumpcap.huge.release()
        shutil.rmtree(Dumpcap.tmp, ignore_errors=True)
