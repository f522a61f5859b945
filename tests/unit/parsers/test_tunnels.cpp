// GRE v0 (RFC 2784/2890) and v1 (RFC 2637), L2TPv2 (RFC 2661), L2TPv3 over UDP (RFC 3931),
// PPTP control messages (RFC 2637).
#include <gtest/gtest.h>

#include <utility>

#include "ports/parsers/tunnels.hpp"
#include "test_util.hpp"

namespace {

using namespace ports::parsers;
using namespace ptest;

// ---- GRE v0 ----

const bytes gre_v0_cks = {
    0xb0, 0x00, 0x08, 0x00,  // C, K, S; version 0; protocol IPv4
    0x12, 0x34, 0x00, 0x00,  // checksum, reserved1
    0x00, 0x00, 0x00, 0x2a,  // key 42
    0x00, 0x00, 0x00, 0x07,  // sequence 7
    0x45, 0x00, 0x00, 0x14,  // first bytes of the inner IPv4 header
};

TEST(GreV0, ChecksumKeySequenceFieldByField) {
    const gre_view g = parse_gre(gre_v0_cks);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.version, 0);
    EXPECT_TRUE(g.checksum_present);
    EXPECT_FALSE(g.routing_present);
    EXPECT_TRUE(g.key_present);
    EXPECT_TRUE(g.sequence_present);
    EXPECT_FALSE(g.ack_present);
    EXPECT_EQ(g.protocol, 0x0800);
    EXPECT_EQ(g.checksum, 0x1234);
    EXPECT_EQ(g.key, 42u);
    EXPECT_EQ(g.sequence, 7u);
    EXPECT_EQ(g.header_length, 16);
    ASSERT_EQ(g.payload.size(), 4u);
    EXPECT_EQ(g.payload[0], 0x45);
}

TEST(GreV0, BareHeader) {
    const bytes b = {0x00, 0x00, 0x65, 0x58, 0xaa};  // transparent Ethernet bridging
    const gre_view g = parse_gre(b);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.protocol, gre_proto_teb);
    EXPECT_EQ(g.header_length, 4);
    EXPECT_EQ(g.payload.size(), 1u);
}

TEST(GreV0, KeyOnlyComesRightAfterTheBaseHeader) {
    const bytes b = {0x20, 0x00, 0x88, 0xbe, 0xde, 0xad, 0xbe, 0xef};
    const gre_view g = parse_gre(b);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.key, 0xdeadbeefu);
    EXPECT_EQ(g.header_length, 8);
}

TEST(GreV0, SequenceOnly) {
    const bytes b = {0x10, 0x00, 0x22, 0xeb, 0x00, 0x00, 0x01, 0x00};
    const gre_view g = parse_gre(b);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.sequence, 256u);
    EXPECT_EQ(g.key, 0u);
}

TEST(GreV0, RoutingIsUnsupported) {
    const gre_view g = parse_gre(bytes{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0});
    EXPECT_EQ(g.st, status::unsupported);
    EXPECT_TRUE(g.routing_present);
}

TEST(GreV0, ReservedFlagBitsAreBadValue) {
    for (const std::uint16_t bit : {0x0800, 0x0400, 0x0100, 0x0080, 0x0040, 0x0008}) {
        bytes b = {0x00, 0x00, 0x08, 0x00, 0, 0, 0, 0};
        put16(b, 0, bit);
        EXPECT_EQ(parse_gre(b).st, status::bad_value) << bit;
    }
}

TEST(Gre, VersionAboveOneIsBadVersion) {
    const gre_view g = parse_gre(bytes{0x00, 0x02, 0x08, 0x00});
    EXPECT_EQ(g.st, status::bad_version);
    EXPECT_EQ(g.version, 2);
}

TEST(GreV0, EveryCut) {
    for (std::size_t n = 0; n < gre_v0_cks.size(); ++n) {
        const exact_copy c(gre_v0_cks, n);
        const gre_view g = parse_gre(c.span());
        EXPECT_EQ(g.st, n < 16 ? status::truncated : status::ok) << n;
        EXPECT_TRUE(within(g.payload, c.span()));
    }
}

// ---- GRE v1 ----

const bytes gre_v1_seq_ack = {
    0x30, 0x81, 0x88, 0x0b,  // K, S; A; version 1; protocol PPP
    0x00, 0x04, 0x00, 0x2a,  // payload length 4, call id 42
    0x00, 0x00, 0x00, 0x05,  // sequence 5
    0x00, 0x00, 0x00, 0x03,  // acknowledgement 3
    0xff, 0x03, 0xc0, 0x21,  // PPP LCP
};

