// Field extraction on real frames (cut from the shared captures) and on frames built byte by
// byte; every frame is classified first, as the engine and ports-analyze do.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "capture_frames.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/fields.hpp"
#include "trafficgen.hpp"

using namespace ports;
using pipelines::traffic_class;
using rules::field;

namespace {

template <class Frame>
parsers::byte_span span_of(const Frame& f) {
    return parsers::byte_span(f.data(), f.size());
}

// Classify, then extract everything.
template <class Frame>
rules::field_values extract(const Frame& f, traffic_class expected) {
    const auto s = span_of(f);
    const auto c = pipelines::classify_frame(s);
    EXPECT_EQ(c.cls, expected);
    return rules::extract_frame(s, c.cls, rules::all_fields);
}

std::string text(const rules::field_values& v, field f) {
    const auto s = v.text_of(f);
    return std::string(s.begin(), s.end());
}

bool inside(parsers::byte_span inner, parsers::byte_span outer) {
    return inner.empty() || (inner.data() >= outer.data() &&
                             inner.data() + inner.size() <= outer.data() + outer.size());
}

TEST(Fields, NtpMonlistFromCapture) {
    const auto v = extract(capture::ntp_monlist_frame, traffic_class::ntp);
    ASSERT_TRUE(v.has(field::ntp_mode));
    EXPECT_EQ(v.number_of(field::ntp_mode), 7u);
    EXPECT_EQ(v.number_of(field::ntp_version), 2u);
    ASSERT_TRUE(v.has(field::ntp_request_code));
    EXPECT_EQ(v.number_of(field::ntp_request_code), 42u);
    ASSERT_TRUE(v.has(field::payload));
    // The payload is the UDP payload: its first octet is the NTP LI/VN/mode octet.
    EXPECT_EQ(v.text_of(field::payload)[0] & 0x07, 7);
    EXPECT_TRUE(inside(v.text_of(field::payload), span_of(capture::ntp_monlist_frame)));
    EXPECT_FALSE(v.has(field::snmp_community));
}

TEST(Fields, NtpMode7OtherRequestCode) {
    const auto v = extract(capture::ntp_mode7_other_frame, traffic_class::ntp);
    EXPECT_EQ(v.number_of(field::ntp_mode), 7u);
    EXPECT_EQ(v.number_of(field::ntp_request_code), 28u);
}

TEST(Fields, NtpControlHasNoRequestCode) {
    const auto v = extract(capture::ntp_control_frame, traffic_class::ntp);
    EXPECT_EQ(v.number_of(field::ntp_mode), 6u);
    EXPECT_EQ(v.number_of(field::ntp_version), 2u);
    EXPECT_FALSE(v.has(field::ntp_request_code));
}

TEST(Fields, NtpClient) {
    const auto v = extract(capture::ntp_v4_client_frame, traffic_class::ntp);
    EXPECT_EQ(v.number_of(field::ntp_mode), 3u);
    EXPECT_EQ(v.number_of(field::ntp_version), 4u);
    EXPECT_FALSE(v.has(field::ntp_request_code));
    EXPECT_EQ(v.text_of(field::payload).size(), 48u);
}

TEST(Fields, SnmpV1SetFromCapture) {
    const auto v = extract(capture::snmp_v1_set_frame, traffic_class::snmp);
    ASSERT_TRUE(v.has(field::snmp_community));
    EXPECT_EQ(text(v, field::snmp_community), "");  // this capture's community is empty
    ASSERT_TRUE(v.has(field::snmp_pdu));
    EXPECT_EQ(v.number_of(field::snmp_pdu), 3u);
    EXPECT_EQ(text(v, field::snmp_pdu), "set");
    EXPECT_FALSE(v.has(field::snmp_user));
}

TEST(Fields, SnmpV1PublicFromCapture) {
    const auto v = extract(capture::snmp_v1_public_frame, traffic_class::snmp);
    EXPECT_EQ(text(v, field::snmp_community), "public");
    EXPECT_TRUE(inside(v.text_of(field::snmp_community), span_of(capture::snmp_v1_public_frame)));
    EXPECT_EQ(text(v, field::snmp_pdu), "get");
}

TEST(Fields, SnmpV3UserFromCapture) {
    const auto v = extract(capture::snmp_v3_get_next_frame, traffic_class::snmp);
    ASSERT_TRUE(v.has(field::snmp_user));
    EXPECT_EQ(text(v, field::snmp_user), "username");
    EXPECT_FALSE(v.has(field::snmp_community));
    EXPECT_EQ(text(v, field::snmp_pdu), "get-next");
    EXPECT_EQ(v.number_of(field::snmp_pdu), 1u);
}

TEST(Fields, PptpSccrqFromGreCapture) {
    const auto v = extract(capture::pptp_sccrq_gre_frame, traffic_class::pptp);
    EXPECT_EQ(text(v, field::pptp_hostname), "local");
    EXPECT_EQ(text(v, field::pptp_vendor), "ixia");
    EXPECT_EQ(v.number_of(field::pptp_control_type), 1u);
}

TEST(Fields, PptpSccrpFromGreCapture) {
    const auto v = extract(capture::pptp_sccrp_gre_frame, traffic_class::pptp);
    EXPECT_EQ(text(v, field::pptp_hostname), "ixro-smdev-r1");
    EXPECT_EQ(text(v, field::pptp_vendor), "Cisco Systems, Inc.");
    EXPECT_EQ(v.number_of(field::pptp_control_type), 2u);
}

TEST(Fields, PptpOtherControlMessageHasNoHostName) {
    const auto v = extract(capture::pptp_ocrq_gre_frame, traffic_class::pptp);
    EXPECT_FALSE(v.has(field::pptp_hostname));
    EXPECT_FALSE(v.has(field::pptp_vendor));
    EXPECT_EQ(v.number_of(field::pptp_control_type), 7u);
}

TEST(Fields, PptpFromNdpiCapture) {
    const auto q = extract(capture::pptp_sccrq_ndpi_frame, traffic_class::pptp);
    EXPECT_EQ(text(q, field::pptp_hostname), "local");
    EXPECT_EQ(text(q, field::pptp_vendor), "cananian");
    const auto p = extract(capture::pptp_sccrp_ndpi_frame, traffic_class::pptp);
    ASSERT_TRUE(p.has(field::pptp_hostname));
    EXPECT_EQ(text(p, field::pptp_hostname), "");
    EXPECT_EQ(text(p, field::pptp_vendor), "Microsoft");
}

TEST(Fields, GrePayloadIsAfterTheGreHeader) {
    const auto v = extract(capture::gre_pap_frame, traffic_class::gre);
    const auto p = v.text_of(field::payload);
    ASSERT_GE(p.size(), 4u);
    // PPP in HDLC-like framing, protocol 0xC023 (PAP), carrying the password in clear.
    EXPECT_EQ(p[0], 0xff);
    EXPECT_EQ(p[1], 0x03);
    EXPECT_EQ(p[2], 0xc0);
    EXPECT_EQ(p[3], 0x23);
    EXPECT_NE(text(v, field::payload).find("ixia"), std::string::npos);
}

TEST(Fields, L2tpDataHasNoHostName) {
    const auto v = extract(capture::l2tp_pppoe_frame, traffic_class::l2tp);
    EXPECT_FALSE(v.has(field::l2tp_hostname));
    EXPECT_TRUE(v.has(field::payload));
}

// Tunnel IDs (the values TShark reads there: pptp.call_id, pptp.peer_call_id,
// gre.key.call_id, l2tp.tunnel, l2tp.session).

TEST(Fields, PptpCallIdOfCallMessagesFromCapture) {
    // GrePackets.cap: the PNS's OCRQ names its call ID 1, the PAC's OCRP its own, 24.
    const auto q = extract(capture::pptp_ocrq_gre_frame, traffic_class::pptp);
    ASSERT_TRUE(q.has(field::pptp_call_id));
    EXPECT_EQ(q.number_of(field::pptp_call_id), 1u);
    const auto p = extract(capture::pptp_ocrp_gre_frame, traffic_class::pptp);
    ASSERT_TRUE(p.has(field::pptp_call_id));
    EXPECT_EQ(p.number_of(field::pptp_call_id), 24u);
    EXPECT_EQ(p.number_of(field::pptp_control_type), 8u);
    // Control-connection messages name no call.
    EXPECT_FALSE(
        extract(capture::pptp_sccrq_gre_frame, traffic_class::pptp).has(field::pptp_call_id));
}

TEST(Fields, PptpCallIdOfGreV1FromCapture) {
    // The GRE v1 header's call ID: the receiver's, 24 (the PAC's) on this PAP request.
    const auto v = extract(capture::gre_pap_frame, traffic_class::gre);
    ASSERT_TRUE(v.has(field::pptp_call_id));
    EXPECT_EQ(v.number_of(field::pptp_call_id), 24u);
    EXPECT_EQ(
        extract(capture::gre_ppp_icmp_frame, traffic_class::gre).number_of(field::pptp_call_id),
        24u);
    // GRE v0 has no call ID.
    EXPECT_FALSE(extract(capture::gre_v0_cks_frame, traffic_class::gre).has(field::pptp_call_id));
    EXPECT_FALSE(extract(capture::gre_v0_cks_frame, traffic_class::gre).has(field::l2tp_tunnel_id));
}

TEST(Fields, L2tpV2IdsFromCapture) {
    const auto v = extract(capture::l2tp_pppoe_frame, traffic_class::l2tp);
    ASSERT_TRUE(v.has(field::l2tp_tunnel_id));
    ASSERT_TRUE(v.has(field::l2tp_session_id));
    EXPECT_EQ(v.number_of(field::l2tp_tunnel_id), 18994u);
    EXPECT_EQ(v.number_of(field::l2tp_session_id), 54110u);
    EXPECT_FALSE(v.has(field::pptp_call_id));
}

TEST(Fields, L2tpV2ControlIdsHandBuilt) {
    gen::endpoint_options ep;
    ep.dst_port = 1701;
    // An SCCRQ goes to tunnel 0, session 0 (the peer's IDs are not known yet).
    const auto v = extract(gen::udp_frame(ep, gen::l2tp_v2_sccrq(7, "lac")), traffic_class::l2tp);
    ASSERT_TRUE(v.has(field::l2tp_tunnel_id));
    EXPECT_EQ(v.number_of(field::l2tp_tunnel_id), 0u);
    EXPECT_EQ(v.number_of(field::l2tp_session_id), 0u);
}

TEST(Fields, L2tpV3IdsHandBuilt) {
    gen::endpoint_options ep;
    ep.dst_port = 1701;
    // Control over UDP: the header's Control Connection ID (0 on an SCCRQ), no session ID.
    const auto c =
        extract(gen::udp_frame(ep, gen::l2tp_v3_udp_sccrq("lcce", 9)), traffic_class::l2tp);
    EXPECT_TRUE(c.has(field::l2tp_tunnel_id));
    EXPECT_FALSE(c.has(field::l2tp_session_id));
    // Data over UDP: the 32-bit session ID, no tunnel ID.
    const std::uint8_t l2[] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x06};
    const auto d =
        extract(gen::udp_frame(ep, gen::l2tp_v3_udp_data(0xDEADBEEF, l2)), traffic_class::l2tp);
    ASSERT_TRUE(d.has(field::l2tp_session_id));
    EXPECT_EQ(d.number_of(field::l2tp_session_id), 0xDEADBEEFu);
    EXPECT_FALSE(d.has(field::l2tp_tunnel_id));
}

