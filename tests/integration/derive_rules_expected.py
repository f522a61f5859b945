#!/usr/bin/python3
"""Derive the match counts of the shipped rule pack (configs/rules-classic.yaml) on every
shared capture and on the captures the build makes (DATA_DIR/*.pcap), INDEPENDENTLY of the engine's C++ code:
each rule is a TShark display filter, counted per capture. Dev-time tool (CI has TShark, for
rules-cli, but does not re-derive); its output, tests/integration/rules_expected.json, is committed and read by
test_rules_pack.py.

    /usr/bin/python3 tests/integration/derive_rules_expected.py ../shared/pcaps build/tests/integration \\
        > tests/integration/rules_expected.json

Each frame is judged alone, as the engine sees it: no IP defragmentation, no TCP reassembly,
no TCP sequence analysis (a retransmitted PPTP message is dissected again, as the engine
reads it again). The filters, one per rule id of the pack:
"""
import json
import os
import subprocess
import sys

FILTERS = {
    "ntp-monlist": "ntp.priv.reqcode == 42",
    "ntp-mode7": "ntp.flags.mode == 7",
    "ntp-mode6": "ntp.flags.mode == 6",
    "snmp-default-community": 'snmp.community == "public" || snmp.community == "private"',
    "snmp-set-cleartext": "snmp.data == 3",
    "pptp-control-session": "pptp.control_message_type == 1",
    "pptp-hostname": "len(pptp.host_name) > 0",
    "l2tp-hostname": "l2tp.avp.host_name",
    "cleartext-password": 'tcp.payload matches "(?i)passw(or)?d" || udp.payload matches "(?i)passw(or)?d"',
}
PREFS = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
         "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE",
         "-o", "udp.try_heuristic_first:FALSE", "-o", "tcp.try_heuristic_first:FALSE"]


def count(path, flt):
    p = subprocess.run(["tshark", *PREFS, "-r", path, "-Y", flt, "-T", "fields", "-e", "frame.number"],
                       capture_output=True, text=True)
    return len([line for line in p.stdout.splitlines() if line.strip()])


def captures(root):
    for d, _, files in sorted(os.walk(root)):
        if os.path.relpath(d, root).startswith("ndpi/expected"):
            continue
        for f in sorted(files):
            if f.endswith((".pcap", ".pcapng", ".cap")):
                yield os.path.join(d, f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "pcaps")
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    doc = {"generated_by": "tests/integration/derive_rules_expected.py with " + version,
           "filters": FILTERS, "captures": {}}
    paths = [("shared:" + os.path.relpath(p, shared), p) for p in captures(shared)]
    # The captures the build makes (make_l2tp_capture.py): DATA_DIR, the build's tests/integration.
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "..", "build", "tests", "integration")
    paths += [("data:" + f, os.path.join(data, f)) for f in sorted(os.listdir(data)) if f.endswith(".pcap")]
    for key, path in paths:
        doc["captures"][key] = {rule: count(path, flt) for rule, flt in FILTERS.items()}
        print(key, file=sys.stderr)
    json.dump(doc, sys.stdout, indent=1)
    print()


main()
