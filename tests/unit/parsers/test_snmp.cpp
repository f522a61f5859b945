// SNMP v1/v2c (RFC 1157, RFC 3416) and v3 (RFC 3412, USM RFC 3414) message headers in BER.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "ports/parsers/snmp.hpp"
#include "test_util.hpp"

namespace {

using namespace ports::parsers;
using namespace ptest;

// BER TLV with a definite length in its shortest form (X.690 8.1.3).
bytes tlv(std::uint8_t tag, const bytes& content) {
    bytes out = {tag};
    const std::size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xFF) {
        out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
    } else {
        out.insert(out.end(), {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}
bytes seq(std::initializer_list<bytes> parts) { return tlv(0x30, cat(parts)); }
bytes octets(std::string_view s) { return tlv(0x04, bytes(s.begin(), s.end())); }
bytes integer(const bytes& twos_complement) { return tlv(0x02, twos_complement); }
bytes pdu(std::uint8_t tag, std::initializer_list<bytes> parts) { return tlv(tag, cat(parts)); }

// One varbind: 1.3.6.1.2.1.1.3.0 (sysUpTime.0) = NULL.
const bytes varbinds = seq({seq({tlv(0x06, {0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00}), tlv(0x05, {})})});

// SNMPv1 GetRequest, community "public", request-id 0x12345678, written out byte by byte.
const bytes v1_get = {
    0x30, 0x29,                                      // Message SEQUENCE, 41 bytes
    0x02, 0x01, 0x00,                                // version 0 (v1)
    0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63,  // community "public"
    0xa0, 0x1c,                                      // GetRequest-PDU, 28 bytes
    0x02, 0x04, 0x12, 0x34, 0x56, 0x78,              // request-id
    0x02, 0x01, 0x00,                                // error-status
    0x02, 0x01, 0x00,                                // error-index
    0x30, 0x0e, 0x30, 0x0c,                          // VarBindList, VarBind
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00,  // sysUpTime.0
    0x05, 0x00,                                      // NULL
};

bytes v2c_get_next() {
    return seq({integer({0x01}), octets("private"),
                pdu(snmp_pdu_get_next, {integer({0xfe}), integer({0x00}), integer({0x00}), varbinds})});
}

// RFC 1157 Trap-PDU: enterprise, agent-addr, generic-trap, specific-trap, time-stamp, varbinds.
bytes v1_trap() {
    return seq({integer({0x00}), octets("public"),
                pdu(snmp_pdu_trap_v1, {tlv(0x06, {0x2b, 0x06, 0x01, 0x04, 0x01, 0x08}), tlv(0x40, {192, 0, 2, 1}),
                                       integer({0x06}), integer({0x01}), tlv(0x43, {0x01, 0x00}), varbinds})});
}

bytes v2_trap() {
    return seq({integer({0x01}), octets("public"),
                pdu(snmp_pdu_trap_v2, {integer({0x00, 0x80}), integer({0x00}), integer({0x00}), varbinds})});
}

const std::string_view engine_id = "\x80\x00\x1f\x88\x04\x65\x6e\x67";

// RFC 3412 message: msgGlobalData, USM parameters (RFC 3414 2.4), then msgData.
bytes v3_message(std::uint8_t flags, const bytes& msg_data, std::uint8_t model = 3) {
    const bytes global = seq({integer({0x01, 0x02, 0x03, 0x04}), integer({0x00, 0xff, 0xe3}), tlv(0x04, {flags}),
                              integer({model})});
    const bytes usm = seq({octets(engine_id), integer({0x05}), integer({0x01, 0x00}), octets("alice"),
                           octets((flags & 1) != 0 ? std::string_view("0123456789ab") : std::string_view()),
                           octets((flags & 2) != 0 ? std::string_view("salt1234") : std::string_view())});
    return seq({integer({0x03}), global, tlv(0x04, usm), msg_data});
}

bytes scoped_pdu() {
    return seq({octets(engine_id), octets("ctx"),
                pdu(snmp_pdu_get, {integer({0x55}), integer({0x00}), integer({0x00}), varbinds})});
}

bytes encrypted_pdu() { return octets("\x9a\x1f\x33\x07\xc4\x5e\x00\x42"); }

TEST(Snmp, V1GetFieldByField) {
    const snmp_view v = parse_snmp(v1_get);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 0);
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(v.community.data()), v.community.size()), "public");
    EXPECT_EQ(v.pdu_type, snmp_pdu_get);
    EXPECT_TRUE(v.has_request_id);
    EXPECT_EQ(v.request_id, 0x12345678);
    EXPECT_FALSE(v.encrypted);
}

