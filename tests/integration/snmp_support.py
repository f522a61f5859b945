"""A private net-snmp world for tests and benchmarks: snmpd as AgentX master on a loopback UDP
port of its own, with its own config, persistent dir and AgentX unix socket in a temp dir;
snmptrapd on another loopback port; snmpwalk/snmpget of PORTS-ENGINE-MIB by name.

Stdlib only."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import skip, wait_for  # noqa: E402,F401  (the tests' one poll helper, used here and by them)

COMMUNITY = "ports-test-community"
V3_USER = "ports-nms"
V3_AUTH = "auth-passphrase-for-tests"
V3_PRIV = "priv-passphrase-for-tests"
TRAP_COMMUNITY = "ports-trap-community"

TOOLS = ("snmpd", "snmpwalk", "snmpget", "snmpbulkwalk", "snmptrapd", "snmptable")


def missing_tools():
    return [t for t in TOOLS if shutil.which(t) is None and not os.path.exists("/usr/sbin/" + t)]


def arguments():
    """ENGINE, PORTS_GEN and the MIB folders from the command line; exits 77 (skipped) when a
    net-snmp tool is missing."""
    missing = missing_tools()
    if missing:
        skip("missing " + ", ".join(missing) + " (packages snmpd, snmp, snmptrapd)")
    return sys.argv[1], sys.argv[2], sys.argv[3:]


def tool(name):
    return shutil.which(name) or "/usr/sbin/" + name


_client_dir = None


def client_env():
    """The clients' environment: no user or system snmp.conf, persistent files in a private dir
    (net-snmp's tools write there), MIBs only as the command line says."""
    global _client_dir
    if _client_dir is None:
        _client_dir = tempfile.mkdtemp(prefix="ports-snmp-client-")
    return dict(os.environ, SNMP_PERSISTENT_DIR=_client_dir, SNMPCONFPATH=_client_dir, MIBS="")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mib_args(mib_dirs):
    # "+dir": the MIB directories are added to net-snmp's defaults.
    # README's recipe says "-m +PORTS-ENGINE-MIB" (added to the MIBs a host has); here the
    # modules alone (ours and IF-MIB, from the shared IETF MIBs), so that missing host MIBs
    # make no noise.
    return ["-M", "+" + ":".join(mib_dirs), "-m", "PORTS-ENGINE-MIB:IF-MIB"]


class Snmpd:
    """snmpd -f as AgentX master on 127.0.0.1:port with a private everything."""

    def __init__(self, tmp, trap_port=None, cpu=None, shipped_conf=None):
        """shipped_conf: a configs/snmpd-*.conf to run instead of the test's own, with its
        port, AgentX socket and trap sink moved to private ones."""
        self.tmp = tmp
        self.port = free_udp_port()
        self.agentx = os.path.join(tmp, "agentx.sock")
        self.persist = os.path.join(tmp, "snmpd-persist")
        os.makedirs(self.persist, exist_ok=True)
        self.conf = os.path.join(tmp, "snmpd.conf")
        self.log = os.path.join(tmp, "snmpd.log")
        self.pidfile = os.path.join(tmp, "snmpd.pid")
        lines = [
            "master agentx",
            f"agentXSocket {self.agentx}",
            "agentXPerms 0600 0700",
            f"rocommunity {COMMUNITY} 127.0.0.1",
            f'createUser {V3_USER} SHA-256 "{V3_AUTH}" AES "{V3_PRIV}"',
            f"rouser {V3_USER} priv",
        ]
        if trap_port is not None:
            lines.append(f"trap2sink 127.0.0.1:{trap_port} {TRAP_COMMUNITY}")
        text = "\n".join(lines) + "\n"
        if shipped_conf is not None:
            with open(shipped_conf) as f:
                text = f.read()
            text = text.replace("udp:127.0.0.1:161", f"udp:127.0.0.1:{self.port}")
            text = text.replace("/var/agentx/master", self.agentx)
            text = text.replace("127.0.0.1:162", f"127.0.0.1:{trap_port or free_udp_port()}")
            # The address is on the command line: the file's would be a second bind.
            text = "\n".join(l for l in text.splitlines() if not l.startswith("agentAddress"))
        with open(self.conf, "w") as f:
            f.write(text + "\n")
        self.cpu = cpu
        self.proc = None

    def start(self):
        env = dict(os.environ, SNMP_PERSISTENT_DIR=self.persist, SNMPCONFPATH=self.tmp, MIBS="")
        cmd = [tool("snmpd"), "-f", "-Lf", self.log, "-C", "-c", self.conf, "-p", self.pidfile,
               f"udp:127.0.0.1:{self.port}"]
        if self.cpu is not None:
            # Benchmarks: snmpd on its own core, at the lowest priority (see bench_snmp.py).
            cmd = ["nice", "-n", "19", "taskset", "-c", str(self.cpu)] + cmd
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_for(lambda: os.path.exists(self.agentx), 10, proc=self.proc):
            raise RuntimeError("snmpd did not open its AgentX socket; log:\n" + self.read_log())
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def v2c(self, community=COMMUNITY):
        return ["-v2c", "-c", community, f"udp:127.0.0.1:{self.port}"]

    def v3(self, auth=V3_AUTH, priv=V3_PRIV):
        return ["-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA-256", "-A", auth, "-x", "AES",
                "-X", priv, f"udp:127.0.0.1:{self.port}"]


def walk(security, mib_dirs, root="PORTS-ENGINE-MIB::portsEngineMIB", bulk=False, timeout=2,
         retries=1):
    """snmpwalk of the MIB by name: (returncode, {name.index: value}, raw stdout, stderr).
    Names without module, indexes, enums and timeticks numeric, values bare, no units."""
    cmd = [tool("snmpbulkwalk" if bulk else "snmpwalk"), "-Os", "-Ob", "-OQ", "-Oe", "-Ot", "-OU",
           "-t", str(timeout), "-r", str(retries)] + mib_args(mib_dirs) + security + [root]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=client_env())
    values = {}
    for line in p.stdout.splitlines():
        if " = " not in line:
            continue
        name, value = line.split(" = ", 1)
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        values[name.strip()] = value
    return p.returncode, values, p.stdout, p.stderr


