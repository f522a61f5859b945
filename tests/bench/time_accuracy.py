"""Benchmark (not run by CI): the time each server serves, ports-engine (net_af_packet, one
lcore) next to a chronyd 4.3 server, both reading this host's clock, over the veth rig of
tests/e2e/compare_chronyd.py, the same client (chronyd -Q, its offsets from `log
measurements`), in the same run. Both servers read the same clock, so the true offset is zero:
whatever the client measures is the server's error (plus the client's own, equal for both).

Conditions: basic and interleaved (chronyd `xleave`), each with and without a CPU hog (a busy
loop) on the server's CPU (CPU 0: the engine's lcore, chronyd pinned there); the client on
CPU 1. Then basic mode while ntpperf (../shared/tools/ntpperf, built from a copy) loads the
server with --load-rate requests/s (default 50000) from 198.18.0.0/16 on the same veth. A round
without an answer is allowed and counted: the engine refuses a request whose receive stamp's
bound exceeds ntp.max_timestamp_error (10 us) instead of serving wrong time.

Usage (root): python3 time_accuracy.py ENGINE [--samples 8] [--load-rate 50000] [--shared DIR]
Prints one line per condition: max |offset| and samples of each server, then the engine's
refusals.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import compare_chronyd as rig  # noqa: E402  (the veth rig: namespaces, addresses, helpers)
from common import read_text, wait_for  # noqa: E402

ENGINE_ADDR, CHRONY_ADDR = "192.0.2.1", "198.51.100.1"


def offsets(server, xleave, samples, tmp):
    """chronyd -Q in the client namespace (CPU 1): the offsets it measured and their modes."""
    d = tempfile.mkdtemp(dir=tmp)
    conf = os.path.join(d, "chrony.conf")
    with open(conf, "w") as f:
        f.write(f"server {server} iburst minpoll -4 maxpoll -4 {'xleave ' if xleave else ''}"
                f"maxsamples {samples}\n"
                f"logdir {d}\nlog measurements\npidfile {d}/chronyd.pid\n"
                f"driftfile {d}/drift\ncmdport 0\n")
    rig.sh("ip", "netns", "exec", rig.CLI_NS, "taskset", "-c", "1", "timeout", "60", "chronyd",
           "-f", conf, "-Q", "-t", "40", "-u", "root", check=False)
    out = []
    path = os.path.join(d, "measurements.log")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                t = line.split()
                if not line[:1].isdigit() or len(t) < 18:
                    continue
                mode = next((x for x in t if re.fullmatch(r"[1-5][BI]", x)), "?")
                out.append((float(t[11]), mode))
    return out


def build_ntpperf(shared, tmp):
    """ntpperf built from a copy of SHARED/tools/ntpperf (shared/ is read-only), or None."""
    src = os.path.join(shared, "tools", "ntpperf")
    if not os.path.isdir(src) or not shutil.which("make") or not shutil.which("gcc"):
        return None
    build = os.path.join(tmp, "ntpperf")
    shutil.copytree(src, build)
    if rig.sh("make", "-C", build, check=False).returncode != 0:
        return None
    # ntpperf reads the replies with libpcap; the client's kernel must not take them.
    rig.sh("ip", "netns", "exec", rig.CLI_NS, "iptables", "-t", "raw", "-A", "PREROUTING",
           "-p", "udp", "-d", "198.18.0.0/15", "-j", "DROP")
    return os.path.join(build, "ntpperf")


def mac_of(ns, dev):
    args = ["ip", "-n", ns] if ns else ["ip"]
    out = rig.sh(*args, "-o", "link", "show", dev).stdout
    return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)


def load(ntpperf, dev, mac, server, rate, seconds):
    """ntpperf at a fixed rate from the client namespace (CPU 1), in the background."""
    return subprocess.Popen(
        ["ip", "netns", "exec", rig.CLI_NS, "taskset", "-c", "1", ntpperf, "-B", "-l", "-i", dev,
         "-m", mac, "-d", server, "-s", "198.18.0.0/16", "-r", f"{rate}-{rate}", "-t",
         str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def load_summary(p):
    """ntpperf's result row: rate, clients, lost %."""
    out, _ = p.communicate(timeout=120)
    rows = [l.split() for l in out.splitlines() if re.match(r"^\s*\d+\s", l)]
    if not rows:
        said = next((l.strip() for l in out.splitlines() if l.strip()), "nothing")
        return f"ntpperf: no result ({said[:60]})"
    return f"load {rows[0][0]}/s, {rows[0][2]} lost"


