// NTP MACs (RFC 5905 legacy MD5/SHA-1, RFC 8573 AES-128-CMAC) against digests computed with the
// openssl command line, not with the code under test.
#include <gtest/gtest.h>

#include <vector>

#include "openssl_allocations.hpp"
#include "ports/ntp/mac.hpp"
#include "ports/ntp/symmetric_keys.hpp"

namespace {

using namespace ports::ntp;
using bytes = std::vector<std::uint8_t>;

namespace openssl_allocations = ports::test::openssl_allocations;

bytes hex(std::string_view h) {
    bytes out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
        const std::string pair(h.substr(i, 2));
        out.push_back(static_cast<std::uint8_t>(std::stoi(pair, nullptr, 16)));
    }
    return out;
}

// The 48-byte NTPv4 header signed below (pkt.bin):
//   printf '%s' "2302 06e9 0000 0102 0000 0304 c000 0201 e900 0001 0000 0002 e900 0003 0000 0004
//                e900 0005 0000 0006 e900 0007 0000 0008" | xxd -r -p > pkt.bin
const bytes packet =
    hex("230206e90000010200000304c0000201e900000100000002e900000300000004"
        "e900000500000006e900000700000008");

// (printf 'md5secret'; cat pkt.bin) | openssl dgst -md5 -binary | xxd -p
const bytes md5_digest = hex("517490af18b56e3f2bebf46279479fb3");
// (printf 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334' | xxd -r -p; cat pkt.bin) |
//     openssl dgst -sha1 -binary | xxd -p
const bytes sha1_digest = hex("54f3e694d9d2b9eb4c4959da19dfc0af622fe5f1");
// openssl mac -cipher AES-128-CBC -macopt hexkey:2b7e151628aed2a6abf7158809cf4f3c -in pkt.bin CMAC
const bytes cmac_digest = hex("317a66b79126fe0d0fac6873f060e6de");
// openssl mac -cipher AES-128-CBC -macopt key:0123456789abcdef -in pkt.bin CMAC
const bytes cmac_ascii_digest = hex("d635a5cf02c88fa0e591e77293e530f6");

key_table test_keys() {
    key_table t;
    t.add(make_key("1", "MD5", "md5secret"));
    t.add(make_key("2", "SHA1", "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334"));
    t.add(make_key("3", "AES128CMAC", "2b7e151628aed2a6abf7158809cf4f3c"));
    t.add(make_key("4", "AES", "0123456789abcdef"));
    return t;
}

bytes sign_with(mac_engine& e, const key& k, const bytes& msg) {
    bytes out(max_digest_length, 0);
    out.resize(e.sign(k, msg, out));
    return out;
}

TEST(NtpMac, DigestLengths) {
    EXPECT_EQ(digest_length(key_type::md5), 16u);
    EXPECT_EQ(digest_length(key_type::sha1), 20u);
    EXPECT_EQ(digest_length(key_type::aes128_cmac), 16u);
}

TEST(NtpMac, Md5MatchesOpensslCli) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    EXPECT_EQ(sign_with(e, *keys.find(1), packet), md5_digest);
    EXPECT_TRUE(e.verify(*keys.find(1), packet, md5_digest));
}

TEST(NtpMac, Sha1MatchesOpensslCli) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    EXPECT_EQ(sign_with(e, *keys.find(2), packet), sha1_digest);
    EXPECT_TRUE(e.verify(*keys.find(2), packet, sha1_digest));
}

TEST(NtpMac, AesCmacMatchesOpensslCli) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    EXPECT_EQ(sign_with(e, *keys.find(3), packet), cmac_digest);
    EXPECT_TRUE(e.verify(*keys.find(3), packet, cmac_digest));
    EXPECT_EQ(sign_with(e, *keys.find(4), packet), cmac_ascii_digest);
}

// RFC 4493 section 4, example 1 (empty message) and example 2 (one block).
TEST(NtpMac, AesCmacRfc4493Examples) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    EXPECT_EQ(sign_with(e, *keys.find(3), {}), hex("bb1d6929e95937287fa37d129b756746"));
    EXPECT_EQ(sign_with(e, *keys.find(3), hex("6bc1bee22e409f96e93d7e117393172a")),
              hex("070a16b46b4d4144f79bdd9dd04a287c"));
}