TEST(Fields, FtpPayloadFromCapture) {
    const auto v = extract(capture::ftp_password_frame, traffic_class::other);
    EXPECT_EQ(text(v, field::payload), "331 Password required for jsiwek.\r\n");
}

// Hand-built frames.

TEST(Fields, L2tpSccrqHostName) {
    gen::endpoint_options ep;
    ep.src_port = 1701;
    ep.dst_port = 1701;
    const auto f = gen::udp_frame(ep, gen::l2tp_v2_sccrq(7, "lac.example.net"));
    const auto v = extract(f, traffic_class::l2tp);
    EXPECT_EQ(text(v, field::l2tp_hostname), "lac.example.net");
}

TEST(Fields, L2tpV3SccrqHostNameOverIpv6) {
    gen::endpoint_options ep;
    ep.ipv6 = true;
    ep.dst_port = 1701;
    const auto f = gen::udp_frame(ep, gen::l2tp_v3_udp_sccrq("lcce-3", 9));
    const auto v = extract(f, traffic_class::l2tp);
    EXPECT_EQ(text(v, field::l2tp_hostname), "lcce-3");
}

TEST(Fields, L2tpHiddenHostNameIsNotRead) {
    const gen::bytes name = {'s', 'e', 'c', 'r', 'e', 't'};
    gen::bytes hidden = gen::l2tp_avp(true, 7, name);
    hidden[0] |= 0x40;  // H bit: the value is encrypted
    const gen::bytes msg_type = gen::l2tp_avp(true, 0, gen::bytes{0, 1});
    gen::bytes avps = msg_type;
    avps.insert(avps.end(), hidden.begin(), hidden.end());
    gen::endpoint_options ep;
    ep.dst_port = 1701;
    const auto f = gen::udp_frame(ep, gen::l2tp_v2_control(1, 0, 0, 0, avps));
    const auto v = extract(f, traffic_class::l2tp);
    EXPECT_FALSE(v.has(field::l2tp_hostname));
}

