// Key files in the formats of ntpd, ntpsec and chrony, and every way one can be wrong.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ports/ntp/symmetric_keys.hpp"

namespace {

using namespace ports::ntp;

std::string bytes_of(const key& k) {
    return std::string(k.bytes().begin(), k.bytes().end());
}

// The message of the key_error the text raises, or "" when it parses.
std::string error_of(std::string_view text) {
    try {
        (void)parse_key_file(text, "ntp.keys");
    } catch (const key_error& e) {
        return e.what();
    }
    return "";
}

TEST(NtpKeys, ParsesEveryAcceptedForm) {
    const key_table t = parse_key_file(
        "# ntpd style\n"
        "1 M ascii1\n"
        "2 MD5 pass#comment right after\n"
        "3 SHA1 a1b2c3d4e5f60718293a4b5c6d7e8f9001122334   # 40 hex digits\n"
        "\n"
        "   \t  \n"
        "4\tsha-1\tHEX:0102\n"
        "5 AES128CMAC 2b7e151628aed2a6abf7158809cf4f3c\n"
        "6 AES 0123456789abcdef\n"                         // ntpsec: 16 ASCII characters
        "7 aes128 HEX:2B7E151628AED2A6ABF7158809CF4F3C\n"  // chrony
        "8 AES-128-CMAC ASCII:0123456789abcdef\r\n"
        "9 cmac 000102030405060708090a0b0c0d0e0f\n"
        "10 ASCII:a-password-longer-than-20-characters\n"  // chrony, type left out
        "65535 sha1 exactly20characters!\n",
        "ntp.keys");
    ASSERT_EQ(t.size(), 11u);

    EXPECT_EQ(t.find(1)->type, key_type::md5);
    EXPECT_EQ(bytes_of(*t.find(1)), "ascii1");
    EXPECT_EQ(bytes_of(*t.find(2)), "pass");
    EXPECT_EQ(t.find(3)->type, key_type::sha1);
    EXPECT_EQ(t.find(3)->length, 20);
    EXPECT_EQ(t.find(3)->material[0], 0xa1);
    EXPECT_EQ(t.find(3)->material[19], 0x34);
    EXPECT_EQ(t.find(4)->type, key_type::sha1);
    EXPECT_EQ(t.find(4)->length, 2);
    EXPECT_EQ(t.find(4)->material[1], 0x02);
    for (std::uint32_t id : {5u, 6u, 7u, 8u, 9u}) {
        EXPECT_EQ(t.find(id)->type, key_type::aes128_cmac) << id;
        EXPECT_EQ(t.find(id)->length, 16) << id;
    }
    EXPECT_EQ(t.find(5)->material, t.find(7)->material);
    EXPECT_EQ(bytes_of(*t.find(6)), "0123456789abcdef");
    EXPECT_EQ(bytes_of(*t.find(8)), "0123456789abcdef");
    EXPECT_EQ(t.find(9)->material[15], 0x0f);
    EXPECT_EQ(t.find(10)->type, key_type::md5);
    EXPECT_EQ(bytes_of(*t.find(10)), "a-password-longer-than-20-characters");
    EXPECT_EQ(bytes_of(*t.find(65535)), "exactly20characters!");
}

TEST(NtpKeys, LookupOfAbsentIds) {
    const key_table t = parse_key_file("7 MD5 x\n", "k");
    EXPECT_NE(t.find(7), nullptr);
    EXPECT_EQ(t.find(0), nullptr);
    EXPECT_EQ(t.find(8), nullptr);
    EXPECT_EQ(t.find(65536), nullptr);
    EXPECT_EQ(t.find(0xFFFFFFFF), nullptr);
    EXPECT_EQ(t.find(7 + 65536), nullptr);  // no wrap-around of the 32-bit wire id
    EXPECT_EQ(t.slot_of(*t.find(7)), 0u);
}

TEST(NtpKeys, EmptyFileIsAnEmptyTable) {
    EXPECT_TRUE(parse_key_file("", "k").empty());
    EXPECT_TRUE(parse_key_file("# nothing\n\n", "k").empty());
}

TEST(NtpKeys, ErrorsNameFileAndLine) {
    EXPECT_EQ(error_of("1 MD5 ok\n\n3"), "ntp.keys:3: missing key (KEYID TYPE KEY)");
    EXPECT_EQ(error_of("1 SHA1\n"), "ntp.keys:1: missing key (KEYID TYPE KEY)");
    EXPECT_EQ(error_of("x MD5 k\n"), "ntp.keys:1: key id 'x' is not a number");
    EXPECT_EQ(error_of("1x MD5 k\n"), "ntp.keys:1: key id '1x' is not a number");
    EXPECT_EQ(error_of("-1 MD5 k\n"), "ntp.keys:1: key id '-1' is not a number");
    EXPECT_EQ(error_of("0 MD5 k\n"), "ntp.keys:1: key id '0' out of range 1..65535");
    EXPECT_EQ(error_of("65536 MD5 k\n"), "ntp.keys:1: key id '65536' out of range 1..65535");
    EXPECT_EQ(error_of("99999999999 MD5 k\n"),
              "ntp.keys:1: key id '99999999999' out of range 1..65535");
    EXPECT_EQ(error_of("1 SHA256 k\n"),
              "ntp.keys:1: unsupported key type 'SHA256' (MD5, SHA1 or AES128CMAC)");
    EXPECT_EQ(error_of("1 SHA k\n"),
              "ntp.keys:1: unsupported key type 'SHA' (MD5, SHA1 or AES128CMAC)");
    EXPECT_EQ(error_of("1 SHA1 HEX:abc\n"), "ntp.keys:1: hex key has an odd number of digits");
    EXPECT_EQ(error_of("1 SHA1 a1b2c3d4e5f60718293a4b5c6d7e8f900112233\n"),
              "ntp.keys:1: hex key has an odd number of digits");
    EXPECT_EQ(error_of("# a\n1 MD5 this-is-not-hex-but-longer-than-20\n"),
              "ntp.keys:2: invalid hex digit in key (a key of more than 20 characters is hex; "
              "prefix it with ASCII: for a long password)");
    EXPECT_EQ(error_of("1 MD5 HEX:\n"), "ntp.keys:1: empty key");
    EXPECT_EQ(error_of("1 MD5 ASCII:\n"), "ntp.keys:1: empty key");
    EXPECT_EQ(error_of("1 MD5 HEX:" + std::string(130, 'a') + "\n"),
              "ntp.keys:1: key longer than 64 bytes");
    EXPECT_EQ(error_of("1 MD5 ASCII:" + std::string(65, 'a') + "\n"),
              "ntp.keys:1: key longer than 64 bytes");
    EXPECT_EQ(error_of("1 MD5 ab\x01"
                       "cd\n"),
              "ntp.keys:1: non-printable character in ASCII key");
    EXPECT_EQ(error_of("1 MD5 caf\xc3\xa9\n"), "ntp.keys:1: non-printable character in ASCII key");
    EXPECT_EQ(error_of("1 AES 0123456789abcde\n"),
              "ntp.keys:1: AES-128-CMAC key must be 16 bytes (32 hex digits or 16 ASCII "
              "characters), not 15");
    EXPECT_EQ(error_of("1 AES 2b7e151628aed2a6abf7158809cf4f3c00\n"),
              "ntp.keys:1: AES-128-CMAC key must be 16 bytes (32 hex digits or 16 ASCII "
              "characters), not 17");
    EXPECT_EQ(error_of("1 MD5 a\n2 SHA1 b\n1 MD5 c\n"), "ntp.keys:3: duplicate key id 1");
    EXPECT_EQ(error_of("1 MD5 key 192.0.2.1\n"),
              "ntp.keys:1: unexpected field '192.0.2.1' after the key (per-key address lists "
              "are not supported)");
    EXPECT_EQ(error_of("1 MD5 key a b c\n"),
              "ntp.keys:1: unexpected field 'a' after the key (per-key address lists are not "
              "supported)");
}

TEST(NtpKeys, TableAddChecks) {
    key_table t;
    key k;
    k.id = 0;
    k.length = 1;
    EXPECT_THROW(t.add(k), key_error);
    k.id = 5;
    k.length = 0;
    EXPECT_THROW(t.add(k), key_error);
    k.type = key_type::aes128_cmac;
    k.length = 8;
    EXPECT_THROW(t.add(k), key_error);
    k.length = 16;
    t.add(k);
    EXPECT_THROW(t.add(k), key_error);
    EXPECT_EQ(t.size(), 1u);
}

TEST(NtpKeys, LoadFromFile) {
    const std::string path = ::testing::TempDir() + "ntp-keys-test.keys";
    {
        std::ofstream out(path);
        out << "# test\n42 SHA1 HEX:00112233445566778899aabbccddeeff00112233\n2 MD5\n";
    }
    try {
        (void)load_key_file(path);
        ADD_FAILURE() << "no error";
    } catch (const key_error& e) {
        EXPECT_EQ(std::string(e.what()), path + ":3: missing key (KEYID TYPE KEY)");
    }
    {
        std::ofstream out(path);
        out << "42 SHA1 HEX:00112233445566778899aabbccddeeff00112233\n";
    }
    const key_table t = load_key_file(path);
    ASSERT_NE(t.find(42), nullptr);
    EXPECT_EQ(t.find(42)->length, 20);
    std::remove(path.c_str());
    try {
        (void)load_key_file(path);
        ADD_FAILURE() << "no error";
    } catch (const key_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  path + ": cannot open the key file: No such file or directory");
    }
}

}  // namespace
