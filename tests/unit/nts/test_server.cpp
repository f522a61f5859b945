// The fast path's NTS reply: a real key ring and real cookies, requests built as a client
// builds them (tests/support/nts_request.hpp), replies checked as a client checks them.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "../../support/nts_request.hpp"
#include "openssl_allocations.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts/server.hpp"

// Heap allocations of the whole program, for the per-packet promise (no allocation). The
// replaceable global operator new: no other file of nts-tests may define one.
namespace {
std::atomic<long> heap_allocations{0};
// Out of line: inlined into a delete expression, free() after new reads to gcc as a mismatch.
[[gnu::noinline]] void release(void* p) noexcept {
    std::free(p);
}
}  // namespace

void* operator new(std::size_t n) {
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    release(p);
}
void operator delete(void* p, std::size_t) noexcept {
    release(p);
}

namespace {

using namespace ports;
using namespace ports::nts;
using namespace ports::nts::test_support;

// OpenSSL's own allocations too: counted when the hooks went in before OpenSSL's first one,
// else that half of the check is skipped.
namespace openssl_allocations = ports::test::openssl_allocations;

constexpr std::uint64_t request_tx = 0xE9A1B2C3D4E5F607ull;
constexpr std::size_t buffer_capacity = 2048;

// A request in a buffer of buffer_capacity bytes, as an mbuf holds it.
struct packet {
    std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(buffer_capacity, 0xEE);
    std::size_t length = 0;
    built_request built;
    std::span<std::uint8_t> payload() { return {buffer.data(), length}; }
    parsers::nts_request_view parse() const {
        return parsers::parse_nts_request(parsers::byte_span(buffer.data(), length));
    }
};

packet make_packet(const built_request& r) {
    packet p;
    p.built = r;
    p.length = r.packet.size();
    std::copy(r.packet.begin(), r.packet.end(), p.buffer.begin());
    return p;
}

// What the service does between prepare and seal: the mode 4 header, the transmit stamp.
void write_header(std::span<std::uint8_t> payload) {
    std::uint8_t origin[8];
    std::memcpy(origin, payload.data() + 40, 8);
    payload[0] = 0x24;  // LI 0, version 4, mode 4
    payload[1] = 2;
    std::memset(payload.data() + 4, 0, 20);
    std::memcpy(payload.data() + 24, origin, 8);
    for (int i = 0; i < 16; ++i) {
        payload[32 + i] = static_cast<std::uint8_t>(0x40 + i);
    }
}

class NtsServer : public ::testing::Test {
  protected:
    void SetUp() override {
        ring.rotate(1'700'000'000);
        keys = random_session();
        c2s.set_key(keys.c2s);
        s2c.set_key(keys.s2c);
        cookie = cookie_for(*ring.current(), keys);
    }

    packet request(unsigned placeholders = 0, const bytes& encrypted = {}) {
        request_options o;
        o.transmit_ts = request_tx;
        o.cookie = cookie;
        o.placeholders = placeholders;
        o.encrypted = encrypted;
        return make_packet(build_request(c2s, o));
    }

    prepared_reply prepare(packet& p, std::size_t capacity = buffer_capacity) {
        return prepare_reply(p.payload(), capacity, p.parse(), ring, nonces);
    }

    // prepare, header, seal, then the client's check.
    checked_reply round_trip(packet& p, prepared_reply& r) {
        r = prepare(p);
        if (r.what != verdict::reply) {
            return {};
        }
        const std::span<std::uint8_t> reply(p.buffer.data(), r.reply_length);
        write_header(reply);
        seal_reply(reply, r, nonces);
        return check_reply(reply, s2c, p.built.uid);
    }

    key_ring ring;
    session_keys keys;
    aes_siv c2s, s2c;
    bytes cookie;
    nonce_source nonces;
};

TEST_F(NtsServer, ReplyDecryptsAndCarriesWorkingCookies) {
    for (unsigned placeholders = 0; placeholders < 8; ++placeholders) {
        packet p = request(placeholders);
        const std::size_t request_length = p.length;
        prepared_reply r;
        const checked_reply c = round_trip(p, r);
        ASSERT_EQ(r.what, verdict::reply) << placeholders;
        ASSERT_EQ(c.outcome, reply_outcome::reply) << c.error;
        EXPECT_TRUE(c.uid_matches);
        EXPECT_EQ(c.origin_ts, request_tx);
        EXPECT_EQ(r.cookies, placeholders + 1);
        ASSERT_EQ(c.cookies.size(), placeholders + 1);
        EXPECT_LE(r.reply_length, request_length);
        // Same fields, same sizes: a chrony-shaped request's reply is exactly as long.
        EXPECT_EQ(r.reply_length, request_length);
        for (const bytes& fresh : c.cookies) {
            EXPECT_NE(fresh, cookie);
            const auto opened = open_cookie(ring, fresh);
            ASSERT_TRUE(opened.has_value());
            EXPECT_EQ(opened->c2s, keys.c2s);
            EXPECT_EQ(opened->s2c, keys.s2c);
            EXPECT_EQ(opened->aead, aead_aes_siv_cmac_256);
        }
        // Fresh nonces: no two cookies alike.
        for (std::size_t i = 1; i < c.cookies.size(); ++i) {
            EXPECT_NE(c.cookies[i], c.cookies[i - 1]);
        }
        // The reply's UID is the first EF, its Authenticator the last.
        EXPECT_EQ(std::memcmp(p.buffer.data() + 52, p.built.uid.data(), 32), 0);
        EXPECT_EQ(r.auth_offset, 84);
        // Nothing beyond the reply was written.
        EXPECT_TRUE(std::all_of(p.buffer.begin() + static_cast<std::ptrdiff_t>(request_length),
                                p.buffer.end(), [](std::uint8_t b) { return b == 0xEE; }));
    }
}

TEST_F(NtsServer, FreshCookiesOpenAfterTheirOwnRequest) {
    // A cookie from a reply is as good as one from NTS-KE.
    packet p = request();
    prepared_reply r;
    const checked_reply c = round_trip(p, r);
    ASSERT_EQ(c.outcome, reply_outcome::reply);
    cookie = c.cookies.at(0);
    packet q = request(2);
    const checked_reply d = round_trip(q, r);
    ASSERT_EQ(d.outcome, reply_outcome::reply) << d.error;
    EXPECT_EQ(d.cookies.size(), 3u);
}

TEST_F(NtsServer, CookiesCappedAndBoundedByCapacity) {
    packet p = request(11);
    prepared_reply r;
    const checked_reply c = round_trip(p, r);
    ASSERT_EQ(c.outcome, reply_outcome::reply) << c.error;
    EXPECT_EQ(r.cookies, max_reply_cookies);
    EXPECT_LT(r.reply_length, p.length);

    // Capacity below the request's length (a short mbuf): the reply shrinks to fit.
    for (std::size_t missing : {1u, 108u, 109u, 300u}) {
        packet q = request(3);
        const std::size_t capacity = q.length - missing;
        const prepared_reply s = prepare(q, capacity);
        ASSERT_EQ(s.what, verdict::reply);
        EXPECT_LE(s.reply_length, capacity);
        EXPECT_EQ(s.cookies, 4 - (missing + 107) / 108) << missing;
    }
}

TEST_F(NtsServer, ZeroCookiesWhenNoneFits) {
    // A smaller cookie field than ours (our cookies are 104 bytes): a request carrying a
    // 104-byte cookie always fits one, so shrink the room instead.
    packet p = request();
    const std::size_t fixed = 48 + 36 + reply_auth_overhead;
    const prepared_reply r = prepare(p, fixed + 107);
    ASSERT_EQ(r.what, verdict::reply);
    EXPECT_EQ(r.cookies, 0);
    EXPECT_EQ(r.reply_length, fixed);
    const std::span<std::uint8_t> reply(p.buffer.data(), r.reply_length);
    write_header(reply);
    seal_reply(reply, r, nonces);
    const checked_reply c = check_reply(reply, s2c, p.built.uid);
    EXPECT_EQ(c.outcome, reply_outcome::reply) << c.error;
    EXPECT_TRUE(c.cookies.empty());
}

TEST_F(NtsServer, HeaderUntouchedByPrepare) {
    packet p = request(3);
    const bytes before(p.buffer.begin(), p.buffer.begin() + 48);
    const prepared_reply r = prepare(p);
    ASSERT_EQ(r.what, verdict::reply);
    EXPECT_EQ(bytes(p.buffer.begin(), p.buffer.begin() + 48), before);
}

TEST_F(NtsServer, EncryptedFieldsInTheRequestVerifyAndAreIgnored) {
    bytes encrypted;
    put_be16(encrypted, 0x7001);
    put_be16(encrypted, 20);
    encrypted.resize(20, 0x5A);
    packet p = request(1, encrypted);
    prepared_reply r;
    const checked_reply c = round_trip(p, r);
    ASSERT_EQ(c.outcome, reply_outcome::reply) << c.error;
    EXPECT_EQ(c.cookies.size(), 2u);

    packet q = request(1, encrypted);
    q.buffer[q.built.tag_offset + 16 + 7] ^= 0x01;  // a byte of C, not of V
    EXPECT_EQ(prepare(q).what, verdict::auth_failed);
}

TEST_F(NtsServer, TamperedAuthenticatorFails) {
    const packet good = request(1);
    // Every byte of the Authenticator's nonce and V: auth_failed.
    for (std::size_t i = good.built.auth_offset + 8; i < good.length; ++i) {
        packet p = good;
        p.buffer[i] ^= 0x01;
        EXPECT_EQ(prepare(p).what, verdict::auth_failed) << i;
    }
    // Its header and lengths: never a reply (no longer parses, or no longer verifies).
    for (std::size_t i = good.built.auth_offset; i < good.built.auth_offset + 8; ++i) {
        for (std::uint8_t bit : {0x01, 0x80}) {
            packet p = good;
            p.buffer[i] ^= bit;
            EXPECT_NE(prepare(p).what, verdict::reply) << i;
        }
    }
}

TEST_F(NtsServer, TamperedAssociatedDataFails) {
    const packet good = request(1);
    for (std::size_t i = 0; i < good.built.auth_offset; ++i) {
        packet p = good;
        p.buffer[i] ^= 0x01;
        const verdict v = prepare(p).what;
        const bool in_cookie = i >= good.built.cookie_offset && i < good.built.cookie_offset + 104;
        const bool ef_header = (i >= 48 && i < 52) || (i >= 84 && i < 88) || (i >= 192 && i < 196);
        if (in_cookie) {
            EXPECT_EQ(v, verdict::nak) << i;
        } else if (ef_header) {
            EXPECT_NE(v, verdict::reply) << i;
        } else {
            // Header, UID body, placeholder body.
            EXPECT_EQ(v, verdict::auth_failed) << i;
        }
    }
}

TEST_F(NtsServer, CookieUnderUnknownKeyNaks) {
    key_ring other;
    other.rotate(1'700'000'000);
    cookie = cookie_for(*other.current(), keys);
    packet p = request();
    const bytes before(p.buffer.begin(), p.buffer.begin() + static_cast<std::ptrdiff_t>(p.length));
    EXPECT_EQ(prepare(p).what, verdict::nak);
    // Untouched: build_nak reads the UID from where it was.
    EXPECT_EQ(bytes(p.buffer.begin(), p.buffer.begin() + static_cast<std::ptrdiff_t>(p.length)),
              before);
}

TEST_F(NtsServer, CookieRotatedOutNaks) {
    for (std::size_t i = 0; i + 1 < max_master_keys; ++i) {
        ring.rotate(1'700'000'000 + 3600 * (i + 1));
    }
    {
        packet p = request();
        prepared_reply r;
        const checked_reply c = round_trip(p, r);
        ASSERT_EQ(c.outcome, reply_outcome::reply) << "still in the ring: " << c.error;
        // The fresh cookies are under the current key, not the request's.
        ASSERT_FALSE(c.cookies.empty());
        EXPECT_NE(std::memcmp(c.cookies[0].data(), cookie.data(), 4), 0);
    }
    ring.rotate(1'800'000'000);
    packet p = request();
    EXPECT_EQ(prepare(p).what, verdict::nak);
}

TEST_F(NtsServer, TamperedCookieNaks) {
    for (std::size_t i = 0; i < cookie_length; ++i) {
        bytes bad = cookie;
        bad[i] ^= 0x01;
        request_options o;
        o.transmit_ts = request_tx;
        o.cookie = bad;
        packet p = make_packet(build_request(c2s, o));  // sealed over the tampered cookie
        EXPECT_EQ(prepare(p).what, verdict::nak) << i;
    }
    // Shorter and longer cookies.
    for (std::size_t n : {12u, 100u, 108u}) {
        request_options o;
        o.transmit_ts = request_tx;
        o.cookie = bytes(n, 0x33);
        packet p = make_packet(build_request(c2s, o));
        EXPECT_EQ(prepare(p).what, verdict::nak) << n;
    }
}

TEST_F(NtsServer, MalformedRequestsDropped) {
    packet p = request();
    auto v = p.parse();
    v.st = parsers::status::bad_value;
    EXPECT_EQ(prepare_reply(p.payload(), buffer_capacity, v, ring, nonces).what,
              verdict::malformed);
    v = p.parse();
    v.auth_offset = 0;
    EXPECT_EQ(prepare_reply(p.payload(), buffer_capacity, v, ring, nonces).what,
              verdict::malformed);
    // A view of another buffer.
    const packet q = request();
    EXPECT_EQ(prepare_reply(p.payload(), buffer_capacity, q.parse(), ring, nonces).what,
              verdict::malformed);
}

TEST_F(NtsServer, BuildNakLayout) {
    packet p = request(2);
    const bytes header(p.buffer.begin(), p.buffer.begin() + 48);
    const auto v = p.parse();
    const std::uint16_t n = build_nak(p.payload(), v);
    EXPECT_EQ(n, 48 + 36);
    EXPECT_EQ(bytes(p.buffer.begin(), p.buffer.begin() + 48), header);
    EXPECT_EQ(p.buffer[48], 0x01);
    EXPECT_EQ(p.buffer[49], 0x04);
    EXPECT_EQ(p.buffer[50], 0);
    EXPECT_EQ(p.buffer[51], 36);
    EXPECT_EQ(std::memcmp(p.buffer.data() + 52, p.built.uid.data(), 32), 0);

    // As the client sees it, with the caller's KoD header.
    const std::span<std::uint8_t> reply(p.buffer.data(), n);
    write_header(reply);
    reply[0] = 0xE4;
    reply[1] = 0;
    reply[12] = 'N';
    reply[13] = 'T';
    reply[14] = 'S';
    reply[15] = 'N';
    const checked_reply c = check_reply(reply, s2c, p.built.uid);
    EXPECT_EQ(c.outcome, reply_outcome::nts_nak) << c.error;
}

TEST_F(NtsServer, BuildNakMovesAUidThatIsNotFirst) {
    bytes b(48, 0);
    b[0] = 0x23;
    put_be16(b, 0x7777);
    put_be16(b, 16);
    b.resize(64, 0x99);
    put_be16(b, parsers::nts_ef_unique_identifier);
    put_be16(b, 36);
    for (int i = 0; i < 32; ++i) {
        b.push_back(static_cast<std::uint8_t>(i));
    }
    const auto v = parsers::parse_nts_request(parsers::byte_span(b.data(), b.size()));
    ASSERT_EQ(v.uid_offset, 64);
    std::span<std::uint8_t> payload(b.data(), b.size());
    EXPECT_EQ(build_nak(payload, v), 84);
    for (int i = 0; i < 32; ++i) {
        EXPECT_EQ(b[52 + i], i);
    }
    parsers::nts_request_view none;
    EXPECT_EQ(build_nak(payload, none), 0);
}

TEST_F(NtsServer, NoAllocationPerPacket) {
    std::vector<packet> packets;
    for (unsigned i = 0; i < 16; ++i) {
        packets.push_back(request(i % 8));
    }
    packet bad_auth = request(1);
    bad_auth.buffer[bad_auth.built.tag_offset] ^= 1;
    packets.push_back(bad_auth);
    {
        key_ring other;
        other.rotate(1);
        const bytes saved = cookie;
        cookie = cookie_for(*other.current(), keys);
        packets.push_back(request());
        cookie = saved;
    }
    std::vector<parsers::nts_request_view> views;
    for (const packet& p : packets) {
        views.push_back(p.parse());
    }
    const long heap_before = heap_allocations.load();
    const std::uint64_t openssl_before = openssl_allocations::count.load();
    int replies = 0;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto v = parsers::parse_nts_request(
            parsers::byte_span(packets[i].buffer.data(), packets[i].length));
        const prepared_reply r =
            prepare_reply(packets[i].payload(), buffer_capacity, v, ring, nonces);
        if (r.what == verdict::reply) {
            seal_reply(std::span<std::uint8_t>(packets[i].buffer.data(), r.reply_length), r,
                       nonces);
            ++replies;
        } else if (r.what == verdict::nak) {
            build_nak(packets[i].payload(), v);
        }
    }
    EXPECT_EQ(heap_allocations.load() - heap_before, 0);
    if (openssl_allocations::installed) {
        EXPECT_EQ(openssl_allocations::count.load() - openssl_before, 0u);
    }
    EXPECT_EQ(replies, 16);
}

}  // namespace

// A burst as the service stage serves it: sessions of their own, every verdict mixed in, each
// request getting what it would get alone, and nothing allocated.
TEST_F(NtsServer, BatchGivesEachRequestItsOwnVerdict) {
    constexpr std::size_t n = 21;  // more than one chunk of siv_batch_lanes, not a multiple
    struct one {
        session_keys keys;
        aes_siv c2s, s2c;
        packet p;
        parsers::nts_request_view view;
        prepared_reply reply;
        verdict expected = verdict::reply;
    };
    std::vector<one> all(n);
    for (std::size_t i = 0; i < n; ++i) {
        one& o = all[i];
        o.keys = random_session();
        o.c2s.set_key(o.keys.c2s);
        o.s2c.set_key(o.keys.s2c);
        request_options opt;
        opt.transmit_ts = request_tx + i;
        opt.cookie = cookie_for(*ring.current(), o.keys);
        opt.placeholders = static_cast<unsigned>(i % 4);
        if (i % 5 == 1) {
            opt.cookie[30] ^= 0x01;  // undecryptable: NAK
            o.expected = verdict::nak;
        }
        o.p = make_packet(build_request(o.c2s, opt));
        if (i % 5 == 3) {
            o.p.buffer[o.p.length - 1] ^= 0x01;  // the Authenticator's last byte: no answer
            o.expected = verdict::auth_failed;
        }
        o.view = o.p.parse();
    }
    std::vector<request_job> jobs;
    for (auto& o : all) {
        jobs.push_back({o.p.payload(), buffer_capacity, &o.view, &o.reply});
    }
    std::vector<seal_job> seals;
    seals.reserve(n);
    const long heap_before = heap_allocations.load();
    prepare_replies(jobs, ring, nonces);
    const long heap_mid = heap_allocations.load();
    for (auto& o : all) {
        if (o.reply.what == verdict::reply) {
            const std::span<std::uint8_t> reply(o.p.buffer.data(), o.reply.reply_length);
            write_header(reply);
            seals.push_back({reply, &o.reply});
        }
    }
    const long heap_sealed = heap_allocations.load();
    seal_replies(seals, nonces);
    const long heap_after = heap_allocations.load();
    EXPECT_EQ(heap_mid - heap_before, 0);
    EXPECT_EQ(heap_after - heap_sealed, 0);
    for (std::size_t i = 0; i < n; ++i) {
        one& o = all[i];
        ASSERT_EQ(o.reply.what, o.expected) << "request " << i;
        if (o.expected != verdict::reply) {
            continue;
        }
        const checked_reply c =
            check_reply({o.p.buffer.data(), o.reply.reply_length}, o.s2c, o.p.built.uid);
        EXPECT_EQ(c.outcome, reply_outcome::reply) << "request " << i << ": " << c.error;
        EXPECT_TRUE(c.uid_matches);
        ASSERT_EQ(c.cookies.size(), 1 + i % 4) << "request " << i;
        for (const auto& fresh : c.cookies) {
            const auto k = open_cookie(ring, fresh);  // under the current key, this session's
            ASSERT_TRUE(k.has_value());
            EXPECT_EQ(k->c2s, o.keys.c2s);
            EXPECT_EQ(k->s2c, o.keys.s2c);
        }
    }
}