TEST(Fields, L2tpOverTcpHostName) {
    gen::endpoint_options ep;
    ep.dst_port = 1701;
    const auto f = gen::tcp_frame(ep, {}, gen::l2tp_v2_sccrq(7, "over-tcp"));
    const auto v = extract(f, traffic_class::l2tp);
    EXPECT_EQ(text(v, field::l2tp_hostname), "over-tcp");
}

TEST(Fields, PptpFieldsFullLengthAreNotNulTerminated) {
    const std::string host(64, 'h');
    const std::string vendor(64, 'v');
    gen::endpoint_options ep;
    ep.dst_port = 1723;
    const auto f = gen::tcp_frame(ep, {}, gen::pptp_sccrq(host, vendor));
    const auto v = extract(f, traffic_class::pptp);
    EXPECT_EQ(text(v, field::pptp_hostname), host);
    EXPECT_EQ(text(v, field::pptp_vendor), vendor);
}

TEST(Fields, SnmpTrapCommunityAndEncryptedV3) {
    gen::endpoint_options ep;
    ep.dst_port = 162;
    const auto trap = gen::udp_frame(ep, gen::snmp_v2c_trap("private", 5, 100));
    const auto t = extract(trap, traffic_class::snmp_trap);
    EXPECT_EQ(text(t, field::snmp_community), "private");
    EXPECT_EQ(text(t, field::snmp_pdu), "trap-v2");

    ep.dst_port = 161;
    const gen::bytes cipher(32, 0xAB);
    const auto enc = gen::udp_frame(ep, gen::snmp_v3_encrypted("alice", 3, cipher));
    const auto e = extract(enc, traffic_class::snmp);
    EXPECT_EQ(text(e, field::snmp_user), "alice");
    EXPECT_FALSE(e.has(field::snmp_pdu));
}