TEST(GreV1, SequenceAndAckFieldByField) {
    const gre_view g = parse_gre(gre_v1_seq_ack);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.version, 1);
    EXPECT_TRUE(g.key_present);
    EXPECT_TRUE(g.sequence_present);
    EXPECT_TRUE(g.ack_present);
    EXPECT_EQ(g.protocol, gre_proto_ppp);
    EXPECT_EQ(g.payload_length, 4);
    EXPECT_EQ(g.call_id, 42);
    EXPECT_EQ(g.key, 0x0004002au);
    EXPECT_EQ(g.sequence, 5u);
    EXPECT_EQ(g.ack, 3u);
    EXPECT_EQ(g.header_length, 16);
    EXPECT_EQ(g.payload.size(), 4u);
}

TEST(GreV1, AckOnly) {
    const bytes b = {0x20, 0x81, 0x88, 0x0b, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x09};
    const gre_view g = parse_gre(b);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_FALSE(g.sequence_present);
    EXPECT_TRUE(g.ack_present);
    EXPECT_EQ(g.ack, 9u);
    EXPECT_EQ(g.header_length, 12);
    EXPECT_TRUE(g.payload.empty());
}

TEST(GreV1, SequenceOnly) {
    const bytes b = {0x30, 0x01, 0x88, 0x0b, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x09, 0x7e};
    const gre_view g = parse_gre(b);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.sequence, 9u);
    EXPECT_FALSE(g.ack_present);
    EXPECT_EQ(g.payload.size(), 1u);
}

TEST(GreV1, PayloadLengthBelowBytesCutsPayload) {
    bytes b = gre_v1_seq_ack;
    put16(b, 4, 2);
    const gre_view g = parse_gre(b);
    EXPECT_EQ(g.st, status::ok);
    EXPECT_EQ(g.payload.size(), 2u);
}

TEST(GreV1, PayloadLengthPastBytesIsBadLength) {
    bytes b = gre_v1_seq_ack;
    put16(b, 4, 5);
    EXPECT_EQ(parse_gre(b).st, status::bad_length);
}

TEST(GreV1, MissingKeyIsBadValue) {
    bytes b = gre_v1_seq_ack;
    b[0] = 0x10;
    EXPECT_EQ(parse_gre(b).st, status::bad_value);
}

TEST(GreV1, ChecksumOrRoutingIsBadValue) {
    bytes c = gre_v1_seq_ack;
    c[0] |= 0x80;
    EXPECT_EQ(parse_gre(c).st, status::bad_value);
    bytes r = gre_v1_seq_ack;
    r[0] |= 0x40;
    EXPECT_EQ(parse_gre(r).st, status::bad_value);
    bytes s = gre_v1_seq_ack;
    s[0] |= 0x08;
    EXPECT_EQ(parse_gre(s).st, status::bad_value);
}

TEST(GreV1, ProtocolOtherThanPppIsBadValue) {
    bytes b = gre_v1_seq_ack;
    put16(b, 2, 0x0800);
    EXPECT_EQ(parse_gre(b).st, status::bad_value);
}

TEST(GreV1, EveryCut) {
    for (std::size_t n = 0; n < gre_v1_seq_ack.size(); ++n) {
        const exact_copy c(gre_v1_seq_ack, n);
        const gre_view g = parse_gre(c.span());
        EXPECT_EQ(g.st, n < 16 ? status::truncated : status::bad_length) << n;
        EXPECT_TRUE(within(g.payload, c.span()));
    }
}

// ---- L2TPv2 ----

// Start-Control-Connection-Request (RFC 2661 6.1).
const bytes l2tp_sccrq = {
    0xc8, 0x02, 0x00, 0x39,                          // T, L, S; version 2; length 57
    0x00, 0x00, 0x00, 0x00,                          // tunnel id 0, session id 0
    0x00, 0x00, 0x00, 0x00,                          // Ns 0, Nr 0
    0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // M, len 8: Message Type = 1 (SCCRQ)
    0x80, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00,  // Protocol Version 1.0
    0x80, 0x0b, 0x00, 0x00, 0x00, 0x07,              // Host Name, 5 bytes:
    0x6c, 0x61, 0x63, 0x2d, 0x31,                    // "lac-1"
    0x80, 0x0a, 0x00, 0x00, 0x00, 0x03,              // Framing Capabilities:
    0x00, 0x00, 0x00, 0x03,                          // sync | async
    0x80, 0x08, 0x00, 0x00, 0x00, 0x09, 0x00, 0x01,  // Assigned Tunnel ID 1
};

