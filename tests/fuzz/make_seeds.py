#!/usr/bin/python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/: a few valid packets per parser
family, hand-built from the RFC layouts (same bytes as the unit-test fixtures)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def eth(t):
    return bytes.fromhex("001122334455" "66778899aabb") + struct.pack("!H", t)


def ipv4(payload, proto=17, frag=0):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, frag, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + payload


def ipv6(payload, nh=17):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + bytes(15) + b"\x01" + bytes(15) + b"\x02" + payload


def udp(payload, sport=12345, dport=123):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(payload):
    return struct.pack("!HHIIBBHHH", 49152, 1723, 1, 2, 0x50, 0x18, 0xffff, 0, 0) + payload


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    if n < 0x100:
        return bytes([tag, 0x81, n]) + content
    return bytes([tag, 0x82]) + struct.pack("!H", n) + content


def integer(v):
    return tlv(0x02, v.to_bytes(4, "big", signed=True))


NTP_CLIENT = bytes([0x23]) + bytes(39) + bytes.fromhex("e9123456789abcde")
NTP_SERVER = bytes.fromhex("240206e90000010200000304c0000201") + bytes(range(32))
VARBINDS = tlv(0x30, tlv(0x30, tlv(0x06, bytes.fromhex("2b06010201010300")) + tlv(0x05, b"")))
SNMP_V1 = tlv(0x30, integer(0) + tlv(0x04, b"public") + tlv(0xA0, integer(0x12345678) + integer(0) + integer(0) + VARBINDS))
USM = tlv(0x30, tlv(0x04, bytes.fromhex("80001f8804656e67")) + integer(5) + integer(256) + tlv(0x04, b"alice")
          + tlv(0x04, b"") + tlv(0x04, b""))
SNMP_V3 = tlv(0x30, integer(3) + tlv(0x30, integer(1) + integer(65507) + tlv(0x04, b"\x04") + integer(3))
              + tlv(0x04, USM) + tlv(0x30, tlv(0x04, b"") + tlv(0x04, b"") + tlv(0xA0, integer(1) + integer(0) + integer(0) + VARBINDS)))


# The same messages in the encoding agents and managers write (shortest INTEGERs), which the
# parser's fast decodes take: v2c with short and long-form lengths, a v1 trap, SNMPv3 with
# authentication, encrypted, and a Report-PDU.
def integer_min(v):
    n = 1
    while not -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
        n += 1
    return tlv(0x02, v.to_bytes(n, "big", signed=True))


def pdu_min(tag, request_id, varbinds=VARBINDS):
    return tlv(tag, integer_min(request_id) + integer_min(0) + integer_min(0) + varbinds)


def usm_min(user, auth, priv):
    return tlv(0x30, tlv(0x04, bytes.fromhex("80001f8804656e67")) + integer_min(5) + integer_min(256)
               + tlv(0x04, user) + tlv(0x04, auth) + tlv(0x04, priv))


def v3_min(flags, usm, data):
    return tlv(0x30, integer_min(3) + tlv(0x30, integer_min(0x1234) + integer_min(65507) + tlv(0x04, bytes([flags]))
                                          + integer_min(3)) + tlv(0x04, usm) + data)


SCOPED = tlv(0x30, tlv(0x04, bytes.fromhex("80001f8804656e67")) + tlv(0x04, b"") + pdu_min(0xA0, 0x1234))
LONG_VARBINDS = tlv(0x30, tlv(0x30, tlv(0x06, bytes.fromhex("2b06010201010100")) + tlv(0x04, bytes(200))))
SNMP_V2C_GETNEXT = tlv(0x30, integer_min(1) + tlv(0x04, b"public") + pdu_min(0xA1, 0x5067d65c))
SNMP_V2C_RESPONSE_LONG = tlv(0x30, integer_min(1) + tlv(0x04, b"public") + pdu_min(0xA2, 7, LONG_VARBINDS))
SNMP_V1_TRAP = tlv(0x30, integer_min(0) + tlv(0x04, b"public") + tlv(0xA4, tlv(0x06, bytes.fromhex("2b0601040108"))
                   + tlv(0x40, bytes([192, 0, 2, 1])) + integer_min(6) + integer_min(1) + tlv(0x43, b"\x01\x00") + VARBINDS))
SNMP_V3_AUTH = v3_min(0x05, usm_min(b"alice", bytes(12), b""), SCOPED)
SNMP_V3_ENCRYPTED = v3_min(0x07, usm_min(b"alice", bytes(12), bytes(8)), tlv(0x04, bytes(range(144))))
SNMP_V3_REPORT = v3_min(0x00, usm_min(b"", b"", b""), tlv(0x30, tlv(0x04, b"") + tlv(0x04, b"") + pdu_min(0xA8, 0x1234)))
L2TP_SCCRQ = bytes.fromhex("c8020014000000000000000080080000000000018008000000020100")
L2TP_SCCRQ = L2TP_SCCRQ[:2] + struct.pack("!H", len(L2TP_SCCRQ)) + L2TP_SCCRQ[4:]


def pptp(ctype, length):
    return (struct.pack("!HHIHH", length, 1, 0x1A2B3C4D, ctype, 0) + bytes(length))[:length]


SEEDS = {
    "fuzz_layers": {
        "ipv4_udp": eth(0x0800) + ipv4(udp(b"\xde\xad\xbe\xef")),
        "vlan_ipv4_tcp": eth(0x8100) + bytes.fromhex("00640800") + ipv4(tcp(b"\xaa\xbb"), proto=6),
        "qinq_ipv6_udp": eth(0x88A8) + bytes.fromhex("000a8100" "001486dd") + ipv6(udp(b"x")),
        "ipv6_frag": eth(0x86DD) + ipv6(bytes([17, 0, 0, 1, 0xca, 0xfe, 0xba, 0xbe]) + udp(b"y"), nh=44),
        "ipv4_later_fragment": eth(0x0800) + ipv4(udp(b"z"), frag=0x00b9),
    },
    "fuzz_ntp": {
        "sntp_request": NTP_CLIENT,
        "server_md5": NTP_SERVER + bytes.fromhex("00000007") + bytes(16),
        "server_ext_sha1": NTP_SERVER + struct.pack("!HH", 0x0104, 16) + bytes(12) + bytes.fromhex("00000007") + bytes(20),
        "mode6": bytes.fromhex("160200010000000000000004763d3100"),
        "mode7": bytes.fromhex("1700032a00000000"),
    },
    "fuzz_snmp": {
        "v1_get": SNMP_V1,
        "v3_plain": SNMP_V3,
        "v2c_getnext": SNMP_V2C_GETNEXT,
        "v2c_response_long": SNMP_V2C_RESPONSE_LONG,
        "v1_trap": SNMP_V1_TRAP,
        "v3_auth": SNMP_V3_AUTH,
        "v3_encrypted": SNMP_V3_ENCRYPTED,
        "v3_report": SNMP_V3_REPORT,
    },
    "fuzz_tunnels": {
        "gre_v0_cks": bytes.fromhex("b000080012340000" "0000002a00000007" "45000014"),
        "gre_v1_seq_ack": bytes.fromhex("3081880b0004002a0000000500000003ff03c021"),
        "l2tp_v2_sccrq": L2TP_SCCRQ,
        "l2tp_v2_data_offset": bytes.fromhex("0302000100020004" "00000000ff03c021"),
        "l2tp_v3_data": bytes.fromhex("0003000012345678cafebabe"),
        "pptp_sccrq": pptp(1, 156),
        "pptp_echo_reply": pptp(6, 20),
    },
}

for target, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