TEST(Fields, OnlyTheFieldsAskedFor) {
    const auto s = span_of(capture::ntp_monlist_frame);
    const auto v = rules::extract_frame(s, traffic_class::ntp, rules::bit(field::ntp_request_code));
    EXPECT_EQ(v.present, rules::bit(field::ntp_request_code));
}

TEST(Fields, MalformedOrFragmentGivesPayloadOnly) {
    gen::endpoint_options ep;
    ep.dst_port = 161;
    // A first fragment of an SNMP datagram: the class is known, the message is not whole.
    const auto msg = gen::snmp_v1_get_request("public", 1);
    const auto udp = gen::udp_datagram(ep, msg);
    const auto ip = gen::ip_packet(ep, gen::ipproto_udp, gen::byte_view(udp).first(24),
                                   gen::ip_fragment{0, true});
    const auto f = gen::ethernet_frame(ep, gen::ethertype_ipv4, ip);
    const auto v = extract(f, traffic_class::snmp);
    EXPECT_TRUE(v.has(field::payload));
    EXPECT_FALSE(v.has(field::snmp_community));

    // A message the parser rejects: no field but the payload.
    gen::bytes bad = msg;
    bad[0] = 0x31;
    const auto b = extract(gen::udp_frame(ep, bad), traffic_class::snmp);
    EXPECT_TRUE(b.has(field::payload));
    EXPECT_FALSE(b.has(field::snmp_community));
}

TEST(Fields, NonIpHasNothing) {
    gen::endpoint_options ep;
    const auto f = gen::arp_request_frame(ep);
    const auto v = extract(f, traffic_class::other);
    EXPECT_EQ(v.present, 0u);
}

// Every prefix of real frames, each in its own heap block: no read past the end (ASan), and
// every span inside the frame.
TEST(Fields, EveryPrefixStaysInside) {
    const parsers::byte_span frames[] = {
        span_of(capture::ntp_monlist_frame),    span_of(capture::snmp_v3_get_next_frame),
        span_of(capture::pptp_sccrq_gre_frame), span_of(capture::gre_pap_frame),
        span_of(capture::l2tp_pppoe_frame),     span_of(capture::snmp_v1_set_frame)};
    for (const auto full : frames) {
        for (std::size_t n = 0; n <= full.size(); ++n) {
            std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[n == 0 ? 1 : n]);
            std::copy(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n), copy.get());
            const parsers::byte_span s(copy.get(), n);
            for (std::size_t c = 0; c < pipelines::class_count; ++c) {
                const auto v =
                    rules::extract_frame(s, static_cast<traffic_class>(c), rules::all_fields);
                for (std::size_t f = 0; f < rules::field_count; ++f) {
                    const auto fld = static_cast<field>(f);
                    if (v.has(fld) && rules::field_has_text(fld) && fld != field::snmp_pdu) {
                        EXPECT_TRUE(inside(v.text_of(fld), s));
                    }
                }
            }
        }
    }
}

}  // namespace