TEST(Snmp, V2cGetNextWithNegativeRequestId) {
    const bytes m = v2c_get_next();
    const snmp_view v = parse_snmp(m);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 1);
    EXPECT_EQ(v.community.size(), 7u);
    EXPECT_EQ(v.pdu_type, snmp_pdu_get_next);
    EXPECT_EQ(v.request_id, -2);
}

TEST(Snmp, V1TrapHasNoRequestId) {
    const snmp_view v = parse_snmp(v1_trap());
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 0);
    EXPECT_EQ(v.pdu_type, snmp_pdu_trap_v1);
    EXPECT_FALSE(v.has_request_id);
}

TEST(Snmp, V2TrapHasRequestId) {
    const snmp_view v = parse_snmp(v2_trap());
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 1);
    EXPECT_EQ(v.pdu_type, snmp_pdu_trap_v2);
    EXPECT_TRUE(v.has_request_id);
    EXPECT_EQ(v.request_id, 128);
}

TEST(Snmp, V3PlaintextWithUserName) {
    const bytes m = v3_message(0x05, scoped_pdu());  // auth | reportable
    const snmp_view v = parse_snmp(m);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 3);
    EXPECT_EQ(v.msg_id, 0x01020304);
    EXPECT_EQ(v.msg_flags, 0x05);
    EXPECT_EQ(v.security_model, 3);
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(v.user_name.data()), v.user_name.size()), "alice");
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(v.context_name.data()), v.context_name.size()), "ctx");
    EXPECT_FALSE(v.encrypted);
    EXPECT_EQ(v.pdu_type, snmp_pdu_get);
    EXPECT_TRUE(v.has_request_id);
    EXPECT_EQ(v.request_id, 0x55);
}

TEST(Snmp, V3Encrypted) {
    const bytes m = v3_message(0x07, encrypted_pdu());
    const snmp_view v = parse_snmp(m);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.encrypted);
    EXPECT_EQ(v.pdu_type, 0);
    EXPECT_FALSE(v.has_request_id);
    EXPECT_EQ(v.user_name.size(), 5u);
}

TEST(Snmp, V3PrivFlagWithPlaintextIsBadValue) {
    EXPECT_EQ(parse_snmp(v3_message(0x03, scoped_pdu())).st, status::bad_value);
}

TEST(Snmp, V3CiphertextWithoutPrivFlagIsBadValue) {
    EXPECT_EQ(parse_snmp(v3_message(0x01, encrypted_pdu())).st, status::bad_value);
}

TEST(Snmp, V3OtherSecurityModelSkipsUsm) {
    const snmp_view v = parse_snmp(v3_message(0x04, scoped_pdu(), 2));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.security_model, 2);
    EXPECT_TRUE(v.user_name.empty());
    EXPECT_EQ(v.pdu_type, snmp_pdu_get);
}

TEST(Snmp, V3FlagsOfTwoOctetsIsBadValue) {
    const bytes global = seq({integer({0x01}), integer({0x05, 0xdc}), tlv(0x04, {0x04, 0x00}), integer({0x03})});
    const bytes m = seq({integer({0x03}), global, tlv(0x04, {}), scoped_pdu()});
    EXPECT_EQ(parse_snmp(m).st, status::bad_value);
}

TEST(Snmp, UnknownVersionIsBadVersion) {
    const snmp_view v = parse_snmp(seq({integer({0x02}), octets("public"), pdu(snmp_pdu_get, {integer({1})})}));
    EXPECT_EQ(v.st, status::bad_version);
    EXPECT_EQ(v.version, 2);
}

TEST(Snmp, PduTagOutOfRangeIsBadValue) {
    EXPECT_EQ(parse_snmp(seq({integer({0x01}), octets("public"), pdu(0xa9, {integer({1})})})).st, status::bad_value);
}

TEST(Snmp, OuterTagNotSequenceIsBadValue) {
    bytes m = v1_get;
    m[0] = 0x31;
    EXPECT_EQ(parse_snmp(m).st, status::bad_value);
}

TEST(Snmp, IntegerOfFiveOctetsIsBadValue) {
    EXPECT_EQ(parse_snmp(seq({integer({0x00, 0x80, 0, 0, 0}), octets("p"), pdu(snmp_pdu_get, {integer({1})})})).st,
              status::bad_value);
}

