#!/usr/bin/python3
# Regenerates rules_frames.hpp: frames cut unchanged from the shared captures (run from the
# worktree root with ../shared beside it; /usr/bin/python3 has scapy).
import sys
from scapy.utils import rdpcap, PcapReader

FRAMES = [
    ("ntp_monlist", "ndpi/NTPv2.pcap", 0, "NTPv2 mode 7 request code 42 (MON_GETLIST_1)"),
    ("ntp_mode7_other", "tcpdump/ntp-mode7.pcap", 0, "NTPv2 mode 7 request code 28"),
    ("ntp_control", "tcpdump/ntp-control.pcap", 0, "NTPv2 mode 6 control, opcode 2 (read variables)"),
    ("ntp_client", "ndpi/NTPv4.pcap", 0, "NTPv4 mode 3 client"),
    ("snmp_v1_set", "zeek/snmp/snmpv1_set.pcap", 0, "SNMPv1 SetRequest, empty community"),
    ("snmp_v1_public", "zeek/snmp/snmpv1_get.pcap", 0, "SNMPv1 GetRequest, community public"),
    ("snmp_v3_get_next", "zeek/snmp/snmpv3_get_next.pcap", 2, "SNMPv3 USM user 'username', plaintext GetNextRequest"),
    ("pptp_sccrq_gre", "pcapplusplus/GrePackets.cap", 5, "PPTP SCCRQ, host 'local', vendor 'ixia'"),
    ("pptp_sccrp_gre", "pcapplusplus/GrePackets.cap", 6, "PPTP SCCRP, host 'ixro-smdev-r1', vendor 'Cisco Systems, Inc.'"),
    ("pptp_ocrq_gre", "pcapplusplus/GrePackets.cap", 8, "PPTP Outgoing-Call-Request"),
    ("gre_pap", "pcapplusplus/GrePackets.cap", 16, "GREv1/PPP PAP Authenticate-Request, password 'ixia'"),
    ("pptp_sccrq_ndpi", "ndpi/pptp.pcap", 3, "PPTP SCCRQ, host 'local', vendor 'cananian'"),
    ("pptp_sccrp_ndpi", "ndpi/pptp.pcap", 5, "PPTP SCCRP, empty host, vendor 'Microsoft'"),
    ("l2tp_data_pppoe", "packetnet/l2tp.pcap", 0, "PPPoE/IPv4/UDP L2TPv2 data message (PPP LCP)"),
    ("ftp_password", "zeek/var-services-std-ports.pcap", 181, "FTP '331 Password required for jsiwek.'"),
]

out = ["// Frames cut unchanged from the captures in /work/shared/pcaps (see SOURCES.md there for",
       "// origin and licence), by make_frames.py. Each array is the whole link-layer frame.",
       "#pragma once", "", "#include <array>", "#include <cstdint>", "", "namespace rules_capture {", ""]
for name, path, index, what in FRAMES:
    pkts = rdpcap("../shared/pcaps/" + path)
    data = bytes(pkts[index])
    out.append(f"// {what}: frame {index} (0-based) of {path}.")
    out.append(f"inline constexpr std::array<std::uint8_t, {len(data)}> {name}_frame = {{")
    for i in range(0, len(data), 16):
        out.append("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 16]))
    out.append("};")
    out.append("")
out.append("}  // namespace rules_capture")
open("tests/unit/rules/rules_frames.hpp", "w").write("\n".join(out) + "\n")
