"""What the end-to-end tests share: commands (in a network namespace or not) that a signal can
stop, the checks that say whether this machine can run them at all, ports-engine as a child
process with its log, and a unittest run that cleans up after itself even when meson's timeout
or ^C ends it. Stdlib only; imported by test_ntp_clients.py, test_nts_clients.py and
compare_chronyd.py from their own folder.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from common import exit_status  # noqa: E402

SKIP = 77  # meson's "skipped"

CHILD = None  # the command now running, for the signal handler to end


def sh(*cmd, check=True, timeout=60, cwd=None):
    """Runs cmd, output captured as text; raises on a non-zero exit when check."""
    global CHILD
    with subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=cwd) as CHILD:
        try:
            out, err = CHILD.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            CHILD.kill()
            out, err = CHILD.communicate()
            err += f"\n(killed after {timeout} s)"
        p = subprocess.CompletedProcess(cmd, CHILD.returncode, out, err)
    CHILD = None
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def in_ns(ns, *cmd, timeout=60):
    """cmd inside namespace ns; its exit status is the caller's to judge."""
    return sh("ip", "netns", "exec", ns, *cmd, check=False, timeout=timeout)


def why_not_here(tools=("ip",)):
    """None when this machine can run an e2e test (root, the tools, network namespaces), else
    why not, for the SKIP line."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, af_packet)"
    for tool in tools:
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if sh("ip", "netns", "list", check=False).returncode != 0:
        return "`ip netns` is unavailable"
    probe = f"pe-probe-{os.getpid()}"
    if sh("ip", "netns", "add", probe, check=False).returncode != 0:
        return "cannot create a network namespace here"
    sh("ip", "netns", "del", probe, check=False)
    return None


class Engine:
    """ports-engine (argv: the whole command line) as a child process, its output in log_path."""

    def __init__(self, argv, log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, *markers, timeout_s):
        """Until every marker is in the log; raises when the engine exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while not all(m in self.log() for m in markers):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the engine did not start:\n" + self.log())
            time.sleep(0.1)

    def stop(self, timeout_s):
        """SIGTERM (SIGKILL after timeout_s); the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class EngineTestCase(unittest.TestCase):
    """Tests against one engine for the whole class: setUpClass makes a scratch folder (tmp)
    and calls start() (the topology, the engine: cls.engine); tearDownClass stops the engine,
    calls teardown() (the topology) and removes tmp (kept with PE_KEEP_TMP set). A subclass
    sets tmp_prefix and stop_timeout_s and defines start() and teardown() as classmethods."""
    engine = None
    tmp = None
    tmp_prefix = "pe-e2e-"
    stop_timeout_s = 15

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix=cls.tmp_prefix)
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()  # unittest skips it when setUpClass fails
            raise

    @classmethod
    def stop_engine(cls):
        return cls.engine.stop(timeout_s=cls.stop_timeout_s) if cls.engine is not None else None

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop_engine()
        finally:
            cls.teardown()
            if os.environ.get("PE_KEEP_TMP") is None:
                shutil.rmtree(cls.tmp, ignore_errors=True)


def run_tests(argv, on_signal, teardown):
    """unittest.main over argv (the test names or options after the script's own arguments),
    then teardown() again, in case a setUpClass failed half way. On SIGTERM or SIGINT (meson's
    timeout, ^C): on_signal() (stop the engine, clean up), then exit at once, since unittest
    would catch a SystemExit raised inside a test and carry on. Returns the exit status: SKIP
    when every test that ran skipped."""
    def on_term(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if CHILD is not None and CHILD.poll() is None:
                CHILD.kill()
            on_signal()
        finally:
            print(f"\nstopped by signal {signum}; cleaned up", file=sys.stderr, flush=True)
            os._exit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        prog = unittest.main(argv=[sys.argv[0], "-v"] + argv, exit=False)
    finally:
        teardown()
    # 77 when every case skipped, each skipped case named (tests/integration/common.py).
    return exit_status(prog.result)
