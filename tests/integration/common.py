"""Helpers shared by the python tests (integration, e2e, bench): running the engine, reading pcap
files, waiting for a condition (wait_for), asking the engine's DPDK telemetry socket, and a
unittest runner whose exit status tells a skip from a pass (run_tests).

Stdlib only: the tests run under any python3 (scapy is not needed here)."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

# meson's exit status for "skipped".
SKIP = 77

EAL_TEST_ARGS = ["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=warning"]


def eal_args(tag, lcores="0"):
    # A unique prefix per run: never the default one another process may hold.
    return EAL_TEST_ARGS + ["--file-prefix", f"ports-test-{tag}-{os.getpid()}", "-l", lcores]


def run_engine(engine, vdevs, app_args, tag, lcores="0", timeout=60, config=None):
    """Runs ports-engine; returns (returncode, stdout, stderr, stats-json or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        stats = os.path.join(tmp, "stats.json")
        cmd = [engine] + eal_args(tag, lcores)
        for v in vdevs:
            cmd += ["--vdev", v]
        cmd += ["--", "--stats-json", stats] + list(app_args)
        if config is not None:
            path = os.path.join(tmp, "engine.yaml")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        doc = None
        if os.path.exists(stats):
            with open(stats) as f:
                doc = json.load(f)
        return p.returncode, p.stdout, p.stderr, doc


def read_pcap(path):
    """Returns [(ts_sec, ts_nsec, bytes)] of a classic pcap file (micro- or nanosecond stamps,
    either byte order; net_pcap writes nanosecond files)."""
    with open(path, "rb") as f:
        data = f.read()
    kinds = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}  # multiplier from the file's unit to ns
    for endian in "<>":
        magic = struct.unpack(endian + "I", data[:4])[0]
        if magic in kinds:
            to_ns = kinds[magic]
            break
    else:
        raise ValueError(f"{path}: not a pcap file")
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        out.append((sec, frac * to_ns, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def classes_of(doc, keys=("packets", "bytes", "malformed")):
    return {c: {k: v[k] for k in keys} for c, v in doc["classes"].items()}


def wait_for(predicate, timeout, step=0.05, proc=None):
    """Polls predicate() every `step` seconds until it returns something true or `timeout`
    seconds pass; returns that value (or the last, false, one). With `proc` (a Popen), stops
    early when that process has exited. Every wait in the tests is one of these, on the
    condition itself (the socket answers, the counter moved, the log line is there)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(step)


def read_text(path):
    """A file's text, '' while it does not exist (a log the process has not opened yet)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def skip(reason):
    """The whole test cannot run here: one line saying why, exit 77 (meson: SKIP)."""
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def run_tests(argv=None):
    """unittest.main for these tests, exit status as meson reads it: 1 on a failure or when no
    case ran, 77 (SKIP) when every case skipped, else 0. Each skipped case is printed on stdout
    as 'skipped case: ID: REASON' (scripts/test.sh counts them in its closing line): a case
    that skipped is never hidden inside a pass."""
    prog = unittest.main(argv=[sys.argv[0], "-v"] + list(argv or []), exit=False)
    sys.exit(exit_status(prog.result))


def exit_status(result):
    sys.stderr.flush()
    for case, reason in result.skipped:
        print(f"skipped case: {case.id()}: {reason}", flush=True)
    if not result.wasSuccessful():
        return 1
    if result.testsRun == 0:
        print("no test case ran", flush=True)
        return 1
    if len(result.skipped) == result.testsRun:
        reasons = sorted({reason for _, reason in result.skipped})
        print(f"SKIP: every case skipped: {'; '.join(reasons)}", flush=True)
        return SKIP
    return 0


# ---- the engine's DPDK telemetry socket ----

def file_prefix(args):
    """The --file-prefix of an EAL argument list (eal_args)."""
    return args[args.index("--file-prefix") + 1]


def telemetry_path(prefix):
    # Where the EAL puts its runtime files (eal_get_runtime_dir): /var/run as root, else XDG.
    base = "/var/run" if os.getuid() == 0 else os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk", prefix, "dpdk_telemetry.v2")


class Telemetry:
    """A client of DPDK's telemetry socket (the protocol dpdk-telemetry.py speaks)."""

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

    def ask_or_none(self, cmd):
        """The answer, or None until the engine has registered the command (the socket comes
        with the EAL, the /ports_engine commands with the runtime)."""
        v = self.ask(cmd)
        return v if isinstance(v, dict) and "error" not in v else None

    def counted(self):
        """Frames the engine has classified so far (its classes' total)."""
        classes = self.ask_or_none("/ports_engine/classes")
        return classes["total"]["packets"] if classes else 0


def connect_telemetry(prefix, proc, timeout=20):
    """Waits for the engine's telemetry socket and connects; raises with the engine's state when
    it does not come."""
    path = telemetry_path(prefix)

    def connect():
        if not os.path.exists(path):
            return None
        try:
            return Telemetry(path)
        except OSError:
            return None
    tel = wait_for(connect, timeout, proc=proc)
    if tel is None:
        raise RuntimeError(f"no telemetry socket at {path} (engine exit status {proc.poll()})")
    return tel


def wait_counted(prefix, proc, packets, timeout=20):
    """Waits until the engine has classified `packets` frames (a whole capture); returns
    whether it did."""
    tel = connect_telemetry(prefix, proc, timeout)
    try:
        return bool(wait_for(lambda: tel.counted() >= packets, timeout, proc=proc))
    finally:
        tel.close()