def get(security, mib_dirs, names, timeout=1, retries=0):
    cmd = [tool("snmpget"), "-Os", "-Ob", "-OQ", "-Oe", "-Ot", "-OU", "-t", str(timeout), "-r", str(retries)] + \
        mib_args(mib_dirs) + security + list(names)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=client_env())
    return p.returncode, p.stdout, p.stderr


_TYPES = ("INTEGER", "STRING", "Hex-STRING", "Counter32", "Counter64", "Gauge32", "Timeticks",
          "OID")


def _bare(cell):
    """A cell without its type (snmptable prints some with it whatever -O says) or quotes."""
    for t in _TYPES:
        if cell.startswith(t + ": "):
            cell = cell[len(t) + 2:]
            break
    return cell[1:-1] if cell.startswith('"') and cell.endswith('"') else cell


def table(security, mib_dirs, name):
    """snmptable of a table by name: (returncode, {index: {column: value}}, stdout, stderr).
    Enums and timeticks numeric, values bare."""
    cmd = [tool("snmptable"), "-Cf", "\t", "-Ci", "-Ob", "-Oe", "-Ot", "-OU", "-Oq",
           "-t", "2", "-r", "1"] + mib_args(mib_dirs) + security + [name]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=client_env())
    lines = [l for l in p.stdout.splitlines() if "\t" in l]
    rows = {}
    if p.returncode == 0 and lines:
        header = lines[0].split("\t")
        for line in lines[1:]:
            cells = line.split("\t")
            rows[cells[0]] = {h: _bare(c) for h, c in zip(header[1:], cells[1:])}
    return p.returncode, rows, p.stdout, p.stderr


class Snmptrapd:
    """snmptrapd -f on 127.0.0.1:port logging every v2c trap (any community) to a file."""

    def __init__(self, tmp, mib_dirs, v3_engine_id=None):
        """v3_engine_id: accept only SNMPv3 authPriv notifications from the test user of the
        snmpd with this engine ID (hex); else any v2c notification."""
        self.port = free_udp_port()
        self.conf = os.path.join(tmp, "snmptrapd.conf")
        self.log = os.path.join(tmp, "snmptrapd.log")
        self.persist = os.path.join(tmp, "snmptrapd-persist")
        os.makedirs(self.persist, exist_ok=True)
        with open(self.conf, "w") as f:
            if v3_engine_id is not None:
                f.write(f'createUser -e 0x{v3_engine_id} {V3_USER} SHA-256 "{V3_AUTH}" AES "{V3_PRIV}"\n')
                f.write(f"authUser log {V3_USER} priv\n")
            else:
                f.write("disableAuthorization yes\n")
        self.mib_dirs = mib_dirs
        self.proc = None

    def start(self):
        env = dict(os.environ, SNMP_PERSISTENT_DIR=self.persist, MIBS="")
        # -OQ -Os: one "name = value" per varbind, names by the MIB.
        cmd = [tool("snmptrapd"), "-f", "-Lf", self.log, "-C", "-c", self.conf, "-Os", "-OQ",
               "-On" if False else "-Ob"] + mib_args(self.mib_dirs) + [f"udp:127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_for(lambda: "NET-SNMP version" in self.read(), 10, proc=self.proc):
            raise RuntimeError("snmptrapd did not start: " + self.read())
        return self

    def read(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