TEST(Snmp, EmptyIntegerIsBadValue) {
    EXPECT_EQ(parse_snmp(seq({integer({}), octets("p")})).st, status::bad_value);
}

TEST(Snmp, FourOctetIntegerExtremes) {
    const snmp_view v = parse_snmp(
        seq({integer({0x00}), octets("p"), pdu(snmp_pdu_get, {integer({0x80, 0x00, 0x00, 0x00}), varbinds})}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.request_id, INT32_MIN);
}

// ---- BER lengths ----

TEST(SnmpBer, LongFormLengthAccepted) {
    // Non-minimal but definite: 0x82 0x00 0x29 for the 41-byte message.
    bytes m = {0x30, 0x82, 0x00, 0x29};
    m.insert(m.end(), v1_get.begin() + 2, v1_get.end());
    const snmp_view v = parse_snmp(m);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.request_id, 0x12345678);
}

TEST(SnmpBer, LongCommunityUsesOneLengthOctet) {
    const std::string community(200, 'c');
    const bytes m = seq({integer({0x01}), octets(community), pdu(snmp_pdu_get, {integer({0x07}), varbinds})});
    ASSERT_EQ(m[1], 0x81);
    const snmp_view v = parse_snmp(m);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.community.size(), 200u);
}

TEST(SnmpBer, IndefiniteLengthIsBadLength) {
    bytes m = {0x30, 0x80};
    m.insert(m.end(), v1_get.begin() + 2, v1_get.end());
    m.insert(m.end(), {0x00, 0x00});  // end-of-contents
    EXPECT_EQ(parse_snmp(m).st, status::bad_length);
}

TEST(SnmpBer, FiveLengthOctetsIsBadLength) {
    bytes m = {0x30, 0x85, 0x00, 0x00, 0x00, 0x00, 0x29};
    m.insert(m.end(), v1_get.begin() + 2, v1_get.end());
    EXPECT_EQ(parse_snmp(m).st, status::bad_length);
}

TEST(SnmpBer, LengthOctetsCutIsTruncated) {
    EXPECT_EQ(parse_snmp(bytes{0x30, 0x82, 0x00}).st, status::truncated);
}

TEST(SnmpBer, OuterLengthPastPayloadIsTruncated) {
    bytes m = v1_get;
    m[1] = 0x40;
    EXPECT_EQ(parse_snmp(m).st, status::truncated);
}

TEST(SnmpBer, TrailingBytesAfterMessageIsBadLength) {
    bytes m = v1_get;
    m.push_back(0x00);
    EXPECT_EQ(parse_snmp(m).st, status::bad_length);
}

TEST(SnmpBer, InnerLengthPastParentIsBadLength) {
    bytes m = v1_get;
    m[6] = 0x30;  // community claims 48 bytes inside a 41-byte message
    EXPECT_EQ(parse_snmp(m).st, status::bad_length);
}

TEST(SnmpBer, InnerLengthShorterMisalignsTheRest) {
    bytes m = v1_get;
    m[6] = 0x05;  // community "publi"; then 'c' 0xa0 reads as a 160-byte TLV
    EXPECT_EQ(parse_snmp(m).st, status::bad_length);
}

TEST(SnmpBer, PduLengthPastMessageIsBadLength) {
    bytes m = v1_get;
    m[14] = 0x1d;
    EXPECT_EQ(parse_snmp(m).st, status::bad_length);
}

TEST(SnmpBer, EveryCutOfV1GetIsTruncated) {
    for (std::size_t n = 0; n < v1_get.size(); ++n) {
        const exact_copy c(v1_get, n);
        const snmp_view v = parse_snmp(c.span());
        EXPECT_EQ(v.st, status::truncated) << n;
        EXPECT_TRUE(within(v.community, c.span()));
    }
}

TEST(SnmpBer, EveryCutOfV3IsTruncated) {
    const bytes m = v3_message(0x05, scoped_pdu());
    for (std::size_t n = 0; n < m.size(); ++n) {
        const exact_copy c(m, n);
        EXPECT_EQ(parse_snmp(c.span()).st, status::truncated) << n;
    }
}

TEST(SnmpBer, EveryInnerCutIsRejected) {
    // The outer length is rewritten to match each cut: the inner TLVs then overrun it.
    const bytes m = v3_message(0x07, encrypted_pdu());
    ASSERT_LT(m.size(), 130u);
    for (std::size_t n = 3; n < m.size(); ++n) {
        bytes cut = {0x30, static_cast<std::uint8_t>(n - 2)};
        cut.insert(cut.end(), m.begin() + 2, m.begin() + static_cast<std::ptrdiff_t>(n));
        const exact_copy c(cut, cut.size());
        EXPECT_NE(parse_snmp(c.span()).st, status::ok) << n;
    }
}

}  // namespace

