// parse_nts_request over requests laid out as chrony sends them (UID 32 bytes, one cookie of
// 104 bytes, placeholders, Authenticator with a 16-byte nonce and a 16-byte ciphertext), and
// over every way of breaking them: truncations, lying lengths, missing fields, placeholders of
// the wrong size, fields after the Authenticator.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ports/parsers/nts.hpp"

namespace {

using namespace ports::parsers;
using bytes = std::vector<std::uint8_t>;

void put16(bytes& b, std::size_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}

// An EF with a body of `body_length` bytes of `fill`.
void put_ef(bytes& b, std::uint16_t type, std::size_t body_length, std::uint8_t fill = 0) {
    put16(b, type);
    put16(b, 4 + body_length);
    b.insert(b.end(), body_length, fill);
}

bytes header() {
    bytes b(48, 0);
    b[0] = 0x23;
    b[40] = 0xE9;  // some transmit timestamp
    return b;
}

// The Authenticator: nonce length, ciphertext length, padded nonce, padded ciphertext, extra.
void put_auth(bytes& b, std::size_t nonce_length = 16, std::size_t ciphertext_length = 16,
              std::size_t extra = 0) {
    const auto pad4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
    const std::size_t body = 4 + pad4(nonce_length) + pad4(ciphertext_length) + extra;
    put16(b, nts_ef_authenticator);
    put16(b, 4 + body);
    put16(b, nonce_length);
    put16(b, ciphertext_length);
    b.insert(b.end(), nonce_length, 0xAA);
    b.insert(b.end(), pad4(nonce_length) - nonce_length, 0);
    b.insert(b.end(), ciphertext_length, 0xCC);
    b.insert(b.end(), pad4(ciphertext_length) - ciphertext_length, 0);
    b.insert(b.end(), extra, 0);
}

bytes chrony_request(unsigned placeholders = 0) {
    bytes b = header();
    put_ef(b, nts_ef_unique_identifier, 32, 0x11);
    put_ef(b, nts_ef_cookie, 104, 0x22);
    for (unsigned i = 0; i < placeholders; ++i) {
        put_ef(b, nts_ef_cookie_placeholder, 104);
    }
    put_auth(b);
    return b;
}

nts_request_view parse(const bytes& b) {
    return parse_nts_request(byte_span(b.data(), b.size()));
}

TEST(NtsParse, ChronyShapedRequest) {
    for (unsigned p = 0; p < 8; ++p) {
        const bytes b = chrony_request(p);
        const auto v = parse(b);
        ASSERT_EQ(v.st, status::ok) << p;
        EXPECT_TRUE(v.is_nts);
        EXPECT_EQ(v.uid_offset, 48);
        EXPECT_EQ(v.uid_length, 36);
        EXPECT_EQ(v.unique_id.data(), b.data() + 52);
        EXPECT_EQ(v.unique_id.size(), 32u);
        EXPECT_EQ(v.cookie.data(), b.data() + 88);
        EXPECT_EQ(v.cookie.size(), 104u);
        EXPECT_EQ(v.cookies, 1);
        EXPECT_EQ(v.placeholders, p);
        if (p != 0) {
            EXPECT_EQ(v.placeholder_body, 104);
        }
        const std::size_t auth = 48 + 36 + 108 * (1 + p);
        EXPECT_EQ(v.auth_offset, auth);
        EXPECT_EQ(v.auth_length, 40);
        EXPECT_EQ(v.auth_offset + v.auth_length, b.size());
        EXPECT_EQ(v.auth_nonce.data(), b.data() + auth + 8);
        EXPECT_EQ(v.auth_nonce.size(), 16u);
        EXPECT_EQ(v.auth_ciphertext.data(), b.data() + auth + 24);
        EXPECT_EQ(v.auth_ciphertext.size(), 16u);
    }
}

TEST(NtsParse, PlainNtpIsNotNts) {
    const bytes b = header();
    const auto v = parse(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_FALSE(v.is_nts);
    EXPECT_EQ(v.auth_offset, 0);
}

TEST(NtsParse, ShorterThanHeader) {
    const bytes b = chrony_request();
    for (std::size_t n = 0; n < 48; ++n) {
        EXPECT_EQ(parse_nts_request(byte_span(b.data(), n)).st, status::truncated) << n;
    }
}

// Every cut inside the extension fields: either an EF header cut off or an EF running past
// the end (truncated), never ok and never a read beyond the span (ASan runs catch that).
TEST(NtsParse, EveryTruncation) {
    const bytes b = chrony_request(2);
    const std::size_t boundaries[] = {48, 84, 192, 300, 408};
    for (std::size_t n = 49; n < b.size(); ++n) {
        bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
        const auto v = parse(cut);
        bool at_boundary = false;
        for (std::size_t x : boundaries) {
            at_boundary |= x == n;
        }
        if (at_boundary) {
            // Whole EFs, no Authenticator yet: well-formed but incomplete for the server.
            EXPECT_EQ(v.st, status::ok) << n;
            EXPECT_EQ(v.auth_offset, 0) << n;
        } else {
            EXPECT_EQ(v.st, status::truncated) << n;
        }
    }
}

TEST(NtsParse, LyingEfLengths) {
    const bytes good = chrony_request(1);
    // The UID's length field (offset 50): under 16, not a multiple of 4, beyond the end.
    for (std::size_t len : {0u, 4u, 12u, 15u, 37u, 38u, 39u}) {
        bytes b = good;
        b[50] = static_cast<std::uint8_t>(len >> 8);
        b[51] = static_cast<std::uint8_t>(len);
        EXPECT_EQ(parse(b).st, status::bad_length) << len;
    }
    for (std::size_t len : {good.size() - 48 + 4, std::size_t{0xFFFC}}) {
        bytes b = good;
        b[50] = static_cast<std::uint8_t>(len >> 8);
        b[51] = static_cast<std::uint8_t>(len);
        EXPECT_EQ(parse(b).st, status::truncated) << len;
    }
    // A length that lands the walk inside another EF: whatever it reads there must not be ok
    // with the same fields (here: the cookie's bytes 0x22 read as a length field).
    bytes b = good;
    b[51] = 40;  // UID claims 40 bytes: the walk continues at 88, inside the cookie EF
    const auto v = parse(b);
    EXPECT_NE(v.st, status::ok);
}

TEST(NtsParse, UidTooShort) {
    bytes b = header();
    put_ef(b, nts_ef_unique_identifier, 28);
    put_ef(b, nts_ef_cookie, 104);
    put_auth(b);
    EXPECT_EQ(parse(b).st, status::bad_length);
}

TEST(NtsParse, LongerUidAccepted) {
    bytes b = header();
    put_ef(b, nts_ef_unique_identifier, 64);
    put_ef(b, nts_ef_cookie, 104);
    put_auth(b);
    const auto v = parse(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.uid_length, 68);
}

TEST(NtsParse, SecondUidRefused) {
    bytes b = header();
    put_ef(b, nts_ef_unique_identifier, 32);
    put_ef(b, nts_ef_cookie, 104);
    put_ef(b, nts_ef_unique_identifier, 32);
    put_auth(b);
    EXPECT_EQ(parse(b).st, status::bad_value);
}

TEST(NtsParse, MissingUidOrCookie) {
    {
        bytes b = header();
        put_ef(b, nts_ef_cookie, 104);
        put_auth(b);
        const auto v = parse(b);
        EXPECT_EQ(v.st, status::ok);
        EXPECT_FALSE(v.is_nts);
    }
    {
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie_placeholder, 104);
        put_auth(b);
        const auto v = parse(b);
        EXPECT_EQ(v.st, status::ok);
        EXPECT_FALSE(v.is_nts);
    }
    {
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie, 104);
        const auto v = parse(b);  // no Authenticator: parsed, the server refuses it
        EXPECT_EQ(v.st, status::ok);
        EXPECT_TRUE(v.is_nts);
        EXPECT_EQ(v.auth_offset, 0);
    }
}