def describe(samples, want_interleaved):
    if not samples:
        return "no sample"
    used = [o for o, m in samples if not want_interleaved or m.endswith("I")]
    if not used:
        return f"{len(samples)} samples, none interleaved"
    worst = max(abs(o) for o in used) * 1e6
    # The signed range too: a server whose stamps are late in one direction shows it there.
    lo, hi = min(used) * 1e6, max(used) * 1e6
    return f"max |offset| {worst:6.1f} us ({lo:+.1f}..{hi:+.1f}) over {len(used):2d} samples"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--load-rate", type=int, default=50000)
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("chronyd") or os.cpu_count() < 2:
        print("SKIP: needs root, chronyd and 2 CPUs")
        return 77
    tmp = tempfile.mkdtemp(prefix="pe-acc-")
    procs = []

    def stop(p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        rig.setup()
        cfg = os.path.join(tmp, "engine.yaml")
        with open(cfg, "w") as f:
            f.write(f"ntp:\n  addresses: [{ENGINE_ADDR}]\n  assume_synchronized: true\n"
                    f"ports:\n  - name: p0\n    device: \"net_af_packet0,iface={rig.E_ENG}\"\n")
        log = os.path.join(tmp, "engine.log")
        stats = os.path.join(tmp, "stats.json")
        engine = subprocess.Popen(
            [a.engine, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--file-prefix",
             f"pe-acc-{os.getpid()}", "-l", "0", "--", "--config", cfg, "--stats-json", stats],
            stdout=open(log, "w"), stderr=subprocess.STDOUT)
        procs.append(engine)
        if not wait_for(lambda: "lcore 0:" in read_text(log), 20, proc=engine):
            raise RuntimeError(read_text(log))
        conf = os.path.join(tmp, "chrony-server.conf")
        with open(conf, "w") as f:
            f.write("allow 198.51.100.0/24\nallow 198.18.0.0/15\nlocal stratum 1\ncmdport 0\n"
                    f"pidfile {tmp}/chronyd.pid\ndriftfile {tmp}/drift\n")
        chrony = subprocess.Popen(["ip", "netns", "exec", rig.SRV_NS, "taskset", "-c", "0",
                                   "chronyd", "-f", conf, "-d", "-x", "-u", "root"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(chrony)
        if not wait_for(lambda: rig.answers(CHRONY_ADDR), 20, proc=chrony):
            raise RuntimeError("chronyd never answered")
        print(f"{'condition':28s} | {'chronyd server':50s} | ports-engine")
        for hog in (False, True):
            hog_p = None
            if hog:
                hog_p = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c",
                                          "while True: pass"])
            try:
                for xleave in (False, True):
                    c = offsets(CHRONY_ADDR, xleave, a.samples, tmp)
                    e = offsets(ENGINE_ADDR, xleave, a.samples, tmp)
                    name = f"{'interleaved' if xleave else 'basic'}, {'CPU hog' if hog else 'quiet'}"
                    print(f"{name:28s} | {describe(c, xleave):50s} | {describe(e, xleave)}",
                          flush=True)
            finally:
                if hog_p is not None:
                    hog_p.kill()
                    hog_p.wait()
        ntpperf = build_ntpperf(a.shared, tmp)
        if ntpperf is None:
            print(f"{'basic, ntpperf load':28s} | skipped: ntpperf does not build here")
        else:
            # chronyd answers the load's 198.18.0.0/15 sources through the client's address.
            rig.sh("ip", "-n", rig.SRV_NS, "route", "add", "198.18.0.0/15", "via",
                   "198.51.100.10")
            seconds = 45  # longer than a round of chronyd -Q
            cl = load(ntpperf, rig.S_CLI, mac_of(rig.SRV_NS, rig.S_SRV), CHRONY_ADDR,
                      a.load_rate, seconds)
            c = offsets(CHRONY_ADDR, False, a.samples, tmp)
            cs = load_summary(cl)
            el = load(ntpperf, rig.E_CLI, mac_of(None, rig.E_ENG), ENGINE_ADDR, a.load_rate,
                      seconds)
            e = offsets(ENGINE_ADDR, False, a.samples, tmp)
            es = load_summary(el)
            name = f"basic, ntpperf {a.load_rate // 1000}k/s"
            print(f"{name:28s} | {describe(c, False):50s} | {describe(e, False)}", flush=True)
            print(f"{'':28s} | {cs:50s} | {es}", flush=True)
        stop(engine)
        with open(stats) as f:
            s = json.load(f)["ntp_server"]
        print(f"engine: requests {s['requests']}, replies {s['replies']}, refused for their "
              f"stamp's bound {s['drop_timestamp_error']}, interleaved replies "
              f"{s['interleaved_replies']}, misses {s['interleaved_misses']}")
    finally:
        for p in procs:
            stop(p)
        rig.teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