namespace {

// Every field of two views, spans by position.
void expect_same_view(const snmp_view& a, const snmp_view& b, const bytes& m) {
    ASSERT_EQ(a.st, b.st) << testing::PrintToString(m);
    ASSERT_EQ(a.version, b.version);
    ASSERT_EQ(a.community.data(), b.community.data());
    ASSERT_EQ(a.community.size(), b.community.size());
    ASSERT_EQ(a.pdu_type, b.pdu_type);
    ASSERT_EQ(a.request_id, b.request_id);
    ASSERT_EQ(a.has_request_id, b.has_request_id);
    ASSERT_EQ(a.msg_id, b.msg_id);
    ASSERT_EQ(a.msg_flags, b.msg_flags);
    ASSERT_EQ(a.security_model, b.security_model);
    ASSERT_EQ(a.user_name.data(), b.user_name.data());
    ASSERT_EQ(a.user_name.size(), b.user_name.size());
    ASSERT_EQ(a.context_name.data(), b.context_name.data());
    ASSERT_EQ(a.context_name.size(), b.context_name.size());
    ASSERT_EQ(a.encrypted, b.encrypted);
}

TEST(SnmpFastPath, ClaimsOnlyWhatTheGeneralWalkDecidesAlike) {
    // parse_snmp_v1_v2c must give the reference parser's exact result wherever it claims a
    // message, and parse_snmp and the general walk must equal it everywhere: on well-formed
    // messages in short and long length forms, and on every one of them bent (bytes set to
    // values around the fast paths' limits, bits flipped, cuts, bytes nudged).
    std::vector<bytes> bases = {v1_get, v2c_get_next(), v1_trap(), v2_trap(),
                                v3_message(0x05, scoped_pdu()), v3_message(0x07, encrypted_pdu())};
    // Long-form lengths: a community of 200 octets, a PDU over 255 bytes, a 4-octet request-id.
    bases.push_back(seq({integer({0x01}), octets(std::string(200, 'c')),
                         pdu(snmp_pdu_get, {integer({0x80, 0, 0, 0}), integer({0}), integer({0}),
                                            tlv(0x30, bytes(300, 0x05))})}));
    bases.push_back(seq({integer({0x00}), octets(""),
                         pdu(snmp_pdu_response, {integer({0x7f}), integer({0}), integer({0}),
                                                 tlv(0x30, bytes(130, 0))})}));
    const std::uint8_t interesting[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f, 0x80, 0x81, 0x82,
                                        0x83, 0x84, 0x85, 0x9f, 0xa0, 0xa4, 0xa8, 0xa9, 0x30, 0xff};
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    std::size_t claimed = 0;
    std::size_t compared = 0;
    for (const bytes& base : bases) {
        for (int i = 0; i < 20000; ++i) {
            // xorshift64: deterministic everywhere.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes m = base;
            const int bends = i == 0 ? 0 : 1 + static_cast<int>((x >> 60) % 3);
            for (int b = 0; b < bends && !m.empty(); ++b) {
                const std::uint64_t y = x >> (b * 16);
                // Mostly the first 40 bytes: the headers the fast path reads.
                const std::size_t at =
                    (y >> 4) % std::min<std::size_t>(m.size(), (y & 1) != 0 ? m.size() : 40);
                switch ((y >> 1) % 4) {
                    case 0: m[at] = interesting[(y >> 12) % std::size(interesting)]; break;
                    case 1: m[at] ^= static_cast<std::uint8_t>(1u << ((y >> 12) % 8)); break;
                    case 2: m.resize(at); break;
                    default: m[at] = static_cast<std::uint8_t>(m[at] + ((y >> 12) % 5) - 2); break;
                }
            }
            const exact_copy c(m, m.size());
            const snmp_view general = snmp_detail::parse_snmp_walk(c.span());
            expect_same_view(parse_snmp(c.span()), general, m);
            expect_same_view(snmp_detail::parse_snmp_general(c.span()), general, m);
            if (const auto fast = parse_snmp_v1_v2c(c.span())) {
                ++claimed;
                EXPECT_EQ(fast->st, status::ok);
                expect_same_view(*fast, general, m);
            }
            ++compared;
        }
    }
    EXPECT_GT(claimed, compared / 10);
}

}  // namespace
