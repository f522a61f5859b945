#!/usr/bin/python3
"""Writes OUT.pcap (the build's tests/integration/l2tp-control.pcap): an L2TPv2 control exchange over UDP 1701
(SCCRQ/SCCRP with Host Name AVPs in clear, SCCCN, a ZLB, a Hello, an SCCRQ whose Host Name AVP
is hidden, a data message), built here with scapy because no shared capture has a clean L2TP
control exchange (../shared/pcaps/SOURCES.md). The build runs it (the bytes are the same every
time; only the record times differ); the expected rule counts for it are derived by tshark
(derive_rules_expected.py)."""
import struct
import sys

from scapy.all import Ether, IP, UDP, Raw, wrpcap


def avp(attr, value, mandatory=True, hidden=False):
    flags = (0x8000 if mandatory else 0) | (0x4000 if hidden else 0)
    return struct.pack("!HHH", flags | (6 + len(value)), 0, attr) + value


def control(tunnel, ns, nr, avps):
    body = b"".join(avps)
    return struct.pack("!HHHHHH", 0xC802, 12 + len(body), tunnel, 0, ns, nr) + body


def msg_type(t):
    return avp(0, struct.pack("!H", t))


def sccrq(host, assigned, hidden=False):
    return control(0, 0, 0, [msg_type(1), avp(2, b"\x01\x00"), avp(3, b"\x00\x00\x00\x03"),
                             avp(7, host, hidden=hidden), avp(9, struct.pack("!H", assigned))])


def sccrp(host, tunnel, assigned):
    return control(tunnel, 0, 1, [msg_type(2), avp(2, b"\x01\x00"), avp(3, b"\x00\x00\x00\x03"),
                                  avp(7, host), avp(8, b"Acme L2TP", mandatory=False),
                                  avp(9, struct.pack("!H", assigned))])


def frame(src, dst, payload, sport=1701, dport=1701):
    return (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
            IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload))


lac, lns = "192.0.2.10", "198.51.100.20"
packets = [
    frame(lac, lns, sccrq(b"lac-1.example.net", 17)),
    frame(lns, lac, sccrp(b"lns-1", 17, 29)),
    frame(lac, lns, control(29, 1, 1, [msg_type(3)])),                 # SCCCN
    frame(lns, lac, struct.pack("!HHHHHH", 0xC802, 12, 17, 0, 1, 2)),  # ZLB
    frame(lac, lns, control(29, 2, 1, [msg_type(6)])),                 # Hello
    frame(lac, lns, sccrq(b"\x8a\x11\x93\x02secret", 18, hidden=True), sport=40000),
    frame(lac, lns, struct.pack("!HHH", 0x0002, 29, 5) + b"\xff\x03\xc0\x21\x09\x01\x00\x08\x00\x00\x00\x00"),
    frame(lac, lns, sccrq(b"lac-2", 19), sport=40001),
]
wrpcap(sys.argv[1], packets)
