// NTP (RFC 5905), SNTP (RFC 4330), extension fields (RFC 7822), MACs, modes 6 and 7.
#include <gtest/gtest.h>

#include "ports/parsers/ntp.hpp"
#include "test_util.hpp"

namespace {

using namespace ports::parsers;
using namespace ptest;

// NTPv4 server reply (mode 4), stratum 2, every header field distinct.
const bytes ntp_server = {
    0x24, 0x02, 0x06, 0xe9,                          // LI 0, VN 4, mode 4; stratum 2; poll 6; precision -23
    0x00, 0x00, 0x01, 0x02,                          // root delay
    0x00, 0x00, 0x03, 0x04,                          // root dispersion
    0xc0, 0x00, 0x02, 0x01,                          // reference id 192.0.2.1
    0xe9, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  // reference timestamp
    0xe9, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,  // origin timestamp
    0xe9, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,  // receive timestamp
    0xe9, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08,  // transmit timestamp
};

// RFC 4330 section 5: a client request with only the first octet and the transmit time set.
bytes sntp_request() {
    bytes b(48, 0x00);
    b[0] = 0x23;  // LI 0, VN 4, mode 3
    const bytes xmt = {0xe9, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde};
    std::copy(xmt.begin(), xmt.end(), b.begin() + 40);
    return b;
}

bytes with_version(bytes b, std::uint8_t version) {
    b[0] = static_cast<std::uint8_t>((b[0] & 0xC7) | (version << 3));
    return b;
}

// Key id 7 then a digest of the given length.
bytes mac(std::size_t digest) {
    bytes m = {0x00, 0x00, 0x00, 0x07};
    m.resize(4 + digest, 0x5a);
    return m;
}

// RFC 7822 extension field: type, length, then zero value up to the length.
bytes extension(std::uint16_t type, std::uint16_t length) {
    bytes e(length < 4 ? 4 : length, 0x00);
    put16(e, 0, type);
    put16(e, 2, length);
    return e;
}

TEST(Ntp, ServerHeaderFieldByField) {
    const ntp_view v = parse_ntp(ntp_server);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.li, 0);
    EXPECT_EQ(v.version, 4);
    EXPECT_EQ(v.mode, ntp_mode::server);
    EXPECT_EQ(v.stratum, 2);
    EXPECT_EQ(v.poll, 6);
    EXPECT_EQ(v.precision, -23);
    EXPECT_EQ(v.root_delay, 0x0102u);
    EXPECT_EQ(v.root_dispersion, 0x0304u);
    EXPECT_EQ(v.refid, 0xc0000201u);
    EXPECT_EQ(v.reference_ts, 0xe900000100000002ull);
    EXPECT_EQ(v.origin_ts, 0xe900000300000004ull);
    EXPECT_EQ(v.receive_ts, 0xe900000500000006ull);
    EXPECT_EQ(v.transmit_ts, 0xe900000700000008ull);
    EXPECT_FALSE(v.has_mac);
    EXPECT_EQ(v.extension_count, 0);
    EXPECT_FALSE(v.sntp_request);
}

TEST(Ntp, LeapIndicatorIsTopTwoBits) {
    bytes b = ntp_server;
    b[0] = 0xe4;  // LI 3 (unsynchronised), VN 4, mode 4
    EXPECT_EQ(parse_ntp(b).li, 3);
}

TEST(Ntp, SntpRequestRecognised) {
    const ntp_view v = parse_ntp(sntp_request());
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.mode, ntp_mode::client);
    EXPECT_TRUE(v.sntp_request);
    EXPECT_EQ(v.transmit_ts, 0xe9123456789abcdeull);
}

TEST(Ntp, ClientWithNonZeroPollIsNotSntpRequest) {
    bytes b = sntp_request();
    b[2] = 6;
    EXPECT_FALSE(parse_ntp(b).sntp_request);
    bytes c = sntp_request();
    c[39] = 1;  // last byte of the receive timestamp
    EXPECT_FALSE(parse_ntp(c).sntp_request);
}

TEST(Ntp, ServerModeIsNeverSntpRequest) {
    bytes b = sntp_request();
    b[0] = 0x24;
    EXPECT_FALSE(parse_ntp(b).sntp_request);
}

TEST(Ntp, SntpRequestWithMacIsNot) {
    const ntp_view v = parse_ntp(cat({sntp_request(), mac(16)}));
    EXPECT_TRUE(v.has_mac);
    EXPECT_FALSE(v.sntp_request);
}