TEST(L2tpV2, SccrqFieldByField) {
    const l2tp_view v = parse_l2tp(l2tp_sccrq);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 2);
    EXPECT_TRUE(v.control);
    EXPECT_TRUE(v.length_present);
    EXPECT_TRUE(v.sequence_present);
    EXPECT_FALSE(v.offset_present);
    EXPECT_FALSE(v.priority);
    EXPECT_EQ(v.length, 57);
    EXPECT_EQ(v.tunnel_id, 0u);
    EXPECT_EQ(v.session_id, 0u);
    EXPECT_EQ(v.ns, 0);
    EXPECT_EQ(v.nr, 0);
    EXPECT_EQ(v.message_type, 1);
    EXPECT_EQ(v.header_length, 12);
    EXPECT_EQ(v.body.size(), 45u);
}

TEST(L2tpV2, SccrqAvpsIterate) {
    l2tp_avp_iterator it(parse_l2tp(l2tp_sccrq).body);
    const std::pair<std::uint16_t, std::size_t> want[] = {{0, 2}, {2, 2}, {7, 5}, {3, 4}, {9, 2}};
    for (const auto& [type, size] : want) {
        const std::optional<l2tp_avp> a = it.next();
        ASSERT_TRUE(a.has_value());
        EXPECT_TRUE(a->mandatory);
        EXPECT_FALSE(a->hidden);
        EXPECT_EQ(a->vendor_id, 0);
        EXPECT_EQ(a->type, type);
        EXPECT_EQ(a->value.size(), size);
    }
    EXPECT_FALSE(it.next().has_value());
    EXPECT_FALSE(it.failed());
}

TEST(L2tpV2, ZeroLengthBodyAcknowledgement) {
    const bytes zlb = {0xc8, 0x02, 0x00, 0x0c, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02};
    const l2tp_view v = parse_l2tp(zlb);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.tunnel_id, 5u);
    EXPECT_EQ(v.ns, 1);
    EXPECT_EQ(v.nr, 2);
    EXPECT_EQ(v.message_type, 0);
    EXPECT_TRUE(v.body.empty());
}

TEST(L2tpV2, ControlWithoutLengthOrSequenceIsBadValue) {
    bytes no_l = l2tp_sccrq;
    no_l[0] = 0x88;
    EXPECT_EQ(parse_l2tp(no_l).st, status::bad_value);
    bytes no_s = l2tp_sccrq;
    no_s[0] = 0xc0;
    EXPECT_EQ(parse_l2tp(no_s).st, status::bad_value);
}

TEST(L2tpV2, ControlWithOffsetOrPriorityIsBadValue) {
    bytes o = l2tp_sccrq;
    o[0] |= 0x02;
    EXPECT_EQ(parse_l2tp(o).st, status::bad_value);
    bytes p = l2tp_sccrq;
    p[0] |= 0x01;
    EXPECT_EQ(parse_l2tp(p).st, status::bad_value);
}

TEST(L2tpV2, LengthPastBytesIsBadLength) {
    bytes b = l2tp_sccrq;
    put16(b, 2, 58);
    EXPECT_EQ(parse_l2tp(b).st, status::bad_length);
}

TEST(L2tpV2, LengthBelowHeaderIsBadLength) {
    bytes b = l2tp_sccrq;
    put16(b, 2, 11);
    EXPECT_EQ(parse_l2tp(b).st, status::bad_length);
}

TEST(L2tpV2, LengthBelowBytesCutsBody) {
    bytes b = l2tp_sccrq;
    put16(b, 2, 20);  // just the Message Type AVP
    const l2tp_view v = parse_l2tp(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.body.size(), 8u);
    EXPECT_EQ(v.message_type, 1);
}

TEST(L2tpV2, FirstAvpNotMessageTypeIsBadValue) {
    bytes b = l2tp_sccrq;
    b[17] = 0x02;  // first AVP becomes Protocol Version
    EXPECT_EQ(parse_l2tp(b).st, status::bad_value);
}

TEST(L2tpV2, HiddenMessageTypeIsBadValue) {
    bytes b = l2tp_sccrq;
    b[12] = 0xc0;
    EXPECT_EQ(parse_l2tp(b).st, status::bad_value);
}

