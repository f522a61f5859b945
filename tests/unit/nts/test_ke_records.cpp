// NTS-KE records (RFC 8915 section 4) on real bytes: the record reader, the server's view of a
// request, the client's view of a response, and the client's standard request.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "ports/nts_ke/client.hpp"
#include "ports/parsers/nts_ke.hpp"

using namespace ports::parsers;

namespace {

using bytes = std::vector<std::uint8_t>;

// One record: C | type | length | body.
bytes record(std::uint16_t type, bool critical, const bytes& body = {}) {
    const std::uint16_t head = static_cast<std::uint16_t>(type | (critical ? ke_critical : 0));
    bytes r{static_cast<std::uint8_t>(head >> 8), static_cast<std::uint8_t>(head & 0xff),
            static_cast<std::uint8_t>(body.size() >> 8),
            static_cast<std::uint8_t>(body.size() & 0xff)};
    r.insert(r.end(), body.begin(), body.end());
    return r;
}

bytes be16s(std::initializer_list<std::uint16_t> ids) {
    bytes b;
    for (const std::uint16_t id : ids) {
        b.push_back(static_cast<std::uint8_t>(id >> 8));
        b.push_back(static_cast<std::uint8_t>(id & 0xff));
    }
    return b;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

const bytes next_protocol_ntpv4 = record(ke_next_protocol, true, be16s({ke_protocol_ntpv4}));
const bytes aead_siv = record(ke_aead, true, be16s({ke_aead_aes_siv_cmac_256}));
const bytes end_of_message = record(ke_end_of_message, true);
const bytes standard = cat({next_protocol_ntpv4, aead_siv, end_of_message});

ke_request_view request(const bytes& b) {
    return parse_ke_request(byte_span(b.data(), b.size()));
}
ke_response_view response(const bytes& b) {
    return parse_ke_response(byte_span(b.data(), b.size()));
}

// A request the server must answer with Error(bad request).
void expect_bad_request(const bytes& b) {
    const ke_request_view v = request(b);
    EXPECT_EQ(v.outcome, ke_outcome::error);
    EXPECT_EQ(v.error_code, ke_error_bad_request);
}

bytes cookie_body(std::uint8_t fill, std::size_t n = 104) {
    return bytes(n, fill);
}

// Next Protocol NTPv4, AEAD AES-SIV, `cookies` New Cookie records, End of Message.
bytes standard_response(unsigned cookies) {
    bytes r = cat({next_protocol_ntpv4, aead_siv});
    for (unsigned i = 0; i < cookies; ++i) {
        const bytes c = record(ke_new_cookie, false, cookie_body(static_cast<std::uint8_t>(i)));
        r.insert(r.end(), c.begin(), c.end());
    }
    r.insert(r.end(), end_of_message.begin(), end_of_message.end());
    return r;
}

}  // namespace

// --- next_ke_record ---------------------------------------------------------------------------

TEST(KeRecord, ReadsCriticalBitTypeAndBody) {
    const bytes b = cat({record(0x1234, true, {0xAA, 0xBB, 0xCC}), {0xEE}});
    const ke_record_result r = next_ke_record(byte_span(b.data(), b.size()));
    ASSERT_EQ(r.st, status::ok);
    EXPECT_TRUE(r.record.critical);
    EXPECT_EQ(r.record.type, 0x1234);
    ASSERT_EQ(r.record.body.size(), 3u);
    EXPECT_EQ(r.record.body.data(), b.data() + 4);  // a view, not a copy
    EXPECT_EQ(r.size, 7u);
}

TEST(KeRecord, TruncatedHeaderOrBody) {
    const bytes b = record(ke_new_cookie, false, cookie_body(1, 10));
    for (std::size_t n = 0; n < b.size(); ++n) {
        EXPECT_EQ(next_ke_record(byte_span(b.data(), n)).st, status::truncated) << n;
    }
    EXPECT_EQ(next_ke_record(byte_span(b.data(), b.size())).st, status::ok);
}

// --- parse_ke_request ---------------------------------------------------------------------------

TEST(KeRequest, StandardRequestParses) {
    const ke_request_view v = request(standard);
    ASSERT_EQ(v.outcome, ke_outcome::ok) << to_string(v.st);
    EXPECT_TRUE(v.ntpv4);
    EXPECT_TRUE(v.has_aead);
    EXPECT_TRUE(v.aes_siv);
    EXPECT_FALSE(v.has_port);
    EXPECT_TRUE(v.ntpv4_server.empty());
    EXPECT_EQ(v.length, standard.size());
}

TEST(KeRequest, IncompleteAtEveryPrefix) {
    // The server reads a request as it arrives: every cut short of End of Message means "read
    // more", never an error (a record split across TLS records is normal).
    const bytes b =
        cat({next_protocol_ntpv4, record(0x4001, false, {1, 2, 3}), aead_siv, end_of_message});
    for (std::size_t n = 0; n < b.size(); ++n) {
        EXPECT_EQ(request(bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n))).outcome,
                  ke_outcome::incomplete)
            << n;
    }
    EXPECT_EQ(request(b).outcome, ke_outcome::ok);
}

