"""The NTP fast path over net_pcap: requests with known pcap timestamps go in (rx_pcap), the
engine's replies come out (tx_pcap). Checked per request, independently of the engine's code
(scapy decodes, hashlib/cryptography recompute MACs):
  - every reply's receive timestamp is its request's pcap timestamp, to the microsecond;
  - origin is the request's transmit field byte for byte; mode 4, version copied, poll copied;
  - modes 6 and 7 (and 1, 2, 5) are never answered; broadcast sources are not answered;
  - SHA1 / AES-CMAC / MD5 requests get replies signed with the same key; unknown keys and bad
    digests get a crypto-NAK;
  - rate limiting answers a burst then KoD RATE;
  - ARP and ICMP echo for the service address are answered;
  - no reply is longer than its request.
Usage: /usr/bin/python3 test_ntp_pcap.py ENGINE KEYS_FILE   (needs scapy)
"""
import hashlib
import json
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import eal_args, run_tests, skip  # noqa: E402

import logging  # noqa: E402
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import ARP, ICMP, IP, UDP, Ether, IPv6, Raw, rdpcap, wrpcap  # noqa: E402
    from scapy.utils import EDecimal  # noqa: E402
    from cryptography.hazmat.primitives import cmac  # noqa: E402
    from cryptography.hazmat.primitives.ciphers import algorithms  # noqa: E402
except ImportError as e:
    skip(f"{sys.executable} lacks {e.name} (Debian: python3-scapy, python3-cryptography)")
import subprocess  # noqa: E402

ENGINE = KEYS = None
PORT_MAC = "02:70:63:61:70:00"  # net_pcap0's MAC in DPDK 22.11
CLIENT_MAC = "02:00:00:00:00:10"
SERVICE4, SERVICE6 = "192.0.2.1", "2001:db8::1"
NTP_EPOCH = 2208988800
T0_US = 1700000000_000000 + 123457  # fractions that are not round in binary

SHA1_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")
AES_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
MD5_KEY = b"ports-engine-test"


def ntp_packet(version=4, mode=3, transmit=0, poll=6, li=0):
    return struct.pack("!BBbb", (li << 6) | (version << 3) | mode, 0, poll, -20) + \
        b"\0" * 36 + struct.pack("!Q", transmit)


def sign(packet, key_id, kind):
    if kind == "sha1":
        digest = hashlib.sha1(SHA1_KEY + packet).digest()
    elif kind == "md5":
        digest = hashlib.md5(MD5_KEY + packet).digest()
    else:
        c = cmac.CMAC(algorithms.AES(AES_KEY))
        c.update(packet)
        digest = c.finalize()
    return packet + struct.pack("!I", key_id) + digest


