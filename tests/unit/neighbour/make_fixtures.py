#!/usr/bin/python3
# Regenerates fixtures.hpp: requests as a neighbour would send them and, built independently by
# scapy (which computes every length and checksum itself), the replies the responder must write.
# Run with the system interpreter that has scapy: /usr/bin/python3 make_fixtures.py > fixtures.hpp
from scapy.all import (ARP, ICMP, IP, Dot1AD, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr,
                       IPv6ExtHdrHopByHop,
                       IPOption_NOP, IPOption_EOL, IPv6, Padding, raw)

MY = "02:00:00:00:00:01"
PEER = "52:54:00:12:34:56"
SVC4, PEER4, OTHER4 = "192.0.2.1", "192.0.2.100", "192.0.2.2"
SVC6, PEER6, OTHER6 = "2001:db8::1", "2001:db8::100", "2001:db8::2"
SNM6 = "ff02::1:ff00:1"  # solicited-node group of 2001:db8::1
SNM6_MAC = "33:33:ff:00:00:01"
PAYLOAD = b"ports-engine ping payload"  # 25 bytes: an odd length exercises the checksum's tail

# name -> scapy expression (text, so the header can show it next to the bytes)
FIXTURES = [
    ("arp_request",
     f'Ether(dst="ff:ff:ff:ff:ff:ff", src="{PEER}")/ARP(op=1, hwsrc="{PEER}", psrc="{PEER4}", '
     f'hwdst="00:00:00:00:00:00", pdst="{SVC4}")/Padding(load=bytes(18))'),
    ("arp_reply_expected",
     f'Ether(dst="{PEER}", src="{MY}")/ARP(op=2, hwsrc="{MY}", psrc="{SVC4}", hwdst="{PEER}", '
     f'pdst="{PEER4}")/Padding(load=bytes(18))'),
    ("arp_request_other_ip",
     f'Ether(dst="ff:ff:ff:ff:ff:ff", src="{PEER}")/ARP(op=1, hwsrc="{PEER}", psrc="{PEER4}", '
     f'pdst="{OTHER4}")/Padding(load=bytes(18))'),
    ("arp_probe",
     f'Ether(dst="ff:ff:ff:ff:ff:ff", src="{PEER}")/ARP(op=1, hwsrc="{PEER}", psrc="0.0.0.0", '
     f'hwdst="00:00:00:00:00:00", pdst="{SVC4}")/Padding(load=bytes(18))'),
    ("arp_probe_reply_expected",
     f'Ether(dst="{PEER}", src="{MY}")/ARP(op=2, hwsrc="{MY}", psrc="{SVC4}", hwdst="{PEER}", '
     f'pdst="0.0.0.0")/Padding(load=bytes(18))'),
    ("arp_reply_to_us",
     f'Ether(dst="{MY}", src="{PEER}")/ARP(op=2, hwsrc="{PEER}", psrc="{PEER4}", hwdst="{MY}", '
     f'pdst="{SVC4}")/Padding(load=bytes(18))'),
    ("arp_request_vlan",
     f'Ether(dst="ff:ff:ff:ff:ff:ff", src="{PEER}")/Dot1Q(vlan=100, prio=5)/ARP(op=1, '
     f'hwsrc="{PEER}", psrc="{PEER4}", hwdst="00:00:00:00:00:00", pdst="{SVC4}")'
     f'/Padding(load=bytes(14))'),
    ("arp_reply_vlan_expected",
     f'Ether(dst="{PEER}", src="{MY}")/Dot1Q(vlan=100, prio=5)/ARP(op=2, hwsrc="{MY}", '
     f'psrc="{SVC4}", hwdst="{PEER}", pdst="{PEER4}")/Padding(load=bytes(14))'),
    ("arp_request_qinq",
     f'Ether(dst="ff:ff:ff:ff:ff:ff", src="{PEER}")/Dot1AD(vlan=10)/Dot1Q(vlan=20)/ARP(op=1, '
     f'hwsrc="{PEER}", psrc="{PEER4}", hwdst="00:00:00:00:00:00", pdst="{SVC4}")'
     f'/Padding(load=bytes(10))'),
    ("arp_reply_qinq_expected",
     f'Ether(dst="{PEER}", src="{MY}")/Dot1AD(vlan=10)/Dot1Q(vlan=20)/ARP(op=2, hwsrc="{MY}", '
     f'psrc="{SVC4}", hwdst="{PEER}", pdst="{PEER4}")/Padding(load=bytes(10))'),
    ("echo4_request",
     f'Ether(dst="{MY}", src="{PEER}")/IP(src="{PEER4}", dst="{SVC4}", ttl=57, id=0x1234, '
     f'flags="DF", tos=0x10)/ICMP(type=8, id=0x4242, seq=7)/{PAYLOAD!r}'),
    ("echo4_reply_expected",
     f'Ether(dst="{PEER}", src="{MY}")/IP(src="{SVC4}", dst="{PEER4}", ttl=64, id=0x1234, '
     f'flags="DF", tos=0x10)/ICMP(type=0, id=0x4242, seq=7)/{PAYLOAD!r}'),
    # A short echo: the frame carries Ethernet padding behind the datagram, which stays.
    ("echo4_request_padded",
     f'Ether(dst="{MY}", src="{PEER}")/IP(src="{PEER4}", dst="{SVC4}", ttl=128, id=1)'
     f'/ICMP(type=8, id=1, seq=1)/b"ab"/Padding(load=b"\\xee" * 16)'),
    ("echo4_reply_padded_expected",
     f'Ether(dst="{PEER}", src="{MY}")/IP(src="{SVC4}", dst="{PEER4}", ttl=64, id=1)'
     f'/ICMP(type=0, id=1, seq=1)/b"ab"/Padding(load=b"\\xee" * 16)'),
    ("echo4_request_options",
     f'Ether(dst="{MY}", src="{PEER}")/IP(src="{PEER4}", dst="{SVC4}", '
     f'options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()])'
     f'/ICMP(type=8, id=1, seq=1)/{PAYLOAD!r}'),
    ("echo4_request_fragment",
     f'Ether(dst="{MY}", src="{PEER}")/IP(src="{PEER4}", dst="{SVC4}", flags="MF")'
     f'/ICMP(type=8, id=1, seq=1)/{PAYLOAD!r}'),
    ("echo4_request_from_broadcast",
     f'Ether(dst="{MY}", src="{PEER}")/IP(src="255.255.255.255", dst="{SVC4}")'
     f'/ICMP(type=8, id=1, seq=1)/{PAYLOAD!r}'),
    ("echo4_request_other_ip",
     f'Ether(dst="{MY}", src="{PEER}")/IP(src="{PEER4}", dst="{OTHER4}")'
     f'/ICMP(type=8, id=1, seq=1)/{PAYLOAD!r}'),
    ("echo6_request",
     f'Ether(dst="{MY}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SVC6}", hlim=60, tc=0x20, '
     f'fl=0x12345)/ICMPv6EchoRequest(id=0x77, seq=3, data={PAYLOAD!r})'),
    ("echo6_reply_expected",
     f'Ether(dst="{PEER}", src="{MY}")/IPv6(src="{SVC6}", dst="{PEER6}", hlim=64, tc=0x20, '
     f'fl=0x12345)/ICMPv6EchoReply(id=0x77, seq=3, data={PAYLOAD!r})'),
    ("echo6_request_multicast",
     f'Ether(dst="33:33:00:00:00:01", src="{PEER}")/IPv6(src="{PEER6}", dst="ff02::1")'
     f'/ICMPv6EchoRequest(id=1, seq=1)'),
    ("echo6_request_hop_by_hop",
     f'Ether(dst="{MY}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SVC6}")/IPv6ExtHdrHopByHop()'
     f'/ICMPv6EchoRequest(id=1, seq=1, data={PAYLOAD!r})'),
    ("ns_unicast_sll",
     f'Ether(dst="{MY}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SVC6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")/ICMPv6NDOptSrcLLAddr(lladdr="{PEER}")'),
    ("ns_multicast_sll",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SNM6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")/ICMPv6NDOptSrcLLAddr(lladdr="{PEER}")'),
    ("ns_unicast_bare",
     f'Ether(dst="{MY}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SVC6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")'),
    ("na_solicited_expected",
     f'Ether(dst="{PEER}", src="{MY}")/IPv6(src="{SVC6}", dst="{PEER6}", hlim=255)'
     f'/ICMPv6ND_NA(tgt="{SVC6}", R=0, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr="{MY}")'),
    ("ns_dad",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/IPv6(src="::", dst="{SNM6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")'),
    ("na_dad_expected",
     f'Ether(dst="33:33:00:00:00:01", src="{MY}")/IPv6(src="{SVC6}", dst="ff02::1", hlim=255)'
     f'/ICMPv6ND_NA(tgt="{SVC6}", R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr="{MY}")'),
    # Linux's DAD probe (enhanced DAD, RFC 7527): a nonce option (type 14), which is no reason
    # to stay silent.
    ("ns_dad_nonce",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/IPv6(src="::", dst="{SNM6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")/b"\\x0e\\x01\\x01\\x02\\x03\\x04\\x05\\x06"'),
    ("ns_dad_with_sll",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/IPv6(src="::", dst="{SNM6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")/ICMPv6NDOptSrcLLAddr(lladdr="{PEER}")'),
    ("ns_hop_limit_64",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SNM6}", hlim=64)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")/ICMPv6NDOptSrcLLAddr(lladdr="{PEER}")'),
    ("ns_other_target",
     f'Ether(dst="33:33:ff:00:00:02", src="{PEER}")/IPv6(src="{PEER6}", dst="ff02::1:ff00:2", '
     f'hlim=255)/ICMPv6ND_NS(tgt="{OTHER6}")/ICMPv6NDOptSrcLLAddr(lladdr="{PEER}")'),
    ("ns_zero_length_option",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/IPv6(src="{PEER6}", dst="{SNM6}", hlim=255)'
     f'/ICMPv6ND_NS(tgt="{SVC6}")/b"\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"'),
    ("ns_vlan",
     f'Ether(dst="{SNM6_MAC}", src="{PEER}")/Dot1Q(vlan=7)/IPv6(src="{PEER6}", dst="{SNM6}", '
     f'hlim=255)/ICMPv6ND_NS(tgt="{SVC6}")/ICMPv6NDOptSrcLLAddr(lladdr="{PEER}")'),
    ("na_vlan_expected",
     f'Ether(dst="{PEER}", src="{MY}")/Dot1Q(vlan=7)/IPv6(src="{SVC6}", dst="{PEER6}", hlim=255)'
     f'/ICMPv6ND_NA(tgt="{SVC6}", R=0, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr="{MY}")'),
]


def main():
    print("// Generated by make_fixtures.py (scapy " + __import__("scapy").VERSION + "); do not edit.")
    print("// Requests as neighbours send them; *_expected are the replies as scapy builds them,")
    print("// lengths and checksums computed by scapy, independently of the code under test.")
    print("#pragma once\n\n#include <array>\n#include <cstdint>\n\nnamespace nfix {")
    for name, expr in FIXTURES:
        data = raw(eval(expr))
        print(f"\n// {expr}")
        print(f"inline constexpr std::array<std::uint8_t, {len(data)}> {name} = {{")
        for i in range(0, len(data), 12):
            print("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 12]) + ",")
        print("};")
    print("\n}  // namespace nfix")


if __name__ == "__main__":
    main()
