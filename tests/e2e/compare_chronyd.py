"""Benchmark (not run by CI): NTP requests answered per second, ports-engine on net_af_packet vs a
real chronyd, both over a veth pair from the same client namespace and the same client loop.

    client namespace pe-bcli-PID
      pe-bc<PID>  192.0.2.10/24   <==> pe-be<PID> (root ns)  ports-engine (af_packet), 192.0.2.1
      pe-bs<PID>  198.51.100.10/24 <==> pe-bd<PID> (ns pe-bsrv-PID) 198.51.100.1, chronyd

The server under test gets CPU 0 (the engine's lcore 0; chronyd pinned with taskset), the client
loop CPU 1. The client is one Python process with a window of requests in flight (non-blocking
UDP, connected socket); a closed loop (window 1) gives the round-trip time. On a small machine
the Python client, not the server, may be the limit: the figures say which side was busy.
Measured on the 2-core CI box while other builds ran (load 3.6): both servers 27-49k req/s,
engine / chronyd 0.6-1.0x, server CPU chronyd 31-37% vs the engine's busy poll 56-82% (it did
not get its core to itself): client-bound there. Closed-loop RTT p50: engine 8-68 us, chronyd
95-110 us. Run it on a quiet machine with more cores for server-bound figures.

Usage (root): python3 compare_chronyd.py ENGINE [--seconds 3] [--window 32]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

# The poll helper the python tests share (tests/integration/common.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from common import read_text, wait_for  # noqa: E402

import netns

PID = os.getpid()
CLI_NS, SRV_NS = f"pe-bcli-{PID}", f"pe-bsrv-{PID}"
E_ENG, E_CLI = f"pe-be{PID}", f"pe-bc{PID}"
S_SRV, S_CLI = f"pe-bd{PID}", f"pe-bs{PID}"

CLIENT = r'''
import os, select, socket, struct, sys, time
server, seconds, window = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.connect((server, 123))
s.setblocking(False)
req = bytearray(bytes([0x23, 0, 6, 0xEC]) + bytes(44))
# warm up: ARP, caches
s.setblocking(True); s.settimeout(2)
for _ in range(3):
    s.send(bytes(req)); s.recv(2048)
s.setblocking(False)
sent = answered = lost_windows = 0
rtts = []
outstanding = 0
end = time.perf_counter() + seconds
t0 = time.perf_counter()
while True:
    now = time.perf_counter()
    if now >= end:
        break
    while outstanding < window:
        struct.pack_into("!Q", req, 40, sent)
        s.send(req)
        if window == 1:
            t_send = time.perf_counter()
        sent += 1
        outstanding += 1
    r, _, _ = select.select([s], [], [], 0.2)
    if not r:
        lost_windows += 1
        outstanding = 0
        continue
    while True:
        try:
            s.recv(2048)
        except BlockingIOError:
            break
        answered += 1
        outstanding -= 1
        if window == 1:
            rtts.append(time.perf_counter() - t_send)
elapsed = time.perf_counter() - t0
rtts.sort()
print(sent, answered, elapsed, lost_windows,
      rtts[len(rtts) // 2] if rtts else 0, rtts[len(rtts) * 99 // 100] if rtts else 0)
'''


def sh(*cmd, check=True):
    return netns.sh(*cmd, check=check, timeout=None)  # the client runs as long as it is told


def setup():
    for ns in (CLI_NS, SRV_NS):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", E_ENG, "type", "veth", "peer", "name", E_CLI)
    sh("ip", "link", "set", E_CLI, "netns", CLI_NS)
    sh("sysctl", "-q", "-w", f"net.ipv6.conf.{E_ENG}.disable_ipv6=1")
    sh("ip", "link", "set", E_ENG, "up")
    sh("ip", "-n", CLI_NS, "addr", "add", "192.0.2.10/24", "dev", E_CLI)
    sh("ip", "-n", CLI_NS, "link", "set", E_CLI, "up")
    sh("ip", "link", "add", S_SRV, "type", "veth", "peer", "name", S_CLI)
    sh("ip", "link", "set", S_SRV, "netns", SRV_NS)
    sh("ip", "link", "set", S_CLI, "netns", CLI_NS)
    sh("ip", "-n", SRV_NS, "addr", "add", "198.51.100.1/24", "dev", S_SRV)
    sh("ip", "-n", SRV_NS, "link", "set", S_SRV, "up")
    sh("ip", "-n", CLI_NS, "addr", "add", "198.51.100.10/24", "dev", S_CLI)
    sh("ip", "-n", CLI_NS, "link", "set", S_CLI, "up")


def teardown():
    for ns in (CLI_NS, SRV_NS):
        sh("ip", "netns", "del", ns, check=False)
    sh("ip", "link", "del", E_ENG, check=False)


def client(server, seconds, window):
    p = sh("ip", "netns", "exec", CLI_NS, "taskset", "-c", "1", sys.executable, "-c", CLIENT,
           server, str(seconds), str(window))
    sent, answered, elapsed, lost, p50, p99 = p.stdout.split()
    return {"sent": int(sent), "answered": int(answered), "elapsed": float(elapsed),
            "lost_windows": int(lost), "rate": int(answered) / float(elapsed),
            "rtt_p50_us": float(p50) * 1e6, "rtt_p99_us": float(p99) * 1e6}


def answers(server):
    """One NTP request from the client namespace gets a reply (the server is up)."""
    code = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.3)\n"
            "s.sendto(bytes([0x23, 0, 6, 0xEC]) + bytes(44), (sys.argv[1], 123))\n"
            "s.recv(2048)\n")
    return sh("ip", "netns", "exec", CLI_NS, sys.executable, "-c", code, server,
              check=False).returncode == 0


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name, server, pid, seconds, window):
    lat = client(server, 1.0, 1)
    c0 = cpu_of(pid)
    thr = client(server, seconds, window)
    thr["server_cpu"] = (cpu_of(pid) - c0) / thr["elapsed"]
    print(f"{name:12s} {thr['rate']:10.0f} req/s answered (sent {thr['sent']}, answered "
          f"{thr['answered']}, stalled windows {thr['lost_windows']}, server CPU "
          f"{thr['server_cpu'] * 100:.0f}%); closed loop RTT p50 {lat['rtt_p50_us']:.0f} us, "
          f"p99 {lat['rtt_p99_us']:.0f} us ({lat['rate']:.0f} req/s)", flush=True)
    return thr, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--window", type=int, default=32)
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("chronyd"):
        print("SKIP: needs root and chronyd")
        return 77
    tmp = tempfile.mkdtemp(prefix="pe-bench-")
    engine = chrony = None

    def stop(p):
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        setup()
        cfg = os.path.join(tmp, "engine.yaml")
        with open(cfg, "w") as f:
            f.write("ntp:\n  addresses: [192.0.2.1]\n  assume_synchronized: true\n"
                    "  stratum: 1\n  refid: GPS\n"
                    f"ports:\n  - name: p0\n    device: \"net_af_packet0,iface={E_ENG}\"\n")
        log = open(os.path.join(tmp, "engine.log"), "w")
        stats = os.path.join(tmp, "stats.json")
        engine = subprocess.Popen(
            [a.engine, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--file-prefix",
             f"pe-bench-{PID}", "-l", "0", "--", "--config", cfg, "--stats-json", stats],
            stdout=log, stderr=subprocess.STDOUT)
        if not wait_for(lambda: "lcore 0:" in read_text(log.name), 20, proc=engine):
            raise RuntimeError(read_text(log.name))
        eng = measure("ports-engine", "192.0.2.1", engine.pid, a.seconds, a.window)
        stop(engine)
        with open(stats) as f:
            doc = json.load(f)
            s = doc["ntp_server"]
        print(f"             engine counters: requests {s['requests']}, replies {s['replies']}, "
              f"rate_limited {s['rate_limited']}, tx_dropped {sum(l['tx_dropped'] for l in doc['lcores'])}")

        conf = os.path.join(tmp, "chrony.conf")
        with open(conf, "w") as f:
            f.write("allow 198.51.100.0/24\nlocal stratum 1\ncmdport 0\n"
                    f"pidfile {tmp}/chronyd.pid\ndriftfile {tmp}/drift\n")
        chrony = subprocess.Popen(["ip", "netns", "exec", SRV_NS, "taskset", "-c", "0",
                                   "chronyd", "-f", conf, "-d", "-x", "-u", "root"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: answers("198.51.100.1"), 20, proc=chrony):
            raise RuntimeError("chronyd never answered")
        chr_ = measure("chronyd", "198.51.100.1", chrony.pid, a.seconds, a.window)
        print(f"ratio (engine / chronyd): throughput {eng[0]['rate'] / chr_[0]['rate']:.2f}x, "
              f"closed-loop RTT p50 {eng[1]['rtt_p50_us']:.0f} us vs "
              f"{chr_[1]['rtt_p50_us']:.0f} us")
    finally:
        stop(engine)
        stop(chrony)
        teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
