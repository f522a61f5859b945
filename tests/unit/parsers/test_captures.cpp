// Whole frames from real captures, walked the way the classifier walks them: link layer,
// network, transport, then the application parser.
#include <gtest/gtest.h>

#include <string_view>

#include "capture_frames.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
#include "ports/parsers/snmp.hpp"
#include "ports/parsers/tunnels.hpp"
#include "test_util.hpp"

namespace {

using namespace ports::parsers;
using namespace ptest;

byte_span l4_of(byte_span frame, const layers& l) { return frame.subspan(l.l4_offset, l.l4_length); }

byte_span udp_payload_of(byte_span frame) {
    const layers l = parse_ethernet(frame);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    const udp_view u = parse_udp(l4_of(frame, l));
    EXPECT_EQ(u.st, status::ok);
    return u.payload;
}

std::string_view text(byte_span s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

// ---- NTP ----

TEST(CaptureNtp, V4Client) {
    const ntp_view v = parse_ntp(udp_payload_of(capture::ntp_v4_client_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 4);
    EXPECT_EQ(v.mode, ntp_mode::client);
    EXPECT_EQ(v.stratum, 2);
    EXPECT_EQ(v.refid, 0x83bc03dfu);
    EXPECT_EQ(v.transmit_ts, 0xd94f51f42d26e2f4ull);
    EXPECT_FALSE(v.has_mac);
    EXPECT_FALSE(v.sntp_request);  // a full client: stratum, poll and timestamps are set
}

TEST(CaptureNtp, Ipv6WithMd5Mac) {
    const byte_span frame = capture::ntp_v4_mac16_frame;
    const layers l = parse_ethernet(frame);
    EXPECT_EQ(l.l3, l3_kind::ipv6);
    const ntp_view v = parse_ntp(udp_payload_of(frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_key_id, 1u);
    EXPECT_EQ(v.mac_digest_length, 16);
    EXPECT_EQ(v.mac_offset, 48);
}

TEST(CaptureNtp, Ipv6WithSha1Mac) {
    const ntp_view v = parse_ntp(udp_payload_of(capture::ntp_v4_mac20_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.mode, ntp_mode::server);
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_key_id, 11u);
    EXPECT_EQ(v.mac_digest_length, 20);
}

TEST(CaptureNtp, Mode6ReadStatus) {
    const ntp_view v = parse_ntp(udp_payload_of(capture::ntp_mode67_a_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 2);
    EXPECT_EQ(v.mode, ntp_mode::control);
    EXPECT_EQ(v.control_opcode, 1);
    EXPECT_EQ(v.control_count, 0);
}

TEST(CaptureNtp, Mode7PeerList) {
    const ntp_view v = parse_ntp(udp_payload_of(capture::ntp_mode67_b_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.mode, ntp_mode::private_);
    EXPECT_EQ(v.implementation, 3);
    EXPECT_EQ(v.request_code, 1);
}

// ---- GRE ----

TEST(CaptureGre, V1OverVlanWithSequenceAndAck) {
    const byte_span frame = capture::gre_v1_vlan_frame;
    const layers l = parse_ethernet(frame);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.vlan_count, 1);
    EXPECT_EQ(l.l4_proto, ipproto_gre);
    const gre_view g = parse_gre(l4_of(frame, l));
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.version, 1);
    EXPECT_EQ(g.payload_length, 330);
    EXPECT_EQ(g.call_id, 0x9850);
    EXPECT_EQ(g.sequence, 0x6au);
    EXPECT_EQ(g.ack, 0x8cu);
    EXPECT_EQ(g.payload.size(), 330u);
    EXPECT_EQ(g.payload[0], 0xff);  // PPP address
}

TEST(CaptureGre, V1AckOnly) {
    const byte_span frame = capture::gre_v1_ack_only_frame;
    const layers l = parse_ethernet(frame);
    const gre_view g = parse_gre(l4_of(frame, l));
    EXPECT_EQ(g.st, status::ok);
    EXPECT_FALSE(g.sequence_present);
    EXPECT_TRUE(g.ack_present);
    EXPECT_EQ(g.call_id, 6);
    EXPECT_EQ(g.ack, 0x1au);
    EXPECT_TRUE(g.payload.empty());
}

TEST(CaptureGre, V0ChecksumKeySequence) {
    const byte_span frame = capture::gre_v0_cks_frame;
    const layers l = parse_ethernet(frame);
    const gre_view g = parse_gre(l4_of(frame, l));
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.checksum, 0x6e7c);
    EXPECT_EQ(g.key, 0x0001d97cu);
    EXPECT_EQ(g.sequence, 5u);
    EXPECT_EQ(g.protocol, 0x0800);
    const layers inner = parse_l3(g.protocol, g.payload);
    EXPECT_EQ(inner.st, status::ok);
    EXPECT_EQ(inner.l4_proto, 1);  // ICMP
}

// ---- L2TP ----

TEST(CaptureL2tp, V2DataWithOffsetAndPriorityInsidePppoe) {
    // Ethernet, PPPoE session (6 bytes), PPP protocol 0x0021 (2 bytes), then IPv4.
    const byte_span frame = capture::l2tp_pppoe_frame;
    const layers outer = parse_ethernet(frame);
    EXPECT_EQ(outer.l3, l3_kind::ipv4);
    EXPECT_TRUE(outer.pppoe);
    EXPECT_EQ(outer.l3_offset, 14 + 8);
    const byte_span ip = frame.subspan(14 + 8);
    const layers l = parse_l3(ethertype_ipv4, ip);
    ASSERT_EQ(l.st, status::ok);
    const udp_view u = parse_udp(ip.subspan(l.l4_offset, l.l4_length));
    EXPECT_EQ(u.dst_port, 1701);
    const l2tp_view v = parse_l2tp(u.payload);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 2);
    EXPECT_FALSE(v.control);
    EXPECT_TRUE(v.offset_present);
    EXPECT_TRUE(v.priority);
    EXPECT_EQ(v.tunnel_id, 0x4a32u);
    EXPECT_EQ(v.session_id, 0xd35eu);
    EXPECT_EQ(v.header_length, 8);
    ASSERT_GE(v.body.size(), 4u);
    EXPECT_EQ(v.body[2], 0xc0);  // PPP LCP
}

// ---- PPTP ----

TEST(CapturePptp, StartControlConnectionRequest) {
    const byte_span frame = capture::pptp_sccrq_frame;
    const layers l = parse_ethernet(frame);
    ASSERT_EQ(l.l4_proto, ipproto_tcp);
    const tcp_view t = parse_tcp(l4_of(frame, l));
    EXPECT_EQ(t.dst_port, 1723);
    const pptp_view v = parse_pptp(t.payload);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.length, 156);
    EXPECT_EQ(v.control_type, 1);
}

TEST(CapturePptp, OutgoingCallRequest) {
    const byte_span frame = capture::pptp_ocrq_frame;
    const layers l = parse_ethernet(frame);
    const pptp_view v = parse_pptp(parse_tcp(l4_of(frame, l)).payload);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.length, 168);
    EXPECT_EQ(v.control_type, 7);
}

