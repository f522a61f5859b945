#!/usr/bin/python3
# Regenerates capture_frames.hpp: frames cut unchanged from the shared captures, for the
# parser and rules unit tests (run from the worktree root with ../shared beside it;
# /usr/bin/python3 has scapy).
from scapy.utils import rdpcap

FRAMES = [
    # Parsers (tests/unit/parsers/test_captures.cpp).
    ("ntp_v4_client", "ndpi/NTPv4.pcap", 0, "NTPv4 mode 3 client, Ethernet/IPv4/UDP 123->123"),
    ("ntp_v4_mac16", "pcapplusplus/Ntp.pcap", 2, "NTPv4 over IPv6 with MAC: key id + 16-byte digest"),
    ("ntp_v4_mac20", "pcapplusplus/Ntp.pcap", 3, "NTPv4 over IPv6 with MAC: key id + 20-byte digest"),
    ("ntp_mode67_a", "zeek/ntp/ntpmode67.pcap", 0, "NTPv2 mode 6/7 packet"),
    ("ntp_mode67_b", "zeek/ntp/ntpmode67.pcap", 3, "NTPv2 mode 6/7 packet"),
    ("gre_v1_vlan", "ndpi/gre.pcapng", 0, "Ethernet/802.1Q/IPv4/GREv1 (key, seq, ack; PPP) - PPTP data"),
    ("gre_v1_ack_only", "pcapplusplus/GrePackets.pcap", 1, "Ethernet/IPv4/GREv1 acknowledgement only (payload length 0)"),
    ("gre_v0_cks", "packetnet/gre_all_options.pcap", 0, "Ethernet/IPv4/GREv0 with checksum, key and sequence; IPv4/ICMP inside"),
    ("l2tp_pppoe", "packetnet/l2tp.pcap", 0, "Ethernet/PPPoE/PPP/IPv4/UDP 1701/L2TPv2 data with O and P bits"),
    ("pptp_sccrq", "tcpdump/pptp.pcap", 4, "Ethernet/IPv4/TCP 1723 PPTP Start-Control-Connection-Request"),
    ("pptp_ocrq", "tcpdump/pptp.pcap", 9, "Ethernet/IPv4/TCP 1723 PPTP Outgoing-Call-Request"),
    ("snmp_v1_get", "ndpi/snmp.pcap", 2, "SNMPv1 GetRequest, community public"),
    ("snmp_v2c_get_next", "ndpi/snmp.pcap", 4, "SNMPv2c GetNextRequest, community public"),
    ("snmp_v1_trap", "ndpi/snmp.pcap", 55, "SNMPv1 Trap-PDU to UDP 162"),
    ("snmp_v2_trap", "ndpi/snmp.pcap", 53, "SNMPv2c SNMPv2-Trap-PDU to UDP 162"),
    ("snmp_v3_plain", "ndpi/snmp.pcap", 24, "SNMPv3 USM, msgFlags auth|reportable, plaintext scopedPDU"),
    ("snmp_v3_encrypted", "ndpi/snmp.pcap", 42, "SNMPv3 USM, msgFlags auth|priv|reportable, encryptedPDU"),
    ("snmp_v2c_vlan", "ndpi/snmp.pcap", 66, "Ethernet/802.1Q/IPv4/UDP SNMPv2c GetResponse"),
    # Rules (tests/unit/rules/test_fields.cpp, test_match.cpp, test_pack.cpp); they also use
    # ntp_v4_client and l2tp_pppoe above.
    ("ntp_monlist", "ndpi/NTPv2.pcap", 0, "NTPv2 mode 7 request code 42 (MON_GETLIST_1)"),
    ("ntp_mode7_other", "tcpdump/ntp-mode7.pcap", 0, "NTPv2 mode 7 request code 28"),
    ("ntp_control", "tcpdump/ntp-control.pcap", 0, "NTPv2 mode 6 control, opcode 2 (read variables)"),
    ("snmp_v1_set", "zeek/snmp/snmpv1_set.pcap", 0, "SNMPv1 SetRequest, empty community"),
    ("snmp_v1_public", "zeek/snmp/snmpv1_get.pcap", 0, "SNMPv1 GetRequest, community public"),
    ("snmp_v3_get_next", "zeek/snmp/snmpv3_get_next.pcap", 2, "SNMPv3 USM user 'username', plaintext GetNextRequest"),
    ("pptp_sccrq_gre", "pcapplusplus/GrePackets.cap", 5, "PPTP SCCRQ, host 'local', vendor 'ixia'"),
    ("pptp_sccrp_gre", "pcapplusplus/GrePackets.cap", 6, "PPTP SCCRP, host 'ixro-smdev-r1', vendor 'Cisco Systems, Inc.'"),
    ("pptp_ocrq_gre", "pcapplusplus/GrePackets.cap", 8, "PPTP Outgoing-Call-Request"),
    ("gre_pap", "pcapplusplus/GrePackets.cap", 16, "GREv1/PPP PAP Authenticate-Request, password 'ixia'"),
    ("pptp_sccrq_ndpi", "ndpi/pptp.pcap", 3, "PPTP SCCRQ, host 'local', vendor 'cananian'"),
    ("pptp_sccrp_ndpi", "ndpi/pptp.pcap", 5, "PPTP SCCRP, empty host, vendor 'Microsoft'"),
    ("ftp_password", "zeek/var-services-std-ports.pcap", 181, "FTP '331 Password required for jsiwek.'"),
    # Tunnels: what they carry (tests/unit/tunnels/test_inner.cpp) and the rule fields of
    # their IDs (tests/unit/rules/test_fields.cpp).
    ("pptp_ocrp_gre", "pcapplusplus/GrePackets.cap", 9, "PPTP Outgoing-Call-Reply, call ID 24, peer's call ID 1"),
    ("gre_ppp_icmp", "pcapplusplus/GrePackets.cap", 25, "GREv1 (call ID 24)/PPP/IPv4/ICMP echo"),
    ("gre_in_gre_rip", "pcapplusplus/GrePackets.pcap", 4, "Ethernet/IPv4/GREv0/IPv4/GREv0/IPv4/UDP RIP"),
    ("gre_4in6_ppp_dns", "pcapplusplus/GrePackets.pcap", 5, "Ethernet/802.1Q/IPv6/IPv4/GREv1/PPP/IPv4/UDP DNS"),
    ("gre_teb_tcp", "pcapplusplus/GrePackets.pcap", 6, "Ethernet/IPv4/GREv0 TEB/Ethernet/IPv4/TCP"),
    ("erspan_i", "tcpdump/erspan-type-i-1.pcap", 0, "Ethernet/IPv4/GRE/ERSPAN type I/Ethernet/802.1Q/IPv4/ICMP"),
    ("erspan_ii", "tcpdump/erspan-type-ii-1.pcap", 0, "Ethernet/IPv4/GRE/ERSPAN type II/Ethernet/IPv4/PIM"),
    ("erspan_iii_raw", "tcpdump/erspan-type-iii-pb-1.pcap", 0, "raw IPv6 (no link layer)/destination options/GRE/ERSPAN type III with platform subheader"),
]

out = ["// Frames cut unchanged from the captures in /work/shared/pcaps (see SOURCES.md there for",
       "// origin and licence), by make_capture_frames.py. Each array is the whole link-layer frame.",
       "#pragma once", "", "#include <array>", "#include <cstdint>", "", "namespace capture {", ""]
for name, path, index, what in FRAMES:
    data = bytes(rdpcap("../shared/pcaps/" + path)[index])
    out.append(f"// {what}: frame {index} (0-based) of {path}.")
    out.append(f"inline constexpr std::array<std::uint8_t, {len(data)}> {name}_frame = {{")
    for i in range(0, len(data), 16):
        out.append("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 16]))
    out.append("};")
    out.append("")
out.append("}  // namespace capture")
open("tests/support/capture_frames.hpp", "w").write("\n".join(out) + "\n")