TEST(KeRequest, UnknownCriticalRecordIsUnrecognizedCritical) {
    const ke_request_view v =
        request(cat({next_protocol_ntpv4, record(0x4321, true, {0, 1}), aead_siv, end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
    EXPECT_EQ(v.error_code, ke_error_unrecognized_critical);
}

TEST(KeRequest, UnknownNonCriticalRecordIsSkipped) {
    const bytes b = cat({record(0x4321, false, {9, 9, 9}), next_protocol_ntpv4,
                         record(0x7FFF, false), aead_siv, end_of_message});
    const ke_request_view v = request(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_TRUE(v.ntpv4);
    EXPECT_TRUE(v.aes_siv);
    EXPECT_EQ(v.length, b.size());
}

TEST(KeRequest, MissingNextProtocolIsBadRequest) {
    expect_bad_request(cat({aead_siv, end_of_message}));
    expect_bad_request(end_of_message);
}

TEST(KeRequest, NextProtocolTwiceIsBadRequest) {
    expect_bad_request(cat({next_protocol_ntpv4, next_protocol_ntpv4, aead_siv, end_of_message}));
}

TEST(KeRequest, NextProtocolWithoutCriticalBitIsBadRequest) {
    // RFC 8915 section 4.1.2: the record MUST have the critical bit.
    expect_bad_request(cat(
        {record(ke_next_protocol, false, be16s({ke_protocol_ntpv4})), aead_siv, end_of_message}));
}

TEST(KeRequest, NextProtocolOddBodyIsBadRequest) {
    expect_bad_request(
        cat({record(ke_next_protocol, true, {0x00, 0x00, 0x01}), aead_siv, end_of_message}));
}

TEST(KeRequest, AeadOddBodyIsBadRequest) {
    expect_bad_request(
        cat({next_protocol_ntpv4, record(ke_aead, true, {0x00, 0x0F, 0x00}), end_of_message}));
}

TEST(KeRequest, AeadMissingWhileNtpv4OfferedIsBadRequest) {
    // Section 4.1.5: a request offering NTPv4 MUST carry AEAD Algorithm Negotiation.
    expect_bad_request(cat({next_protocol_ntpv4, end_of_message}));
}

TEST(KeRequest, OtherProtocolWithoutAeadParses) {
    // AEAD is only required alongside NTPv4; the server then finds no protocol in common.
    const ke_request_view v =
        request(cat({record(ke_next_protocol, true, be16s({0x7777})), end_of_message}));
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_FALSE(v.ntpv4);
    EXPECT_FALSE(v.has_aead);
}

TEST(KeRequest, AeadTwiceIsBadRequest) {
    expect_bad_request(cat({next_protocol_ntpv4, aead_siv, aead_siv, end_of_message}));
}

TEST(KeRequest, EndOfMessageWithBodyIsBadRequest) {
    expect_bad_request(cat({next_protocol_ntpv4, aead_siv, record(ke_end_of_message, true, {0})}));
}

TEST(KeRequest, EndOfMessageWithoutCriticalBitIsBadRequest) {
    expect_bad_request(cat({next_protocol_ntpv4, aead_siv, record(ke_end_of_message, false)}));
}

TEST(KeRequest, PortBodyOtherThanTwoBytesIsBadRequest) {
    for (const bytes& body : {bytes{}, bytes{0x01}, bytes{0x00, 0x7B, 0x00}}) {
        expect_bad_request(cat(
            {next_protocol_ntpv4, aead_siv, record(ke_ntpv4_port, false, body), end_of_message}));
    }
}

TEST(KeRequest, ServerAndPortAreRecorded) {
    const bytes name{'n', 't', 'p', '.', 'e', 'x'};
    const bytes b = cat({next_protocol_ntpv4, aead_siv, record(ke_ntpv4_server, false, name),
                         record(ke_ntpv4_port, false, be16s({10123})), end_of_message});
    const ke_request_view v = request(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_EQ(bytes(v.ntpv4_server.begin(), v.ntpv4_server.end()), name);
    EXPECT_TRUE(v.has_port);
    EXPECT_EQ(v.ntpv4_port, 10123);
}

TEST(KeRequest, ErrorWarningOrNewCookieFromClientIsBadRequest) {
    // Records only a server sends (section 4.1.3, 4.1.4, 4.1.6), critical or not.
    for (const std::uint16_t type : {ke_error, ke_warning, ke_new_cookie}) {
        for (const bool critical : {true, false}) {
            SCOPED_TRACE(testing::Message() << "type " << type << " critical " << critical);
            expect_bad_request(cat({next_protocol_ntpv4, aead_siv,
                                    record(type, critical, be16s({0})), end_of_message}));
        }
    }
}

TEST(KeRequest, WithoutAesSivParsesButDoesNotOfferIt) {
    // AEAD_AES_SIV_CMAC_384 (16) and 512 (17) only: well-formed, the server answers with an
    // empty AEAD record, which the parser leaves to it.
    const ke_request_view v =
        request(cat({next_protocol_ntpv4, record(ke_aead, true, be16s({16, 17})), end_of_message}));
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_TRUE(v.ntpv4);
    EXPECT_TRUE(v.has_aead);
    EXPECT_FALSE(v.aes_siv);
}

TEST(KeRequest, AesSivFoundAmongOthers) {
    const ke_request_view v = request(
        cat({record(ke_next_protocol, true, be16s({0x1111, ke_protocol_ntpv4})),
             record(ke_aead, true, be16s({16, ke_aead_aes_siv_cmac_256, 17})), end_of_message}));
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_TRUE(v.ntpv4);
    EXPECT_TRUE(v.aes_siv);
}

TEST(KeRequest, LengthStopsAtEndOfMessage) {
    // Trailing bytes are not looked at (not even a critical unknown record): length tells the
    // server where the message ended so it can refuse the rest.
    const bytes b = cat({standard, record(0x4321, true, {1}), {0xFF, 0xFF}});
    const ke_request_view v = request(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_EQ(v.length, standard.size());
    EXPECT_LT(v.length, b.size());
}

// --- parse_ke_response --------------------------------------------------------------------------

TEST(KeResponse, CookiesAreCollectedAsViews) {
    const bytes b = standard_response(8);
    const ke_response_view v = response(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok) << to_string(v.st);
    EXPECT_EQ(v.length, b.size());
    EXPECT_TRUE(v.has_protocol);
    EXPECT_EQ(v.protocol, ke_protocol_ntpv4);
    EXPECT_TRUE(v.has_aead);
    EXPECT_EQ(v.aead, ke_aead_aes_siv_cmac_256);
    EXPECT_FALSE(v.has_error);
    ASSERT_EQ(v.cookie_count, 8);
    for (unsigned i = 0; i < 8; ++i) {
        ASSERT_EQ(v.cookies[i].size(), 104u);
        EXPECT_EQ(v.cookies[i][0], i);
        EXPECT_GE(v.cookies[i].data(), b.data());
        EXPECT_LE(v.cookies[i].data() + 104, b.data() + b.size());
    }
}

TEST(KeResponse, CookiesBeyondSixteenAreSkipped) {
    // A server may not flood the client's fixed array; the message still parses.
    const bytes b = standard_response(20);
    const ke_response_view v = response(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_EQ(v.length, b.size());
    ASSERT_EQ(v.cookie_count, ke_max_cookies);
    for (unsigned i = 0; i < ke_max_cookies; ++i) {
        EXPECT_EQ(v.cookies[i][0], i);  // the first sixteen, in order
    }
}

TEST(KeResponse, ServerAndPortAreRecorded) {
    const bytes name{'t', 'i', 'm', 'e', '.', 'e', 'x'};
    const bytes b = cat({next_protocol_ntpv4, aead_siv, record(ke_ntpv4_server, true, name),
                         record(ke_ntpv4_port, true, be16s({4123})),
                         record(ke_new_cookie, false, cookie_body(7)), end_of_message});
    const ke_response_view v = response(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_EQ(bytes(v.ntpv4_server.begin(), v.ntpv4_server.end()), name);
    EXPECT_TRUE(v.has_port);
    EXPECT_EQ(v.ntpv4_port, 4123);
    EXPECT_EQ(v.cookie_count, 1);
}

TEST(KeResponse, ErrorRecordGivesItsCode) {
    const ke_response_view v =
        response(cat({record(ke_error, true, be16s({ke_error_bad_request})), end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
    EXPECT_TRUE(v.has_error);
    EXPECT_EQ(v.error_code, ke_error_bad_request);
}

TEST(KeResponse, ErrorRecordWithoutCodeIsReportedAsUnknown) {
    const ke_response_view v = response(cat({record(ke_error, true), end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
    EXPECT_TRUE(v.has_error);
    EXPECT_EQ(v.error_code, 0xFFFF);
}

TEST(KeResponse, WarningIsRecordedAndNotAnError) {
    const bytes b = cat({next_protocol_ntpv4, aead_siv, record(ke_warning, true, be16s({0x0042})),
                         record(ke_new_cookie, false, cookie_body(1)), end_of_message});
    const ke_response_view v = response(b);
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_TRUE(v.has_warning);
    EXPECT_EQ(v.warning_code, 0x0042);
}

TEST(KeResponse, UnknownCriticalRecordIsError) {
    const ke_response_view v = response(
        cat({next_protocol_ntpv4, aead_siv, record(0x4321, true, {1, 2}), end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
    EXPECT_EQ(v.st, status::unsupported);
    EXPECT_FALSE(v.has_error);
}

TEST(KeResponse, UnknownNonCriticalRecordIsSkipped) {
    const ke_response_view v = response(
        cat({next_protocol_ntpv4, record(0x4321, false, {1, 2}), aead_siv, end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::ok);
}

TEST(KeResponse, NextProtocolWithTwoIdsIsError) {
    // The server picks one (section 4.1.2).
    const ke_response_view v =
        response(cat({record(ke_next_protocol, true, be16s({0, 1})), aead_siv, end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
}

TEST(KeResponse, AeadWithTwoIdsOrTwiceIsError) {
    EXPECT_EQ(
        response(cat({next_protocol_ntpv4, record(ke_aead, true, be16s({15, 16})), end_of_message}))
            .outcome,
        ke_outcome::error);
    EXPECT_EQ(response(cat({next_protocol_ntpv4, aead_siv, aead_siv, end_of_message})).outcome,
              ke_outcome::error);
}

TEST(KeResponse, NoNextProtocolIsError) {
    const ke_response_view v =
        response(cat({aead_siv, record(ke_new_cookie, false, cookie_body(1)), end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
}

TEST(KeResponse, EmptyNextProtocolAndAeadMeanNoneInCommon) {
    // Not an error: the server said "nothing in common", which the client reports.
    const ke_response_view v =
        response(cat({record(ke_next_protocol, true), record(ke_aead, true), end_of_message}));
    ASSERT_EQ(v.outcome, ke_outcome::ok);
    EXPECT_FALSE(v.has_protocol);
    EXPECT_FALSE(v.has_aead);
    EXPECT_EQ(v.cookie_count, 0);
}

TEST(KeResponse, PortBodyOtherThanTwoBytesIsError) {
    const ke_response_view v = response(
        cat({next_protocol_ntpv4, aead_siv, record(ke_ntpv4_port, true, {1}), end_of_message}));
    EXPECT_EQ(v.outcome, ke_outcome::error);
    EXPECT_EQ(v.st, status::bad_length);
}

TEST(KeResponse, MalformedEndOfMessageIsError) {
    EXPECT_EQ(
        response(cat({next_protocol_ntpv4, aead_siv, record(ke_end_of_message, false)})).outcome,
        ke_outcome::error);
    EXPECT_EQ(response(cat({next_protocol_ntpv4, aead_siv, record(ke_end_of_message, true, {0})}))
                  .outcome,
              ke_outcome::error);
}

TEST(KeResponse, IncompleteAtEveryPrefix) {
    const bytes b = standard_response(2);
    for (std::size_t n = 0; n < b.size(); ++n) {
        EXPECT_EQ(response(bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n))).outcome,
                  ke_outcome::incomplete)
            << n;
    }
}

// --- the client's request -----------------------------------------------------------------------

TEST(KeClient, StandardRequestBytes) {
    // Next Protocol {NTPv4}, AEAD {AES-SIV-CMAC-256}, End of Message, all critical.
    const bytes expected{0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80, 0x04,
                         0x00, 0x02, 0x00, 0x0F, 0x80, 0x00, 0x00, 0x00};
    EXPECT_EQ(ports::nts_ke::standard_request(), expected);
    EXPECT_EQ(request(ports::nts_ke::standard_request()).outcome, ke_outcome::ok);
}
