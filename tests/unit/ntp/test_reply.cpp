// RFC 5905 server replies built in place: every field, the drop rules, authentication
// (ntpd's fast_xmit behaviour) and the kiss-o'-death.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ports/ntp/reply.hpp"

namespace {

using namespace ports::ntp;
using ports::parsers::ntp_mode;
using ports::parsers::parse_ntp;
using bytes = std::vector<std::uint8_t>;

bytes hex(std::string_view h) {
    bytes out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
        const std::string pair(h.substr(i, 2));
        out.push_back(static_cast<std::uint8_t>(std::stoi(pair, nullptr, 16)));
    }
    return out;
}

bytes cat(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A client request whose every field is distinct and non-zero, so that a field the reply
// forgets to overwrite shows. Transmit is an odd bit pattern: the origin must copy it as is.
const bytes request = hex(
    "23000a20"            // LI 0, VN 4, mode 3; stratum 0; poll 10; precision 32
    "11223344"            // root delay
    "55667788"            // root dispersion
    "99aabbcc"            // reference id
    "0102030405060708"    // reference timestamp
    "090a0b0c0d0e0f10"    // origin timestamp
    "1112131415161718"    // receive timestamp
    "ff0080017ffe55aa");  // transmit timestamp

constexpr std::uint64_t rx_ts = 0xe900000122222222ull;
constexpr std::uint64_t tx_ts = 0xe900000133333333ull;

clock_state synced_clock() {
    clock_state c;
    c.leap = 0;
    c.synchronized = true;
    c.stratum = 2;
    c.precision = -24;
    c.root_delay = 0x00000123;
    c.root_dispersion = 0x00000456;
    c.refid = 0xc0000201;  // 192.0.2.1
    c.reference_ts = 0xe900000011111111ull;
    return c;
}

// The reply to `request` from synced_clock(), rx_ts and tx_ts, written out by hand from
// RFC 5905 figure 8. It is also reply.bin for the digests below:
//   printf '%s' "2402 0ae8 0000 0123 0000 0456 c000 0201 e900 0000 1111 1111 ff00 8001 7ffe 55aa
//                e900 0001 2222 2222 e900 0001 3333 3333" | xxd -r -p > reply.bin
const bytes expected_reply = hex(
    "24020ae8"            // LI 0, VN 4, mode 4; stratum 2; poll 10 (the request's); precision -24
    "00000123"            // root delay
    "00000456"            // root dispersion
    "c0000201"            // reference id
    "e900000011111111"    // reference timestamp
    "ff0080017ffe55aa"    // origin = the request's transmit
    "e900000122222222"    // receive
    "e900000133333333");  // transmit

// (printf 'md5secret'; cat reply.bin) | openssl dgst -md5 -binary | xxd -p
const bytes reply_md5 = hex("47a233614c52bc33b11dc51868dbf51e");
// (printf 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334' | xxd -r -p; cat reply.bin) |
//     openssl dgst -sha1 -binary | xxd -p
const bytes reply_sha1 = hex("05ff2fe16201f246ca130e3c700e211d283c7535");
// openssl mac -cipher AES-128-CBC -in reply.bin
//     -macopt hexkey:2b7e151628aed2a6abf7158809cf4f3c CMAC
const bytes reply_cmac = hex("c2339bd2ef74cdc39ad11eae369ad026");

key_table test_keys() {
    key_table t;
    t.add(make_key("1", "MD5", "md5secret"));
    t.add(make_key("2", "SHA1", "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334"));
    t.add(make_key("3", "AES128CMAC", "2b7e151628aed2a6abf7158809cf4f3c"));
    return t;
}

struct built {
    reply_result r;
    bytes payload;
};

built respond(bytes payload, const clock_state& clock = synced_clock(),
              const server_config& config = {}, auth_context auth = {}) {
    const auto view = parse_ntp(payload);
    built b{build_reply(payload, view, clock, rx_ts, config, auth), payload};
    b.payload = payload;
    return b;
}

built respond_final(bytes payload, const clock_state& clock = synced_clock(),
                    const server_config& config = {}, auth_context auth = {}) {
    built b = respond(std::move(payload), clock, config, auth);
    if (b.r.act == action::reply) {
        EXPECT_TRUE(finalize_transmit(b.payload, b.r, tx_ts, auth));
    }
    return b;
}

bytes with_first_octet(bytes b, std::uint8_t li, std::uint8_t version, std::uint8_t mode) {
    b[0] = static_cast<std::uint8_t>((li << 6) | (version << 3) | mode);
    return b;
}

// key id then the digest of the packet so far, with the engine (whose digests are checked
// against the openssl command line in test_mac.cpp).
bytes signed_request(const bytes& base, const key& k, mac_engine& e) {
    bytes mac = {0, 0, static_cast<std::uint8_t>(k.id >> 8), static_cast<std::uint8_t>(k.id)};
    bytes digest(digest_length(k.type));
    EXPECT_EQ(e.sign(k, base, digest), digest.size());
    return cat(cat(base, mac), digest);
}

bytes first(const bytes& b, std::size_t n) {
    return bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(NtpReply, EveryFieldOfThe48Bytes) {
    built b = respond(request);
    EXPECT_EQ(b.r.act, action::reply);
    EXPECT_EQ(b.r.reason, drop_reason::none);
    EXPECT_EQ(b.r.reply_length, 48);
    EXPECT_FALSE(b.r.authenticated);
    EXPECT_FALSE(b.r.crypto_nak);
    EXPECT_FALSE(b.r.kod);
    EXPECT_EQ(b.r.sign_key_id, 0);
    // Transmit is a zero placeholder until finalize_transmit.
    bytes before_tx = expected_reply;
    std::fill(before_tx.begin() + 40, before_tx.end(), 0);
    EXPECT_EQ(b.payload, before_tx);

    ASSERT_TRUE(finalize_transmit(b.payload, b.r, tx_ts));
    EXPECT_EQ(b.payload, expected_reply);

    const auto v = parse_ntp(b.payload);
    EXPECT_EQ(v.st, ports::parsers::status::ok);
    EXPECT_EQ(v.li, 0);
    EXPECT_EQ(v.version, 4);
    EXPECT_EQ(v.mode, ntp_mode::server);
    EXPECT_EQ(v.stratum, 2);
    EXPECT_EQ(v.poll, 10);
    EXPECT_EQ(v.precision, -24);
    EXPECT_EQ(v.root_delay, 0x123u);
    EXPECT_EQ(v.root_dispersion, 0x456u);
    EXPECT_EQ(v.refid, 0xc0000201u);
    EXPECT_EQ(v.reference_ts, 0xe900000011111111ull);
    EXPECT_EQ(v.origin_ts, 0xff0080017ffe55aaull);
    EXPECT_EQ(v.receive_ts, rx_ts);
    EXPECT_EQ(v.transmit_ts, tx_ts);
    EXPECT_FALSE(v.has_mac);
}

TEST(NtpReply, VersionIsCopiedForV1ToV4) {
    for (std::uint8_t version = 1; version <= 4; ++version) {
        built b = respond_final(with_first_octet(request, 0, version, 3));
        ASSERT_EQ(b.r.act, action::reply) << int{version};
        EXPECT_EQ(b.payload[0], (version << 3) | 4) << int{version};
        EXPECT_EQ(parse_ntp(b.payload).version, version);
    }
}

TEST(NtpReply, RequestLeapBitsDoNotLeak) {
    built b = respond_final(with_first_octet(request, 3, 4, 3));
    EXPECT_EQ(b.payload[0], 0x24);
}

TEST(NtpReply, PollIsCopied) {
    for (std::uint8_t poll : {0x00, 0x04, 0x11, 0xfd, 0x7f, 0x80}) {
        bytes req = request;
        req[2] = poll;
        built b = respond_final(req);
        EXPECT_EQ(b.payload[2], poll);
    }
}

TEST(NtpReply, LeapFromTheClock) {
    for (std::uint8_t leap = 0; leap <= 3; ++leap) {
        clock_state c = synced_clock();
        c.leap = leap;
        built b = respond_final(request, c);
        EXPECT_EQ(b.payload[0] >> 6, leap);
        EXPECT_EQ(b.payload[1], 2);
    }
}

TEST(NtpReply, UnsynchronizedIsLeap3Stratum0) {
    clock_state c = synced_clock();
    c.synchronized = false;
    built b = respond_final(request, c);
    ASSERT_EQ(b.r.act, action::reply);
    EXPECT_EQ(b.payload[0], 0xe4);  // LI 3, VN 4, mode 4
    EXPECT_EQ(b.payload[1], 0);
    // The rest is still the server's, origin and receive included.
    EXPECT_EQ(first(bytes(b.payload.begin() + 2, b.payload.end()), 46),
              bytes(expected_reply.begin() + 2, expected_reply.end()));

    // Stratum 16 (or 0) means unsynchronized whatever the flag says: 0 on the wire.
    for (std::uint8_t stratum : {0, 16, 17, 255}) {
        clock_state s = synced_clock();
        s.stratum = stratum;
        built x = respond_final(request, s);
        EXPECT_EQ(x.payload[0] >> 6, 3) << int{stratum};
        EXPECT_EQ(x.payload[1], 0) << int{stratum};
    }
    clock_state top = synced_clock();
    top.stratum = 15;
    EXPECT_EQ(respond_final(request, top).payload[1], 15);
}

TEST(NtpReply, ConfigOverridesStratumAndRefid) {
    server_config cfg;
    cfg.stratum = 1;
    cfg.refid = 0x47505300;  // "GPS\0"
    built b = respond_final(request, synced_clock(), cfg);
    EXPECT_EQ(b.payload[1], 1);
    EXPECT_EQ(parse_ntp(b.payload).refid, 0x47505300u);
    clock_state c = synced_clock();
    c.synchronized = false;
    EXPECT_EQ(respond_final(request, c, cfg).payload[1], 0);
}

TEST(NtpReply, OriginIsTheRequestTransmitByteForByte) {
    const std::vector<bytes> patterns = {
        hex("0000000000000000"), hex("ffffffffffffffff"), hex("8000000000000001"),
        hex("0123456789abcdef"), hex("fedcba9876543210"), hex("00000000ffffffff"),
        hex("5555aaaa5555aaaa"), hex("0000000000000001"),
    };
    for (const bytes& xmt : patterns) {
        bytes req = request;
        std::copy(xmt.begin(), xmt.end(), req.begin() + 40);
        built b = respond_final(req);
        EXPECT_EQ(bytes(b.payload.begin() + 24, b.payload.begin() + 32), xmt);
    }
}

TEST(NtpReply, SntpRequestIsAnswered) {
    bytes req(48, 0);
    req[0] = 0x1b;  // LI 0, VN 3, mode 3
    req[40] = 0xde;
    req[47] = 0xad;
    ASSERT_TRUE(parse_ntp(req).sntp_request);
    built b = respond_final(req);
    ASSERT_EQ(b.r.act, action::reply);
    EXPECT_EQ(b.payload[0], 0x1c);
    EXPECT_EQ(b.payload[24], 0xde);
    EXPECT_EQ(b.payload[31], 0xad);
}

TEST(NtpReply, ControlAndPrivateModesDropped) {
    const bytes mode6 = hex("160100010000000000000000");  // ntpq read status
    built b6 = respond(mode6);
    EXPECT_EQ(b6.r.act, action::drop);
    EXPECT_EQ(b6.r.reason, drop_reason::mode6);
    EXPECT_EQ(b6.payload, mode6);

    const bytes mode7 = hex("1700032a00000000");  // ntpdc monlist (MON_GETLIST_1)
    built b7 = respond(mode7);
    EXPECT_EQ(b7.r.act, action::drop);
    EXPECT_EQ(b7.r.reason, drop_reason::mode7);
    EXPECT_EQ(b7.payload, mode7);
    // A monlist request padded to 48 bytes is still mode 7.
    EXPECT_EQ(respond(with_first_octet(request, 0, 2, 7)).r.reason, drop_reason::mode7);
}

TEST(NtpReply, OtherModesDropped) {
    for (std::uint8_t mode : {0, 1, 2, 4, 5}) {
        built b = respond(with_first_octet(request, 0, 4, mode));
        EXPECT_EQ(b.r.act, action::drop) << int{mode};
        EXPECT_EQ(b.r.reason, drop_reason::other_mode) << int{mode};
        EXPECT_EQ(b.payload, with_first_octet(request, 0, 4, mode));
    }
}

TEST(NtpReply, BadVersionAndTruncationAreMalformed) {
    for (std::uint8_t version : {0, 5, 6, 7}) {
        for (std::uint8_t mode : {3, 6, 7}) {
            built b = respond(with_first_octet(request, 0, version, mode));
            EXPECT_EQ(b.r.act, action::drop);
            EXPECT_EQ(b.r.reason, drop_reason::malformed) << int{version} << " " << int{mode};
        }
    }
    EXPECT_EQ(respond(first(request, 47)).r.reason, drop_reason::malformed);
    EXPECT_EQ(respond({0x23}).r.reason, drop_reason::malformed);
    EXPECT_EQ(respond({}).r.reason, drop_reason::malformed);
    // Trailing bytes that are neither a MAC nor an extension field.
    EXPECT_EQ(respond(cat(request, hex("0000000102"))).r.reason, drop_reason::malformed);
}

class NtpAuth : public ::testing::Test {
protected:
    key_table keys = test_keys();
    mac_engine engine{keys};
    auth_context auth{&keys, &engine};
};

TEST_F(NtpAuth, SignedWithSha1) {
    const bytes req = signed_request(request, *keys.find(2), engine);
    built b = respond(req, synced_clock(), {}, auth);
    ASSERT_EQ(b.r.act, action::reply);
    EXPECT_TRUE(b.r.authenticated);
    EXPECT_FALSE(b.r.crypto_nak);
    EXPECT_EQ(b.r.sign_key_id, 2);
    EXPECT_EQ(b.r.reply_length, 48 + 4 + 20);
    ASSERT_TRUE(finalize_transmit(b.payload, b.r, tx_ts, auth));
    EXPECT_EQ(first(b.payload, 48), expected_reply);
    EXPECT_EQ(bytes(b.payload.begin() + 48, b.payload.begin() + 52), hex("00000002"));
    EXPECT_EQ(bytes(b.payload.begin() + 52, b.payload.begin() + 72), reply_sha1);
    const auto v = parse_ntp(first(b.payload, b.r.reply_length));
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_key_id, 2u);
}

TEST_F(NtpAuth, SignedWithMd5) {
    built b = respond_final(signed_request(request, *keys.find(1), engine), synced_clock(), {},
                            auth);
    ASSERT_TRUE(b.r.authenticated);
    EXPECT_EQ(b.r.reply_length, 68);
    EXPECT_EQ(first(b.payload, 48), expected_reply);
    EXPECT_EQ(bytes(b.payload.begin() + 48, b.payload.begin() + 52), hex("00000001"));
    EXPECT_EQ(bytes(b.payload.begin() + 52, b.payload.begin() + 68), reply_md5);
}

TEST_F(NtpAuth, SignedWithAesCmac) {
    built b = respond_final(signed_request(request, *keys.find(3), engine), synced_clock(), {},
                            auth);
    ASSERT_TRUE(b.r.authenticated);
    EXPECT_EQ(b.r.reply_length, 68);
    EXPECT_EQ(first(b.payload, 48), expected_reply);
    EXPECT_EQ(bytes(b.payload.begin() + 48, b.payload.begin() + 52), hex("00000003"));
    EXPECT_EQ(bytes(b.payload.begin() + 52, b.payload.begin() + 68), reply_cmac);
}

void expect_crypto_nak(const built& b) {
    ASSERT_EQ(b.r.act, action::reply);
    EXPECT_FALSE(b.r.authenticated);
    EXPECT_TRUE(b.r.crypto_nak);
    EXPECT_EQ(b.r.sign_key_id, 0);
    EXPECT_EQ(b.r.reply_length, 52);
    EXPECT_EQ(first(b.payload, 48), expected_reply);
    EXPECT_EQ(bytes(b.payload.begin() + 48, b.payload.begin() + 52), hex("00000000"));
    const auto v = parse_ntp(first(b.payload, 52));
    EXPECT_TRUE(v.has_mac);
    EXPECT_EQ(v.mac_digest_length, 0);
}

TEST_F(NtpAuth, UnknownKeyGetsCryptoNak) {
    bytes req = signed_request(request, *keys.find(2), engine);
    req[51] = 9;  // key 9 is not in the table
    expect_crypto_nak(respond_final(req, synced_clock(), {}, auth));
    req[48] = 0x01;  // key id 0x01000009: above 65535
    expect_crypto_nak(respond_final(req, synced_clock(), {}, auth));
    req[48] = 0;
    req[51] = 0;  // key id 0
    expect_crypto_nak(respond_final(req, synced_clock(), {}, auth));
}

TEST_F(NtpAuth, BadDigestGetsCryptoNak) {
    for (std::uint32_t id : {1u, 2u, 3u}) {
        bytes req = signed_request(request, *keys.find(id), engine);
        req.back() ^= 0x01;
        expect_crypto_nak(respond_final(req, synced_clock(), {}, auth));
    }
    // The digest is good but the header was changed in flight.
    bytes req = signed_request(request, *keys.find(2), engine);
    req[2] ^= 0x01;
    built b = respond_final(req, synced_clock(), {}, auth);
    EXPECT_TRUE(b.r.crypto_nak);
}

TEST_F(NtpAuth, DigestLengthOfAnotherTypeGetsCryptoNak) {
    // A 16-byte digest under the SHA-1 key: the key's MAC would be 20 bytes.
    bytes req = signed_request(request, *keys.find(1), engine);
    req[51] = 2;
    expect_crypto_nak(respond_final(req, synced_clock(), {}, auth));
}

TEST_F(NtpAuth, NoKeysMeansCryptoNak) {
    const bytes req = signed_request(request, *keys.find(2), engine);
    expect_crypto_nak(respond_final(req));
    expect_crypto_nak(respond_final(req, synced_clock(), {}, {&keys, nullptr}));
}

TEST_F(NtpAuth, CryptoNakRequestAnsweredPlainly) {
    built b = respond_final(cat(request, hex("00000000")), synced_clock(), {}, auth);
    ASSERT_EQ(b.r.act, action::reply);
    EXPECT_FALSE(b.r.authenticated);
    EXPECT_FALSE(b.r.crypto_nak);
    EXPECT_EQ(b.r.reply_length, 48);
    EXPECT_EQ(first(b.payload, 48), expected_reply);
}

TEST_F(NtpAuth, ExtensionFieldsAnsweredPlainly) {
    // RFC 7822 field (type 0x0104 NTS unique identifier, 36 bytes) then a good SHA-1 MAC over
    // header + field: the field is not supported, so neither is the MAC that covers it.
    bytes ext = hex("01040024");
    ext.resize(36, 0x5a);
    const bytes with_ext = cat(request, ext);
    const bytes req = signed_request(with_ext, *keys.find(2), engine);
    ASSERT_EQ(parse_ntp(req).extension_count, 1);
    ASSERT_TRUE(parse_ntp(req).has_mac);
    built b = respond_final(req, synced_clock(), {}, auth);
    ASSERT_EQ(b.r.act, action::reply);
    EXPECT_FALSE(b.r.authenticated);
    EXPECT_FALSE(b.r.crypto_nak);
    EXPECT_EQ(b.r.reply_length, 48);
    EXPECT_EQ(first(b.payload, 48), expected_reply);
    // No MAC at all: same.
    EXPECT_EQ(respond_final(with_ext, synced_clock(), {}, auth).r.reply_length, 48);
}

TEST_F(NtpAuth, RequireAuth) {
    server_config cfg;
    cfg.require_auth = true;
    built plain = respond(request, synced_clock(), cfg, auth);
    EXPECT_EQ(plain.r.act, action::drop);
    EXPECT_EQ(plain.r.reason, drop_reason::auth_required);
    EXPECT_EQ(plain.payload, request);
    EXPECT_EQ(respond(cat(request, hex("00000000")), synced_clock(), cfg, auth).r.reason,
              drop_reason::auth_required);
    bytes ext = hex("01040010");
    ext.resize(16, 0);
    EXPECT_EQ(respond(cat(request, ext), synced_clock(), cfg, auth).r.reason,
              drop_reason::auth_required);

    built good = respond_final(signed_request(request, *keys.find(3), engine), synced_clock(),
                               cfg, auth);
    EXPECT_TRUE(good.r.authenticated);
    bytes bad = signed_request(request, *keys.find(3), engine);
    bad.back() ^= 0x10;
    expect_crypto_nak(respond_final(bad, synced_clock(), cfg, auth));
}

TEST_F(NtpAuth, ReplyNeverLongerThanRequest) {
    std::vector<bytes> requests = {request, cat(request, hex("00000000"))};
    for (std::uint32_t id : {1u, 2u, 3u}) {
        requests.push_back(signed_request(request, *keys.find(id), engine));
        bytes bad = requests.back();
        bad.back() ^= 1;
        requests.push_back(bad);
        bad[51] = 77;
        requests.push_back(bad);
    }
    for (std::uint8_t version = 1; version <= 3; ++version) {
        // NTPv3 and older may carry a DES-CBC MAC (key id + 8 bytes): no key type here has an
        // 8-byte digest, so it cannot verify: crypto-NAK.
        const bytes des_mac = hex("000000010102030405060708");
        requests.push_back(cat(with_first_octet(request, 0, version, 3), des_mac));
    }
    for (const bytes& req : requests) {
        built b = respond_final(req, synced_clock(), {}, auth);
        ASSERT_EQ(b.r.act, action::reply);
        EXPECT_LE(b.r.reply_length, req.size());
        built k = respond_final(req, synced_clock(), {}, auth);
        EXPECT_LE(build_kod_rate(k.payload, parse_ntp(req), synced_clock(), rx_ts).reply_length,
                  req.size());
    }
}

TEST_F(NtpAuth, ReplyLongerThanPayloadIsDropped) {
    // A view that claims a MAC the span does not hold (a caller passing the wrong span): the
    // crypto-NAK would need 52 bytes and only 48 are there.
    const bytes req = signed_request(request, *keys.find(1), engine);
    const auto view = parse_ntp(req);
    bytes short_payload = request;
    const reply_result r = build_reply(short_payload, view, synced_clock(), rx_ts, {}, auth);
    EXPECT_EQ(r.act, action::drop);
    EXPECT_EQ(r.reason, drop_reason::too_short);
    EXPECT_EQ(short_payload, request);
}

TEST_F(NtpAuth, FinalizeRefusesWhatItCannotSign) {
    built b = respond(signed_request(request, *keys.find(2), engine), synced_clock(), {}, auth);
    ASSERT_TRUE(b.r.authenticated);
    EXPECT_FALSE(finalize_transmit(b.payload, b.r, tx_ts));  // no keys given
    const key_table other;
    EXPECT_FALSE(finalize_transmit(b.payload, b.r, tx_ts, {&other, &engine}));
    const std::span<std::uint8_t> cut = std::span<std::uint8_t>(b.payload).first(60);
    EXPECT_FALSE(finalize_transmit(cut, b.r, tx_ts, auth));
    reply_result dropped;
    EXPECT_FALSE(finalize_transmit(b.payload, dropped, tx_ts, auth));
    EXPECT_TRUE(finalize_transmit(b.payload, b.r, tx_ts, auth));
}

TEST(NtpKod, RateKissOfDeath) {
    bytes payload = request;
    const reply_result r = build_kod_rate(payload, parse_ntp(payload), synced_clock(), rx_ts);
    ASSERT_EQ(r.act, action::reply);
    EXPECT_TRUE(r.kod);
    EXPECT_FALSE(r.authenticated);
    EXPECT_EQ(r.reply_length, 48);
    ASSERT_TRUE(finalize_transmit(payload, r, tx_ts));
    const auto v = parse_ntp(payload);
    EXPECT_EQ(v.li, 3);
    EXPECT_EQ(v.version, 4);
    EXPECT_EQ(v.mode, ntp_mode::server);
    EXPECT_EQ(v.stratum, 0);
    EXPECT_EQ(v.poll, 10);
    EXPECT_EQ(bytes(payload.begin() + 12, payload.begin() + 16), bytes({'R', 'A', 'T', 'E'}));
    EXPECT_EQ(v.origin_ts, 0xff0080017ffe55aaull);
    EXPECT_EQ(v.receive_ts, rx_ts);
    EXPECT_EQ(v.transmit_ts, tx_ts);
    EXPECT_EQ(v.precision, -24);
}

TEST(NtpKod, SignedRequestGetsAPlain48ByteKod) {
    const key_table keys = test_keys();
    mac_engine engine(keys);
    bytes payload = signed_request(request, *keys.find(2), engine);
    const reply_result r = build_kod_rate(payload, parse_ntp(payload), synced_clock(), rx_ts);
    EXPECT_EQ(r.reply_length, 48);
    EXPECT_FALSE(r.authenticated);
}

TEST(NtpKod, OnlyForClientRequests) {
    bytes mode6 = hex("160100010000000000000000");
    EXPECT_EQ(build_kod_rate(mode6, parse_ntp(mode6), synced_clock(), rx_ts).reason,
              drop_reason::mode6);
    bytes sym = with_first_octet(request, 0, 4, 1);
    EXPECT_EQ(build_kod_rate(sym, parse_ntp(sym), synced_clock(), rx_ts).reason,
              drop_reason::other_mode);
    bytes v0 = with_first_octet(request, 0, 0, 3);
    EXPECT_EQ(build_kod_rate(v0, parse_ntp(v0), synced_clock(), rx_ts).reason,
              drop_reason::malformed);
}

// The fast path's plain reply is build_reply's, byte for byte and in every field of the
// result, for every 48-byte client request over clocks and configurations that exercise each
// header field (leap, sync, stratum bounds, overrides); other requests are not plain ones.
TEST(NtpReply, PlainReplyEqualsBuildReply) {
    std::mt19937_64 rng(7);
    int compared = 0;
    for (int i = 0; i < 20000; ++i) {
        bytes req(48);
        for (auto& b : req) {
            b = static_cast<std::uint8_t>(rng());
        }
        if (i % 3 != 0) {
            // Mostly client requests of a random version 0..7; else any first octet.
            req[0] = static_cast<std::uint8_t>((req[0] & 0xC0) | ((i % 8) << 3) | 3);
        }
        clock_state c;
        c.leap = static_cast<std::uint8_t>(rng() % 4);
        c.synchronized = rng() % 4 != 0;
        c.stratum = static_cast<std::uint8_t>(rng() % 18);
        c.precision = static_cast<std::int8_t>(rng());
        c.root_delay = static_cast<std::uint32_t>(rng());
        c.root_dispersion = static_cast<std::uint32_t>(rng());
        c.refid = static_cast<std::uint32_t>(rng());
        c.reference_ts = rng();
        server_config cfg;
        if (rng() % 3 == 0) {
            cfg.stratum = static_cast<std::uint8_t>(rng() % 17);
            cfg.refid = static_cast<std::uint32_t>(rng());
        }
        const std::uint64_t rx = rng();
        const bool plain = is_plain_client_request(req);
        const auto view = parse_ntp(req);
        const bool expected_plain = view.st == ports::parsers::status::ok &&
                                    view.mode == ntp_mode::client && !view.has_mac &&
                                    view.extension_count == 0 && req.size() == 48;
        ASSERT_EQ(plain, expected_plain) << i;
        if (!plain) {
            continue;
        }
        bytes slow = req;
        bytes fast = req;
        const reply_result a = build_reply(slow, view, c, rx, cfg);
        const reply_result b =
            build_plain_reply(fast, make_reply_header(c, cfg.stratum, cfg.refid, false), rx);
        ASSERT_EQ(slow, fast) << i;
        ASSERT_EQ(a.act, b.act);
        ASSERT_EQ(a.reason, b.reason);
        ASSERT_EQ(a.reply_length, b.reply_length);
        ASSERT_EQ(a.authenticated, b.authenticated);
        ASSERT_EQ(a.crypto_nak, b.crypto_nak);
        ASSERT_EQ(a.kod, b.kod);
        ASSERT_EQ(a.sign_key_id, b.sign_key_id);
        ++compared;
    }
    EXPECT_GT(compared, 5000);
}

}  // namespace