TEST(L2tpV2, BodyShorterThanMessageTypeIsBadLength) {
    bytes b = l2tp_sccrq;
    put16(b, 2, 16);
    EXPECT_EQ(parse_l2tp(b).st, status::bad_length);
}

TEST(L2tpV2, EveryCutOfControl) {
    for (std::size_t n = 0; n < l2tp_sccrq.size(); ++n) {
        const exact_copy c(l2tp_sccrq, n);
        const l2tp_view v = parse_l2tp(c.span());
        EXPECT_EQ(v.st, n < 12 ? status::truncated : status::bad_length) << n;
        EXPECT_TRUE(within(v.body, c.span()));
    }
}

// Data message with O and P (RFC 2661 3.1): offset size 4, then four bytes of padding.
const bytes l2tp_data_offset = {
    0x03, 0x02,              // O, P; version 2
    0x00, 0x01, 0x00, 0x02,  // tunnel id 1, session id 2
    0x00, 0x04,              // offset size 4
    0x00, 0x00, 0x00, 0x00,  // offset pad
    0xff, 0x03, 0xc0, 0x21,  // PPP LCP
};

TEST(L2tpV2, DataWithOffsetAndPriority) {
    const l2tp_view v = parse_l2tp(l2tp_data_offset);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_FALSE(v.control);
    EXPECT_TRUE(v.offset_present);
    EXPECT_TRUE(v.priority);
    EXPECT_FALSE(v.length_present);
    EXPECT_EQ(v.tunnel_id, 1u);
    EXPECT_EQ(v.session_id, 2u);
    EXPECT_EQ(v.header_length, 12);
    ASSERT_EQ(v.body.size(), 4u);
    EXPECT_EQ(v.body[0], 0xff);
}

TEST(L2tpV2, DataWithLengthAndSequence) {
    const bytes b = {0x48, 0x02, 0x00, 0x10, 0x00, 0x01, 0x00, 0x02, 0x00, 0x07, 0x00, 0x00, 0xff, 0x03, 0x00, 0x21,
                     0xee};  // one byte beyond the length: not part of the body
    const l2tp_view v = parse_l2tp(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.ns, 7);
    EXPECT_EQ(v.header_length, 12);
    EXPECT_EQ(v.body.size(), 4u);
}

TEST(L2tpV2, MinimalDataHeader) {
    const l2tp_view v = parse_l2tp(bytes{0x00, 0x02, 0x00, 0x01, 0x00, 0x02});
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.header_length, 6);
    EXPECT_TRUE(v.body.empty());
}

TEST(L2tpV2, OffsetPastBytesIsTruncated) {
    bytes b = l2tp_data_offset;
    put16(b, 6, 20);
    EXPECT_EQ(parse_l2tp(b).st, status::truncated);
}

TEST(L2tpV2, EveryCutOfData) {
    for (std::size_t n = 0; n < l2tp_data_offset.size(); ++n) {
        const exact_copy c(l2tp_data_offset, n);
        const l2tp_view v = parse_l2tp(c.span());
        EXPECT_EQ(v.st, n < 12 ? status::truncated : status::ok) << n;
        EXPECT_TRUE(within(v.body, c.span()));
    }
}

TEST(L2tp, L2fAndUnknownVersionsAreBadVersion) {
    for (const std::uint8_t ver : {0, 1, 4, 15}) {
        bytes b = l2tp_sccrq;
        b[1] = ver;
        EXPECT_EQ(parse_l2tp(b).st, status::bad_version) << int(ver);
    }
}

// ---- L2TPv3 over UDP ----

const bytes l2tp3_sccrq = {
    0xc8, 0x03, 0x00, 0x1e,                          // T, L, S; version 3; length 30
    0x00, 0x00, 0x00, 0x00,                          // control connection id 0
    0x00, 0x00, 0x00, 0x00,                          // Ns, Nr
    0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // Message Type = SCCRQ
    0x80, 0x0a, 0x00, 0x00, 0x00, 0x3d,              // Assigned Control Connection ID (61):
    0x12, 0x34, 0x56, 0x78,
};

TEST(L2tpV3, ControlFieldByField) {
    const l2tp_view v = parse_l2tp(l2tp3_sccrq);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 3);
    EXPECT_TRUE(v.control);
    EXPECT_EQ(v.length, 30);
    EXPECT_EQ(v.tunnel_id, 0u);
    EXPECT_EQ(v.message_type, 1);
    EXPECT_EQ(v.header_length, 12);
    EXPECT_EQ(v.body.size(), 18u);
}

