"""Thread placement: no thread of the engine but its workers may run on a worker lcore's CPU.

With `-l` leaving a CPU spare (workers on the last CPU this test may use, the rest spare), every
thread of the running engine (EAL's interrupt and telemetry threads, the control loop, the rules
compiler and TBB, the alert writer) is read from /proc/PID/task/*/status (Cpus_allowed_list) and
/proc/PID/task/TID/stat (field 39, the CPU it last ran on): the workers are pinned to their CPU,
nothing else may run there, and /ports_engine/threads and --stats-json say the same. With no CPU
spare (-l 0 in a process allowed only CPU 0) the engine still runs and says so once.

usage: test_threads.py ENGINE PORTS_GEN"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (connect_telemetry, eal_args, file_prefix, read_text, run_tests,  # noqa: E402
                    skip, wait_for)

ENGINE = PORTS_GEN = None

# The shipped rule pack: several Hyperscan databases, compiled in parallel in TBB's arena.
RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs",
                     "rules-classic.yaml")


def cpu_list(text):
    """'0-2,5' -> {0, 1, 2, 5}"""
    out = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def tasks(pid):
    """{tid: (name, allowed CPUs, last CPU)} of every thread of pid, from /proc."""
    out = {}
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            status = read_text(f"{base}/{tid}/status")
            stat = read_text(f"{base}/{tid}/stat")
        except OSError:
            continue  # the thread ended meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        last = int(stat[stat.rindex(")") + 2:].split()[36])  # field 39
        out[int(tid)] = (fields["Name"].strip(), cpu_list(fields["Cpus_allowed_list"]), last)
    return out


class ThreadPlacement(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        pcap = os.path.join(self.tmp, "mix.pcap")
        subprocess.run([PORTS_GEN, "--out", pcap, "--count", "2000", "--seed", "3",
                        "--ntp-clients", "20"], check=True, capture_output=True)
        rules = os.path.abspath(RULES)
        self.config = os.path.join(self.tmp, "engine.yaml")
        with open(self.config, "w") as f:
            f.write(f"ports:\n  - name: a\n    device: \"net_pcap0,rx_pcap={pcap}\"\n"
                    f"rules: {rules}\n")

    def tearDown(self):
        self._tmp.cleanup()

    def start(self, tag, lcores, cpus, duration="30"):
        args = eal_args(tag, lcores)
        self.stats = os.path.join(self.tmp, f"{tag}.json")
        self.log = os.path.join(self.tmp, f"{tag}.log")
        log = open(self.log, "w")
        env = dict(os.environ, SPDLOG_LEVEL="debug")
        proc = subprocess.Popen(
            [ENGINE] + args + ["--", "--config", self.config, "--stats-json", self.stats,
                               "--duration", duration, "--stats-interval", "1"],
            stdout=subprocess.DEVNULL, stderr=log, text=True, env=env,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        log.close()
        return proc, file_prefix(args)

    def test_no_thread_but_a_worker_may_run_on_a_worker_cpu(self):
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            skip(f"needs 2 CPUs (one for the worker, one spare), this process has {allowed}")
        worker_cpu = allowed[-1]
        spare = set(allowed[:-1])
        proc, prefix = self.start("spare", str(worker_cpu), set(allowed))
        try:
            tel = connect_telemetry(prefix, proc)

            # The list is logged once every worker has said which thread it is (the control
            # loop's first pass after the start, the rules' first compile done).
            self.assertTrue(wait_for(lambda: "threads: tid" in read_text(self.log), 20, proc=proc),
                            read_text(self.log))
            answer = wait_for(lambda: tel.ask_or_none("/ports_engine/threads"), 20, proc=proc)
            self.assertIsNotNone(answer, read_text(self.log))
            # A reload: a compiler thread and TBB's work come and go again.
            proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "generation 2;" in read_text(self.log), 20,
                                     proc=proc), read_text(self.log))
            seen = tasks(proc.pid)
            tel_rows = tel.ask("/ports_engine/threads")
            tel.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        log = read_text(self.log)
        self.assertEqual(proc.returncode, 0, log)
        self.assertIn(f"threads: workers on CPUs {worker_cpu}, every other thread on CPUs", log)
        self.assertNotIn("no CPU is left", log)

        self.assertEqual(answer["worker_cpus"], str(worker_cpu))
        self.assertEqual(cpu_list(answer["control_cpus"]), spare)
        # Telemetry flattens the rows: "N/role", "N/on_worker_cpu", ... per thread N.
        tel_threads = tel_rows["threads"]
        self.assertEqual([v for k, v in tel_threads.items() if k.endswith("/role")].count("worker"),
                         1, tel_threads)
        self.assertEqual([v for k, v in tel_threads.items() if k.endswith("/on_worker_cpu")
                          and v], [], tel_threads)

        workers = {tid for tid, (name, cpus, _) in seen.items() if cpus == {worker_cpu}}
        self.assertEqual(len(workers), 1, seen)  # the one worker lcore, pinned to its CPU
        names = {name for name, _, _ in seen.values()}
        for expected in ("eal-intr-thread", "pe-control", "pe-alerts"):
            self.assertIn(expected, names, seen)
        for tid, (name, cpus, last) in seen.items():
            if tid in workers:
                self.assertEqual(last, worker_cpu, (tid, name))
                continue
            self.assertNotIn(worker_cpu, cpus, f"thread {tid} '{name}' may run on CPU "
                             f"{worker_cpu}, the worker's (allowed {sorted(cpus)})")
            self.assertIn(last, spare, (tid, name, last))

        with open(self.stats) as f:
            doc = json.load(f)["threads"]
        self.assertEqual(doc["worker_cpus"], str(worker_cpu))
        self.assertFalse(doc["shared_with_workers"])
        by_role = {}
        for row in doc["threads"]:
            by_role.setdefault(row["role"], []).append(row)
            self.assertFalse(row["on_worker_cpu"], row)
        self.assertEqual([r["lcore"] for r in by_role["worker"]], [worker_cpu])
        self.assertEqual(by_role["worker"][0]["cpus"], str(worker_cpu))
        self.assertTrue(all(not (cpu_list(r["cpus"]) & {worker_cpu}) for r in by_role["other"]))
        # Each thread and its CPUs in the start log (debug).
        for name in ("pe-control", "eal-intr-thread"):
            self.assertRegex(log, rf"threads: tid \d+ '{name}' other: CPUs [0-9,-]+")

    def test_no_spare_cpu_still_runs_and_says_so_once(self):
        cpu = sorted(os.sched_getaffinity(0))[0]
        proc, _ = self.start("nospare", str(cpu), {cpu}, duration="2")
        proc.wait(timeout=60)
        log = read_text(self.log)
        self.assertEqual(proc.returncode, 0, log)
        self.assertEqual(log.count("no CPU is left for the control threads"), 1, log)
        self.assertIn(f"share CPU {cpu} with lcore {cpu}'s worker", log)
        with open(self.stats) as f:
            doc = json.load(f)
        self.assertTrue(doc["threads"]["shared_with_workers"])
        self.assertGreaterEqual(doc["total"]["packets"], 2000)


if __name__ == "__main__":
    ENGINE, PORTS_GEN = sys.argv[1], sys.argv[2]
    run_tests()