TEST(NtsParse, PlaceholdersOfTheWrongSize) {
    {
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie, 104);
        put_ef(b, nts_ef_cookie_placeholder, 100);
        put_auth(b);
        EXPECT_EQ(parse(b).st, status::bad_length);
    }
    {
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie, 104);
        put_ef(b, nts_ef_cookie_placeholder, 104);
        put_ef(b, nts_ef_cookie_placeholder, 108);
        put_auth(b);
        EXPECT_EQ(parse(b).st, status::bad_length);
    }
    {
        // Before the cookie: checked once the cookie is known.
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie_placeholder, 108);
        put_ef(b, nts_ef_cookie, 104);
        put_auth(b);
        const auto v = parse(b);
        EXPECT_EQ(v.st, status::bad_length);
        EXPECT_TRUE(v.is_nts);  // an NTS request, malformed
    }
    {
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie_placeholder, 104);
        put_ef(b, nts_ef_cookie, 104);
        put_auth(b);
        EXPECT_EQ(parse(b).st, status::ok);
    }
}

TEST(NtsParse, UnknownFieldsBeforeTheAuthenticatorIgnored) {
    bytes b = header();
    put_ef(b, 0x7777, 12);
    put_ef(b, nts_ef_unique_identifier, 32);
    put_ef(b, 0x0002, 20);
    put_ef(b, nts_ef_cookie, 104);
    put_auth(b);
    const auto v = parse(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_TRUE(v.is_nts);
    EXPECT_EQ(v.uid_offset, 64);
    EXPECT_EQ(v.auth_offset, 48 + 16 + 36 + 24 + 108);
}

TEST(NtsParse, FieldsAfterTheAuthenticatorRefused) {
    for (std::uint16_t type : {std::uint16_t{0x7777}, nts_ef_cookie, nts_ef_authenticator}) {
        bytes b = chrony_request(1);
        put_ef(b, type, 12);
        const auto v = parse(b);
        EXPECT_EQ(v.st, status::bad_value) << type;
        EXPECT_TRUE(v.is_nts);
    }
    // Trailing bytes that are no EF (a legacy MAC's key id and digest, garbage): refused too.
    for (std::size_t n : {1u, 3u, 4u, 20u, 24u}) {
        bytes b = chrony_request();
        b.insert(b.end(), n, 0);
        EXPECT_NE(parse(b).st, status::ok) << n;
    }
}

TEST(NtsParse, AuthenticatorLayouts) {
    auto with_auth = [](std::size_t nonce, std::size_t ct, std::size_t extra) {
        bytes b = header();
        put_ef(b, nts_ef_unique_identifier, 32);
        put_ef(b, nts_ef_cookie, 104);
        put_auth(b, nonce, ct, extra);
        return b;
    };
    // Encrypted EFs in the ciphertext, a longer nonce, unaligned lengths padded.
    for (auto [nonce, ct, extra] :
         {std::tuple{16u, 16u + 28u, 0u}, std::tuple{32u, 16u, 0u}, std::tuple{17u, 18u, 0u},
          std::tuple{16u, 16u, 8u}, std::tuple{12u, 16u, 4u}, std::tuple{1u, 16u, 16u}}) {
        const bytes b = with_auth(nonce, ct, extra);
        const auto v = parse(b);
        ASSERT_EQ(v.st, status::ok) << nonce << " " << ct << " " << extra;
        EXPECT_EQ(v.auth_nonce.size(), nonce);
        EXPECT_EQ(v.auth_ciphertext.size(), ct);
        EXPECT_EQ(v.auth_ciphertext.data(), v.auth_nonce.data() + ((nonce + 3) & ~std::size_t{3}));
    }
    // A short nonce without the padding RFC 8915 5.6 asks for, an empty nonce, a ciphertext
    // shorter than the tag.
    for (auto [nonce, ct, extra] :
         {std::tuple{12u, 16u, 0u}, std::tuple{8u, 16u, 4u}, std::tuple{0u, 16u, 16u},
          std::tuple{16u, 15u, 0u}, std::tuple{16u, 0u, 16u}}) {
        EXPECT_EQ(parse(with_auth(nonce, ct, extra)).st, status::bad_length)
            << nonce << " " << ct << " " << extra;
    }
    // Lengths inside the body that claim more than the body holds.
    for (std::size_t field : {0u, 2u}) {
        bytes b = chrony_request();
        const std::size_t auth = b.size() - 40;
        b[auth + 4 + field] = 0;
        b[auth + 5 + field] = 17;  // 17 pads to 20: 4 + 20 + 16 > 36
        EXPECT_EQ(parse(b).st, status::bad_length) << field;
        b[auth + 4 + field] = 0xFF;
        EXPECT_EQ(parse(b).st, status::bad_length) << field;
    }
    // An Authenticator EF too short to hold its own two lengths is still an EF (>= 16).
    bytes b = header();
    put_ef(b, nts_ef_unique_identifier, 32);
    put_ef(b, nts_ef_cookie, 104);
    put_ef(b, nts_ef_authenticator, 12);
    EXPECT_EQ(parse(b).st, status::bad_length);
}

TEST(NtsParse, CookieCountsSaturate) {
    bytes b = header();
    put_ef(b, nts_ef_unique_identifier, 32);
    for (int i = 0; i < 300; ++i) {
        put_ef(b, nts_ef_cookie, 12);
    }
    put_auth(b);
    const auto v = parse(b);
    EXPECT_EQ(v.st, status::ok);
    EXPECT_EQ(v.cookies, 255);
}

TEST(NtsParse, OversizedPayload) {
    bytes b(0x10000, 0);
    EXPECT_EQ(parse(b).st, status::bad_length);
}

}  // namespace