TEST(NtpMac, RepeatedAndInterleavedCallsGiveTheSameDigest) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(sign_with(e, *keys.find(3), packet), cmac_digest);
        EXPECT_EQ(sign_with(e, *keys.find(1), packet), md5_digest);
        EXPECT_EQ(sign_with(e, *keys.find(4), packet), cmac_ascii_digest);
        EXPECT_EQ(sign_with(e, *keys.find(2), packet), sha1_digest);
    }
}

TEST(NtpMac, KeyOutsideTheEngineTableStillWorks) {
    mac_engine e;  // no table: CMAC keys go through the spare context
    const key k = make_key("9", "AES", "HEX:2b7e151628aed2a6abf7158809cf4f3c");
    EXPECT_EQ(sign_with(e, k, packet), cmac_digest);
    EXPECT_TRUE(e.verify(k, packet, cmac_digest));
    // Same id as a bound key but other bytes: must not use the bound context.
    const key_table keys = test_keys();
    mac_engine bound(keys);
    const key other = make_key("3", "AES", "0123456789abcdef");
    EXPECT_EQ(sign_with(bound, other, packet), cmac_ascii_digest);
}

TEST(NtpMac, VerifyRejects) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    bytes bad = sha1_digest;
    bad[19] ^= 0x01;
    EXPECT_FALSE(e.verify(*keys.find(2), packet, bad));
    // Right digest, wrong length for the key type.
    EXPECT_FALSE(e.verify(*keys.find(2), packet, md5_digest));
    EXPECT_FALSE(e.verify(*keys.find(1), packet, sha1_digest));
    EXPECT_FALSE(e.verify(*keys.find(2), packet, {}));
    // Wrong key.
    EXPECT_FALSE(e.verify(*keys.find(3), packet, md5_digest));
    // One bit of the message.
    bytes msg = packet;
    msg[47] ^= 0x80;
    EXPECT_FALSE(e.verify(*keys.find(1), msg, md5_digest));
}

TEST(NtpMac, SignRefusesShortOutput) {
    const key_table keys = test_keys();
    mac_engine e(keys);
    std::array<std::uint8_t, 19> out{};
    EXPECT_EQ(e.sign(*keys.find(2), packet, out), 0u);
    EXPECT_EQ(e.sign(*keys.find(1), packet, out), 16u);
}

TEST(NtpMac, MoveKeepsContexts) {
    const key_table keys = test_keys();
    mac_engine a(keys);
    mac_engine b(std::move(a));
    EXPECT_EQ(sign_with(b, *keys.find(3), packet), cmac_digest);
    mac_engine c;
    c = std::move(b);
    EXPECT_EQ(sign_with(c, *keys.find(2), packet), sha1_digest);
}

// The per-packet promise: once the engine is built and warm, sign/verify with table keys make
// no allocation inside OpenSSL.
TEST(NtpMac, NoAllocationPerPacket) {
    if (!openssl_allocations::installed) {
        GTEST_SKIP() << "OpenSSL allocated before the counting hooks could be installed";
    }
    const key_table keys = test_keys();
    mac_engine e(keys);
    std::array<std::uint8_t, max_digest_length> out{};
    for (const key& k : keys.keys()) {
        ASSERT_EQ(e.sign(k, packet, out), digest_length(k.type));
    }
    const std::uint64_t before = openssl_allocations::count.load();
    for (int i = 0; i < 100; ++i) {
        for (const key& k : keys.keys()) {
            ASSERT_EQ(e.sign(k, packet, out), digest_length(k.type));
        }
        EXPECT_TRUE(e.verify(*keys.find(1), packet, md5_digest));
        EXPECT_TRUE(e.verify(*keys.find(2), packet, sha1_digest));
        EXPECT_TRUE(e.verify(*keys.find(3), packet, cmac_digest));
    }
    EXPECT_EQ(openssl_allocations::count.load() - before, 0u);
}

}  // namespace