TEST(Ntp, MacWithMd5Digest) {
    const ntp_view v = parse_ntp(cat({ntp_server, mac(16)}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_key_id, 7u);
    EXPECT_EQ(v.mac_digest_length, 16);
    EXPECT_EQ(v.mac_offset, 48);
}

TEST(Ntp, MacWithSha1Digest) {
    const ntp_view v = parse_ntp(cat({ntp_server, mac(20)}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_digest_length, 20);
}

TEST(Ntp, CryptoNakIsKeyIdOnly) {
    const bytes nak = {0x00, 0x00, 0x00, 0x00};  // RFC 5905 7.4: key id 0, no digest
    const ntp_view v = parse_ntp(cat({ntp_server, nak}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_key_id, 0u);
    EXPECT_EQ(v.mac_digest_length, 0);
}

TEST(Ntp, ExtensionFieldThenMac) {
    const ntp_view v = parse_ntp(cat({ntp_server, extension(0x0104, 16), mac(20)}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.extension_count, 1);
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_offset, 64);
}

TEST(Ntp, TwoExtensionFieldsWithoutMac) {
    const ntp_view v = parse_ntp(cat({ntp_server, extension(0x0104, 16), extension(0x0204, 28)}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.extension_count, 2);
    EXPECT_FALSE(v.has_mac);
}

TEST(Ntp, ExtensionLengthNotMultipleOfFourIsBadLength) {
    EXPECT_EQ(parse_ntp(cat({ntp_server, extension(0x0104, 18), bytes(10, 0)})).st, status::bad_length);
}

TEST(Ntp, ExtensionLengthBelowSixteenIsBadLength) {
    EXPECT_EQ(parse_ntp(cat({ntp_server, extension(0x0104, 8), bytes(8, 0)})).st, status::bad_length);
}

TEST(Ntp, ExtensionLengthPastEndIsBadLength) {
    bytes e = extension(0x0104, 16);
    put16(e, 2, 64);
    EXPECT_EQ(parse_ntp(cat({ntp_server, e})).st, status::bad_length);
}

TEST(Ntp, V4OddTrailerIsBadLength) {
    EXPECT_EQ(parse_ntp(cat({ntp_server, bytes(10, 0)})).st, status::bad_length);
}

TEST(Ntp, V3DesMacAccepted) {
    const ntp_view v = parse_ntp(cat({with_version(ntp_server, 3), mac(8)}));
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.version, 3);
    EXPECT_EQ(v.mac_digest_length, 8);
}

TEST(Ntp, V3HasNoExtensionFields) {
    EXPECT_EQ(parse_ntp(cat({with_version(ntp_server, 3), extension(0x0104, 16)})).st, status::bad_length);
}

TEST(Ntp, VersionZeroAndFiveAreBadVersion) {
    for (const std::uint8_t vn : {0, 5, 7}) {
        const ntp_view v = parse_ntp(with_version(ntp_server, vn));
        EXPECT_EQ(v.st, status::bad_version) << int(vn);
        EXPECT_EQ(v.version, vn);
        EXPECT_EQ(v.mode, ntp_mode::server);
    }
}

TEST(Ntp, EveryCutOfHeaderIsTruncated) {
    for (std::size_t n = 0; n < ntp_server.size(); ++n) {
        const exact_copy c(ntp_server, n);
        EXPECT_EQ(parse_ntp(c.span()).st, status::truncated) << n;
    }
}

TEST(Ntp, EveryCutOfMacIsRejectedExceptLegalBoundaries) {
    const bytes full = cat({ntp_server, mac(16)});
    for (std::size_t n = 48; n < full.size(); ++n) {
        const exact_copy c(full, n);
        const ntp_view v = parse_ntp(c.span());
        // 48: no trailer; 52: looks exactly like a crypto-NAK.
        if (n == 48 || n == 52) {
            EXPECT_EQ(v.st, status::ok) << n;
        } else {
            EXPECT_EQ(v.st, status::bad_length) << n;
        }
    }
}

// ---- Mode 6 ----

// ntpq read-variables request with four bytes of data (RFC 1305 appendix B).
const bytes control_message = {
    0x16, 0x02, 0x00, 0x01,  // VN 2, mode 6; R/E/M 0, opcode 2; sequence 1
    0x00, 0x00, 0x00, 0x00,  // status; association id
    0x00, 0x00, 0x00, 0x04,  // offset 0; count 4
    0x76, 0x3d, 0x31, 0x00,  // "v=1"
};

TEST(NtpControl, FieldByField) {
    const ntp_view v = parse_ntp(control_message);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.mode, ntp_mode::control);
    EXPECT_EQ(v.version, 2);
    EXPECT_EQ(v.control_opcode, 2);
    EXPECT_EQ(v.control_count, 4);
}

TEST(NtpControl, ResponseBitsAreNotOpcode) {
    bytes b = control_message;
    b[1] = 0xc2;  // response, error, opcode 2
    EXPECT_EQ(parse_ntp(b).control_opcode, 2);
}

TEST(NtpControl, CountPastEndIsBadLength) {
    bytes b = control_message;
    put16(b, 10, 5);
    EXPECT_EQ(parse_ntp(b).st, status::bad_length);
}

TEST(NtpControl, EveryCut) {
    for (std::size_t n = 0; n < control_message.size(); ++n) {
        const exact_copy c(control_message, n);
        EXPECT_EQ(parse_ntp(c.span()).st, n == 0 || n < 12 ? status::truncated : status::bad_length) << n;
    }
}

// ---- Mode 7 ----

// ntpdc MON_GETLIST_1 request (implementation 3 = XNTPD, request code 42).
const bytes private_message = {
    0x17, 0x00, 0x03, 0x2a,  // VN 2, mode 7; R/M 0, sequence 0; implementation; request code
    0x00, 0x00, 0x00, 0x00,  // err, item count, mbz, item size
};

TEST(NtpPrivate, FieldByField) {
    const ntp_view v = parse_ntp(private_message);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.mode, ntp_mode::private_);
    EXPECT_EQ(v.implementation, 3);
    EXPECT_EQ(v.request_code, 42);
}

TEST(NtpPrivate, EveryCutIsTruncated) {
    for (std::size_t n = 0; n < private_message.size(); ++n) {
        const exact_copy c(private_message, n);
        EXPECT_EQ(parse_ntp(c.span()).st, status::truncated) << n;
    }
}

}  // namespace