// ---- SNMP ----

TEST(CaptureSnmp, V1Get) {
    const snmp_view v = parse_snmp(udp_payload_of(capture::snmp_v1_get_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 0);
    EXPECT_EQ(text(v.community), "public");
    EXPECT_EQ(v.pdu_type, snmp_pdu_get);
    EXPECT_EQ(v.request_id, 0x4b781a6f);
}

TEST(CaptureSnmp, V2cGetNext) {
    const snmp_view v = parse_snmp(udp_payload_of(capture::snmp_v2c_get_next_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 1);
    EXPECT_EQ(v.pdu_type, snmp_pdu_get_next);
    EXPECT_EQ(v.request_id, 0x5067d65c);
}

TEST(CaptureSnmp, V1Trap) {
    const snmp_view v = parse_snmp(udp_payload_of(capture::snmp_v1_trap_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 0);
    EXPECT_EQ(v.pdu_type, snmp_pdu_trap_v1);
    EXPECT_FALSE(v.has_request_id);
}

TEST(CaptureSnmp, V2Trap) {
    const snmp_view v = parse_snmp(udp_payload_of(capture::snmp_v2_trap_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 1);
    EXPECT_EQ(text(v.community), "public2c");
    EXPECT_EQ(v.pdu_type, snmp_pdu_trap_v2);
    EXPECT_EQ(v.request_id, 0x1c);
}

TEST(CaptureSnmp, V3PlaintextUserName) {
    const snmp_view v = parse_snmp(udp_payload_of(capture::snmp_v3_plain_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 3);
    EXPECT_EQ(v.msg_id, 0x5ba2a823);
    EXPECT_EQ(v.msg_flags, 0x04);
    EXPECT_EQ(v.security_model, 3);
    EXPECT_EQ(text(v.user_name), "NOAUTHNOPRIV");
    EXPECT_FALSE(v.encrypted);
    EXPECT_NE(v.pdu_type, 0);
    EXPECT_TRUE(v.has_request_id);
}

TEST(CaptureSnmp, V3Encrypted) {
    const snmp_view v = parse_snmp(udp_payload_of(capture::snmp_v3_encrypted_frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.msg_flags, 0x07);
    EXPECT_TRUE(v.encrypted);
    EXPECT_EQ(v.pdu_type, 0);
    EXPECT_FALSE(v.user_name.empty());
}

TEST(CaptureSnmp, V2cResponseOverVlan) {
    const byte_span frame = capture::snmp_v2c_vlan_frame;
    EXPECT_EQ(parse_ethernet(frame).vlan_count, 1);
    const snmp_view v = parse_snmp(udp_payload_of(frame));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.pdu_type, snmp_pdu_response);
    EXPECT_EQ(v.request_id, 0x26127dbf);
}

// Every prefix of every captured frame: the walk never reads past the cut and never claims a
// whole application message where bytes are missing.
TEST(CaptureCuts, NoPrefixReadsPastItsEnd) {
    const byte_span frames[] = {
        capture::ntp_v4_mac16_frame, capture::gre_v1_vlan_frame, capture::gre_v0_cks_frame,
        capture::pptp_sccrq_frame, capture::snmp_v3_plain_frame, capture::snmp_v1_trap_frame,
    };
    for (const byte_span full : frames) {
        const bytes b(full.begin(), full.end());
        for (std::size_t n = 0; n < b.size(); ++n) {
            const exact_copy c(b, n);
            const byte_span s = c.span();
            const layers l = parse_ethernet(s);
            if (l.st != status::ok || l.l4_offset == 0) {
                continue;
            }
            ASSERT_LE(l.l4_offset + l.l4_length, n);
            const byte_span l4 = s.subspan(l.l4_offset, l.l4_length);
            if (l.l4_proto == ipproto_udp) {
                const udp_view u = parse_udp(l4);
                EXPECT_TRUE(within(u.payload, s));
                EXPECT_NE(u.st, status::ok) << n;  // the IP datagram is cut, so UDP's length lies
                const snmp_view v = parse_snmp(u.payload);
                EXPECT_NE(v.st, status::ok) << n;
            } else if (l.l4_proto == ipproto_tcp) {
                const tcp_view t = parse_tcp(l4);
                if (t.st == status::ok) {
                    EXPECT_NE(parse_pptp(t.payload).st, status::ok) << n;
                }
            } else if (l.l4_proto == ipproto_gre) {
                const gre_view g = parse_gre(l4);
                EXPECT_TRUE(within(g.payload, s));
                if (g.version == 1) {
                    EXPECT_NE(g.st, status::ok) << n;
                }
            }
        }
    }
}

}  // namespace
