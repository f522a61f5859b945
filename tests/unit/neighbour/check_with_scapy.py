#!/usr/bin/python3
# Decodes the responder's replies (dump_replies' output on stdin, or the program given as the
# first argument) with scapy, drops every length and checksum field, lets scapy recompute them and
# requires the same bytes back: scapy, not our code, vouches for the sent checksums.
import subprocess
import sys

try:
    from scapy.all import ARP, ICMP, IP, Ether, ICMPv6EchoReply, ICMPv6ND_NA, IPv6
except ImportError:
    # meson registers this test whatever the machine has: without scapy it says so and skips.
    print(f"SKIP: {sys.executable} has no scapy (Debian: python3-scapy)")
    sys.exit(77)

EXPECTED = {
    "arp_reply": ARP, "icmp4_echo_reply": ICMP, "icmp6_echo_reply": ICMPv6EchoReply,
    "nd_advert": ICMPv6ND_NA,
}


def rebuilt(frame):
    pkt = Ether(frame)
    if pkt.haslayer(IP):
        del pkt[IP].len
        del pkt[IP].chksum
    if pkt.haslayer(ICMP):
        del pkt[ICMP].chksum
    if pkt.haslayer(IPv6):
        del pkt[IPv6].plen
    for layer in (ICMPv6EchoReply, ICMPv6ND_NA):
        if pkt.haslayer(layer):
            del pkt[layer].cksum
    return pkt, bytes(pkt)


def main():
    if len(sys.argv) > 1:
        text = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
    else:
        text = sys.stdin.read()
    failures = 0
    for line in text.splitlines():
        name, what, hexbytes = line.split()
        frame = bytes.fromhex(hexbytes)
        pkt, again = rebuilt(frame)
        ok = what in EXPECTED and pkt.haslayer(EXPECTED[what]) and again == frame
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {what}: {pkt.summary()}")
        failures += not ok
    if not text.strip():
        print("FAIL: no replies to check")
        failures += 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