TEST(L2tpV3, ControlConnectionIdIsThirtyTwoBits) {
    bytes b = l2tp3_sccrq;
    b[4] = 0xab;
    b[7] = 0xcd;
    EXPECT_EQ(parse_l2tp(b).tunnel_id, 0xab0000cdu);
}

TEST(L2tpV3, ControlWithoutLengthIsBadValue) {
    bytes b = l2tp3_sccrq;
    b[0] = 0x88;
    EXPECT_EQ(parse_l2tp(b).st, status::bad_value);
}

TEST(L2tpV3, EveryCutOfControl) {
    for (std::size_t n = 0; n < l2tp3_sccrq.size(); ++n) {
        const exact_copy c(l2tp3_sccrq, n);
        EXPECT_EQ(parse_l2tp(c.span()).st, n < 12 ? status::truncated : status::bad_length) << n;
    }
}

const bytes l2tp3_data = {
    0x00, 0x03, 0x00, 0x00,  // T=0, version 3; reserved
    0x12, 0x34, 0x56, 0x78,  // session id
    0xca, 0xfe, 0xba, 0xbe,  // cookie or data: left to the session's configuration
};

TEST(L2tpV3, DataFieldByField) {
    const l2tp_view v = parse_l2tp(l2tp3_data);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_FALSE(v.control);
    EXPECT_EQ(v.session_id, 0x12345678u);
    EXPECT_EQ(v.header_length, 8);
    EXPECT_EQ(v.body.size(), 4u);
}

TEST(L2tpV3, EveryCutOfData) {
    for (std::size_t n = 0; n < l2tp3_data.size(); ++n) {
        const exact_copy c(l2tp3_data, n);
        EXPECT_EQ(parse_l2tp(c.span()).st, n < 8 ? status::truncated : status::ok) << n;
    }
}

// ---- L2TPv3 over IP (protocol 115) ----

TEST(L2tpV3OverIp, DataIsTheSessionIdThenTheBody) {
    const bytes b = {0x00, 0x50, 0x0a, 0x30, 0xca, 0xfe};  // session, then cookie or data
    const l2tp_view v = parse_l2tp_ip(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 3);
    EXPECT_FALSE(v.control);
    EXPECT_EQ(v.session_id, 0x00500a30u);
    EXPECT_EQ(v.header_length, 4);
    EXPECT_EQ(v.body.size(), 2u);
}

TEST(L2tpV3OverIp, SessionZeroCarriesTheControlHeader) {
    const bytes b = cat({{0, 0, 0, 0}, l2tp3_sccrq});
    const l2tp_view v = parse_l2tp_ip(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.control);
    EXPECT_EQ(v.message_type, 1);
    EXPECT_EQ(v.header_length, 16);
    EXPECT_EQ(v.body.size(), 18u);
}

TEST(L2tpV3OverIp, SessionZeroWithADataHeaderIsBadValue) {
    EXPECT_EQ(parse_l2tp_ip(cat({{0, 0, 0, 0}, l2tp3_data})).st, status::bad_value);
}

TEST(L2tpV3OverIp, SessionZeroWithVersion2IsBadVersion) {
    EXPECT_EQ(parse_l2tp_ip(cat({{0, 0, 0, 0}, l2tp_sccrq})).st, status::bad_version);
}

TEST(L2tpV3OverIp, EveryCut) {
    const bytes b = cat({{0, 0, 0, 0}, l2tp3_sccrq});
    for (std::size_t n = 0; n < b.size(); ++n) {
        const exact_copy c(b, n);
        const status want = n < 16 ? status::truncated : status::bad_length;
        EXPECT_EQ(parse_l2tp_ip(c.span()).st, want) << n;
    }
}

// ---- AVP iterator ----

TEST(L2tpAvp, LengthBelowSixFails) {
    const bytes body = {0x80, 0x05, 0x00, 0x00, 0x00, 0x00};
    l2tp_avp_iterator it(body);
    EXPECT_FALSE(it.next().has_value());
    EXPECT_TRUE(it.failed());
}

TEST(L2tpAvp, LengthPastBodyFails) {
    const bytes body = {0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x07, 0x61};
    l2tp_avp_iterator it(body);
    ASSERT_TRUE(it.next().has_value());
    EXPECT_FALSE(it.next().has_value());
    EXPECT_TRUE(it.failed());
    EXPECT_FALSE(it.next().has_value());
}