def ntp_of_us(us):
    sec, rem = divmod(us, 1000000)
    return ((sec + NTP_EPOCH) << 32) | ((rem << 32) // 1000000)


def us_of_ntp(ts):
    return ((ts >> 32) - NTP_EPOCH) * 1000000 + round((ts & 0xFFFFFFFF) * 1000000 / 2**32)


class Capture:
    """Requests with distinct client ports, so each reply finds its request."""

    def __init__(self):
        self.frames = []
        self.next_port = 40000

    def add(self, pkt, label):
        # 1.007 ms apart: every frame's microseconds differ in the last digits.
        us = T0_US + 1007 * len(self.frames)
        self.frames.append((pkt, label, us))

    def ntp(self, payload, label, v6=False, src=None):
        port = self.next_port
        self.next_port += 1
        ip = IPv6(src=src or "2001:db8::10", dst=SERVICE6) if v6 else \
            IP(src=src or "192.0.2.10", dst=SERVICE4)
        self.add(Ether(src=CLIENT_MAC, dst=PORT_MAC) / ip / UDP(sport=port, dport=123) /
                 Raw(payload), label)
        return port

    def write(self, path):
        pkts = []
        for pkt, _, us in self.frames:
            # scapy writes float seconds: give it the microsecond exactly.
            pkt.time = EDecimal(us) / 1000000
            pkts.append(pkt)
        wrpcap(path, pkts)


def run(tmp, capture, ntp_section):
    rx = os.path.join(tmp, "req.pcap")
    tx = os.path.join(tmp, "rep.pcap")
    capture.write(rx)
    cfg = os.path.join(tmp, "engine.yaml")
    with open(cfg, "w") as f:
        f.write(ntp_section + "ports:\n  - name: p0\n"
                f"    device: \"net_pcap0,rx_pcap={rx},tx_pcap={tx}\"\n")
    stats = os.path.join(tmp, "stats.json")
    p = subprocess.run([ENGINE] + eal_args("ntp-pcap") + ["--", "--config", cfg, "--duration",
                        "1", "--stats-json", stats], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with open(stats) as f:
        doc = json.load(f)
    return rdpcap(tx), doc, rdpcap(rx)


def replies_by_port(replies):
    out = {}
    for r in replies:
        if UDP in r and r[UDP].sport == 123:
            out[r[UDP].dport] = r
    return out


class NtpOverPcap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        c = Capture()
        cls.plain = {}
        for version in (1, 2, 3, 4):
            cls.plain[c.ntp(ntp_packet(version=version, transmit=0x0123456789ABCDEF + version,
                                       poll=version + 3), f"v{version}")] = version
        cls.v6 = c.ntp(ntp_packet(transmit=0xDEADBEEF00000001), "v6", v6=True)
        cls.sntp = c.ntp(ntp_packet(transmit=0xE000000000000001, poll=0), "sntp")
        cls.never = [c.ntp(ntp_packet(mode=6) [:12], "mode6"),
                     c.ntp(bytes([0x17, 0x00, 0x03, 0x2a]) + b"\0" * 44, "mode7"),
                     c.ntp(ntp_packet(mode=1, transmit=5), "mode1"),
                     c.ntp(ntp_packet(mode=2, transmit=5), "mode2"),
                     c.ntp(ntp_packet(mode=5, transmit=5), "mode5"),
                     c.ntp(ntp_packet(transmit=7), "broadcast-src", src="255.255.255.255")]
        cls.sha1 = c.ntp(sign(ntp_packet(transmit=0xA1), 1, "sha1"), "sha1")
        cls.aes = c.ntp(sign(ntp_packet(transmit=0xA2), 2, "aes"), "aes")
        cls.md5 = c.ntp(sign(ntp_packet(transmit=0xA3), 3, "md5"), "md5")
        cls.unknown_key = c.ntp(sign(ntp_packet(transmit=0xA4), 9, "sha1"), "unknown-key")
        bad = bytearray(sign(ntp_packet(transmit=0xA5), 1, "sha1"))
        bad[-1] ^= 0x01
        cls.bad_digest = c.ntp(bytes(bad), "bad-digest")
        c.add(Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, hwsrc=CLIENT_MAC, psrc="192.0.2.10", pdst=SERVICE4), "arp")
        c.add(Ether(src=CLIENT_MAC, dst=PORT_MAC) / IP(src="192.0.2.10", dst=SERVICE4) /
              ICMP(id=7, seq=1) / Raw(b"ping"), "icmp")
        cls.capture = c
        cls.out, cls.doc, cls.sent = run(cls._tmp.name, c,
                                         "ntp:\n  addresses: [192.0.2.1, \"2001:db8::1\"]\n"
                                         f"  keys: {KEYS}\n  assume_synchronized: true\n"
                                         "  stratum: 1\n  refid: GPS\n")
        cls.by_port = replies_by_port(cls.out)
        cls.request_of = {}
        for pkt, label, us in c.frames:
            if UDP in pkt:
                cls.request_of[pkt[UDP].sport] = (pkt, us)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def reply(self, port):
        self.assertIn(port, self.by_port, "no reply")
        return bytes(self.by_port[port][UDP].payload)

    def test_receive_timestamp_is_the_pcap_timestamp_to_the_microsecond(self):
        for port in list(self.plain) + [self.v6, self.sntp, self.sha1, self.aes]:
            _, us = self.request_of[port]
            rec = struct.unpack("!Q", self.reply(port)[32:40])[0]
            self.assertEqual(us_of_ntp(rec), us, f"port {port}")

    def test_origin_is_the_request_transmit_byte_for_byte(self):
        for port in list(self.plain) + [self.v6, self.sntp]:
            req, _ = self.request_of[port]
            self.assertEqual(self.reply(port)[24:32], bytes(req[UDP].payload)[40:48])

    def test_mode_4_version_and_poll_copied(self):
        for port, version in self.plain.items():
            r = self.reply(port)
            self.assertEqual(r[0] & 7, 4)
            self.assertEqual((r[0] >> 3) & 7, version)
            self.assertEqual(r[2], version + 3)
            self.assertEqual(r[1], 1)  # stratum from the config
            self.assertEqual(r[12:16], b"GPS\0")

    def test_transmit_is_not_before_receive_time(self):
        r = self.reply(self.v6)
        rec, xmt = struct.unpack("!QQ", r[32:48])
        self.assertGreater(xmt, rec)  # the pcap is from 2023; transmit is now

    def test_ipv6_request_is_answered_over_ipv6(self):
        rep = self.by_port[self.v6]
        self.assertIn(IPv6, rep)
        self.assertEqual(rep[IPv6].src, SERVICE6)
        self.assertEqual(rep[IPv6].dst, "2001:db8::10")

    def test_checksums_and_addresses_are_right(self):
        for port, rep in self.by_port.items():
            raw = bytes(rep)
            rebuilt = Ether(raw)
            if IP in rebuilt:
                del rebuilt[IP].chksum
            del rebuilt[UDP].chksum
            self.assertEqual(bytes(Ether(bytes(rebuilt))), raw, f"port {port}")
            self.assertEqual(rep[Ether].dst, CLIENT_MAC)
            self.assertEqual(rep[Ether].src, PORT_MAC)

    def test_modes_6_7_and_non_client_modes_are_never_answered(self):
        for port in self.never:
            self.assertNotIn(port, self.by_port)
        s = self.doc["ntp_server"]
        self.assertEqual(s["drop_mode6"], 1)
        self.assertEqual(s["drop_mode7"], 1)
        self.assertEqual(s["drop_other_mode"], 3)
        self.assertEqual(s["drop_access"], 1)

    def test_no_reply_is_longer_than_its_request(self):
        for port, rep in self.by_port.items():
            req, _ = self.request_of[port]
            self.assertLessEqual(len(bytes(rep)), len(bytes(req)))
            self.assertLessEqual(len(bytes(rep[UDP].payload)), len(bytes(req[UDP].payload)))

    def test_sha1_request_gets_a_sha1_signed_reply(self):
        r = self.reply(self.sha1)
        self.assertEqual(len(r), 48 + 4 + 20)
        self.assertEqual(struct.unpack("!I", r[48:52])[0], 1)
        self.assertEqual(r[52:], hashlib.sha1(SHA1_KEY + r[:48]).digest())

    def test_aes_cmac_request_gets_a_cmac_signed_reply(self):
        r = self.reply(self.aes)
        self.assertEqual(struct.unpack("!I", r[48:52])[0], 2)
        c = cmac.CMAC(algorithms.AES(AES_KEY))
        c.update(r[:48])
        self.assertEqual(r[52:], c.finalize())

    def test_md5_request_gets_an_md5_signed_reply(self):
        r = self.reply(self.md5)
        self.assertEqual(r[52:], hashlib.md5(MD5_KEY + r[:48]).digest())

    def test_unknown_key_and_bad_digest_get_a_crypto_nak(self):
        for port in (self.unknown_key, self.bad_digest):
            r = self.reply(port)
            self.assertEqual(len(r), 52)
            self.assertEqual(r[48:52], b"\0\0\0\0")
        self.assertEqual(self.doc["ntp_server"]["crypto_nak"], 2)
        self.assertEqual(self.doc["ntp_server"]["auth_ok"], 3)

    def test_arp_and_echo_for_the_service_address_are_answered(self):
        arps = [p for p in self.out if ARP in p]
        self.assertEqual(len(arps), 1)
        self.assertEqual(arps[0][ARP].op, 2)
        self.assertEqual(arps[0][ARP].hwsrc, PORT_MAC)
        self.assertEqual(arps[0][ARP].psrc, SERVICE4)
        echo = [p for p in self.out if ICMP in p]
        self.assertEqual(len(echo), 1)
        self.assertEqual(echo[0][ICMP].type, 0)
        self.assertEqual(bytes(echo[0][ICMP].payload), b"ping")

    def test_counters_add_up(self):
        s = self.doc["ntp_server"]
        answered = len([p for p in self.out if UDP in p])
        self.assertEqual(s["replies"], answered)
        drops = sum(v for k, v in s.items() if k.startswith("drop_"))
        self.assertEqual(s["requests"], s["replies"] + drops + s["rate_limited"])


class RateLimitOverPcap(unittest.TestCase):
    def test_a_burst_is_answered_then_kod_rate(self):
        with tempfile.TemporaryDirectory() as tmp:
            c = Capture()
            ports = [c.ntp(ntp_packet(transmit=100 + i), f"flood{i}") for i in range(10)]
            other = c.ntp(ntp_packet(transmit=999), "other-client", src="192.0.2.77")
            out, doc, _ = run(tmp, c, "ntp:\n  addresses: [192.0.2.1]\n"
                                      "  assume_synchronized: true\n"
                                      "  ratelimit: {interval: 3, burst: 4, leak: 0, kod: true}\n")
            by_port = replies_by_port(out)
            refid = {p: bytes(by_port[p][UDP].payload)[12:16] for p in ports}
            normal = [p for p in ports if refid[p] != b"RATE"]
            kods = [p for p in ports if refid[p] == b"RATE"]
            self.assertEqual(normal, ports[:4])
            self.assertEqual(kods, ports[4:])
            for p in kods:
                r = bytes(by_port[p][UDP].payload)
                self.assertEqual(r[0] >> 6, 3)  # LI 3
                self.assertEqual(r[1], 0)  # stratum 0
                self.assertEqual(len(r), 48)
            self.assertIn(other, by_port)  # another client is not limited by the flooder
            self.assertEqual(doc["ntp_server"]["rate_limited"], 6)
            self.assertEqual(doc["ntp_server"]["kod_sent"], 6)


if __name__ == "__main__":
    ENGINE, KEYS = sys.argv[1], sys.argv[2]
    run_tests()