TEST(L2tpAvp, ShortTailFails) {
    const bytes body = {0x80, 0x08, 0x00};
    l2tp_avp_iterator it(body);
    EXPECT_FALSE(it.next().has_value());
    EXPECT_TRUE(it.failed());
}

TEST(L2tpAvp, HiddenAndVendorBits) {
    const bytes body = {0x40, 0x07, 0x01, 0x37, 0x00, 0x05, 0x99};  // H, vendor 311, type 5, 1 byte
    l2tp_avp_iterator it(body);
    const std::optional<l2tp_avp> a = it.next();
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->mandatory);
    EXPECT_TRUE(a->hidden);
    EXPECT_EQ(a->vendor_id, 311);
    EXPECT_EQ(a->type, 5);
    EXPECT_EQ(a->value.size(), 1u);
}

// ---- PPTP ----

// A control message of the given type padded with zeros to its RFC 2637 length.
bytes pptp_message(std::uint16_t type, std::uint16_t length) {
    bytes m = {
        0x00, 0x00, 0x00, 0x01,  // length (set below); message type 1 (control)
        0x1a, 0x2b, 0x3c, 0x4d,  // magic cookie
        0x00, 0x00, 0x00, 0x00,  // control message type (set below); reserved0
    };
    m.resize(length, 0x00);
    put16(m, 0, length);
    put16(m, 8, type);
    return m;
}

const std::pair<std::uint16_t, std::uint16_t> pptp_lengths[] = {
    {1, 156}, {2, 156}, {3, 16}, {4, 16}, {5, 16}, {6, 20}, {7, 168}, {8, 32},
    {9, 220}, {10, 24}, {11, 28}, {12, 16}, {13, 148}, {14, 40}, {15, 24},
};

TEST(Pptp, EveryControlTypeAtItsLength) {
    for (const auto& [type, length] : pptp_lengths) {
        const bytes m = pptp_message(type, length);
        const pptp_view v = parse_pptp(m);
        EXPECT_EQ(v.st, status::ok) << type;
        EXPECT_EQ(v.length, length);
        EXPECT_EQ(v.message_type, 1);
        EXPECT_EQ(v.magic_cookie, pptp_magic_cookie);
        EXPECT_EQ(v.control_type, type);
        EXPECT_EQ(v.message.size(), length);
    }
}

TEST(Pptp, EveryControlTypeAtAnotherLengthIsBadLength) {
    for (const auto& [type, length] : pptp_lengths) {
        bytes m = pptp_message(type, static_cast<std::uint16_t>(length + 4));
        EXPECT_EQ(parse_pptp(m).st, status::bad_length) << type;
        put16(m, 0, static_cast<std::uint16_t>(length - 4));
        EXPECT_EQ(parse_pptp(m).st, status::bad_length) << type;
    }
}

TEST(Pptp, SecondMessageInSegmentNotIncluded) {
    const bytes m = cat({pptp_message(5, 16), pptp_message(6, 20)});
    const pptp_view v = parse_pptp(m);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.control_type, 5);
    EXPECT_EQ(v.message.size(), 16u);
}

TEST(Pptp, BadMagicIsBadValue) {
    bytes m = pptp_message(1, 156);
    m[7] = 0x4e;
    EXPECT_EQ(parse_pptp(m).st, status::bad_value);
}

TEST(Pptp, ManagementMessageIsBadValue) {
    bytes m = pptp_message(1, 156);
    m[3] = 0x02;
    const pptp_view v = parse_pptp(m);
    EXPECT_EQ(v.st, status::bad_value);
    EXPECT_EQ(v.message_type, 2);
    EXPECT_EQ(v.control_type, 0);
}

TEST(Pptp, ControlTypeOutOfRangeIsBadValue) {
    EXPECT_EQ(parse_pptp(pptp_message(0, 16)).st, status::bad_value);
    EXPECT_EQ(parse_pptp(pptp_message(16, 16)).st, status::bad_value);
}

TEST(Pptp, EveryCut) {
    const bytes m = pptp_message(1, 156);
    for (std::size_t n = 0; n < m.size(); ++n) {
        const exact_copy c(m, n);
        const pptp_view v = parse_pptp(c.span());
        EXPECT_EQ(v.st, status::truncated) << n;
        EXPECT_TRUE(v.message.empty());
    }
}

}  // namespace
