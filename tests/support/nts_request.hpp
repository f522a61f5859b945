// NTS client side for tests, the nts-client tool and benchmarks (header-only, allocates
// freely): builds an NTS-protected NTPv4 request the way chrony lays it out (Unique Identifier
// of 32 random bytes, one NTS Cookie, P Cookie Placeholders, the Authenticator with a 16-byte
// nonce sealed under C2S) and checks a reply with S2C (its UID, its Authenticator, the fresh
// cookies inside), or recognizes an NTS NAK (kiss code NTSN).
#pragma once

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ports/nts/aes_siv.hpp"
#include "ports/nts/keys.hpp"
#include "ports/parsers/nts.hpp"

namespace ports::nts::test_support {

using bytes = std::vector<std::uint8_t>;

inline constexpr std::size_t ntp_header_length = 48;
inline constexpr std::size_t uid_length = 32;
inline constexpr std::uint32_t refid_ntsn = 0x4E54534E;

inline void put_be16(bytes& b, std::size_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}

inline std::size_t pad4(std::size_t n) {
    return (n + 3) & ~static_cast<std::size_t>(3);
}

inline void random_bytes(std::uint8_t* out, std::size_t n) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
}

// C2S and S2C as an NTS-KE session exports them: random here.
inline session_keys random_session() {
    session_keys k;
    random_bytes(k.c2s.data(), k.c2s.size());
    random_bytes(k.s2c.data(), k.s2c.size());
    return k;
}

// A cookie for that session under a master key, as the NTS-KE server issues it.
inline bytes cookie_for(const master_key& key, const session_keys& keys) {
    bytes c(cookie_length);
    std::uint8_t nonce[16];
    random_bytes(nonce, sizeof(nonce));
    make_cookie(key, nonce, keys, c.data());
    return c;
}

struct request_options {
    std::uint64_t transmit_ts = 0;  // the header's transmit timestamp (the reply's origin)
    bytes cookie;                   // the NTS Cookie EF's body
    unsigned placeholders = 0;      // Cookie Placeholders, each with the cookie's body length
    std::array<std::uint8_t, uid_length> uid{};
    bool random_uid = true;  // false: `uid` as given
    bytes encrypted;         // plaintext of the Authenticator (encrypted EFs); usually none
    std::uint8_t poll = 6;
    std::int8_t precision = -20;
};

struct built_request {
    bytes packet;
    std::array<std::uint8_t, uid_length> uid{};
    std::size_t cookie_offset = 0;  // the cookie EF's body, from the packet start
    std::size_t auth_offset = 0;    // the Authenticator EF
    std::size_t tag_offset = 0;     // V, the first byte of the Authenticator's ciphertext
};

// Sealed with c2s over the header and every EF before the Authenticator.
inline built_request build_request(const aes_siv& c2s, const request_options& o) {
    built_request r;
    bytes& b = r.packet;
    b.assign(ntp_header_length, 0);
    b[0] = 0x23;  // LI 0, version 4, mode 3
    b[2] = o.poll;
    b[3] = static_cast<std::uint8_t>(o.precision);
    for (int i = 0; i < 8; ++i) {
        b[40 + i] = static_cast<std::uint8_t>(o.transmit_ts >> (56 - 8 * i));
    }
    r.uid = o.uid;
    if (o.random_uid) {
        random_bytes(r.uid.data(), r.uid.size());
    }
    put_be16(b, parsers::nts_ef_unique_identifier);
    put_be16(b, 4 + uid_length);
    b.insert(b.end(), r.uid.begin(), r.uid.end());

    const std::size_t cookie_ef = 4 + pad4(o.cookie.size());
    put_be16(b, parsers::nts_ef_cookie);
    put_be16(b, cookie_ef);
    r.cookie_offset = b.size();
    b.insert(b.end(), o.cookie.begin(), o.cookie.end());
    b.resize(r.cookie_offset - 4 + cookie_ef, 0);
    for (unsigned i = 0; i < o.placeholders; ++i) {
        put_be16(b, parsers::nts_ef_cookie_placeholder);
        put_be16(b, cookie_ef);
        b.resize(b.size() + cookie_ef - 4, 0);
    }

    r.auth_offset = b.size();
    std::array<std::uint8_t, 16> nonce{};
    random_bytes(nonce.data(), nonce.size());
    put_be16(b, parsers::nts_ef_authenticator);
    const std::size_t ciphertext_length = siv_tag_length + o.encrypted.size();
    put_be16(b, 4 + 4 + nonce.size() + pad4(ciphertext_length));
    put_be16(b, nonce.size());
    put_be16(b, ciphertext_length);  // V || C; C is empty unless encrypted EFs are asked for
    b.insert(b.end(), nonce.begin(), nonce.end());
    r.tag_offset = b.size();
    b.resize(b.size() + pad4(ciphertext_length), 0);
    c2s.seal(bytes_view(b.data(), r.auth_offset), bytes_view(nonce.data(), nonce.size()),
             bytes_view(o.encrypted.data(), o.encrypted.size()), b.data() + r.tag_offset);
    return r;
}

enum class reply_outcome { reply, nts_nak, bad_reply };

struct checked_reply {
    reply_outcome outcome = reply_outcome::bad_reply;
    std::string error;  // why bad_reply
    bool uid_matches = false;
    std::vector<bytes> cookies;  // the fresh cookies (bodies of the encrypted Cookie EFs)
    std::uint8_t stratum = 0;
    std::uint32_t refid = 0;
    std::uint64_t origin_ts = 0, receive_ts = 0, transmit_ts = 0;
};

inline std::uint64_t get_be64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = (v << 8) | p[i];
    }
    return v;
}

// A reply to a request with this UID: mode 4, the UID echoed, and either an Authenticator
// (last) that opens under s2c, holding Cookie EFs, or no Authenticator with stratum 0 and
// refid NTSN (the NAK). Anything else is bad_reply, with the reason.
inline checked_reply check_reply(std::span<const std::uint8_t> reply, const aes_siv& s2c,
                                 std::span<const std::uint8_t> uid) {
    checked_reply out;
    auto bad = [&](const char* why) {
        out.outcome = reply_outcome::bad_reply;
        out.error = why;
        return out;
    };
    if (reply.size() < ntp_header_length) {
        return bad("shorter than an NTP header");
    }
    if ((reply[0] & 0x07) != 4) {
        return bad("not mode 4");
    }
    out.stratum = reply[1];
    out.refid =
        static_cast<std::uint32_t>(reply[12]) << 24 | reply[13] << 16 | reply[14] << 8 | reply[15];
    out.origin_ts = get_be64(reply.data() + 24);
    out.receive_ts = get_be64(reply.data() + 32);
    out.transmit_ts = get_be64(reply.data() + 40);
    std::size_t off = ntp_header_length;
    std::size_t auth = 0;
    bool uid_seen = false;
    while (off < reply.size()) {
        if (auth != 0) {
            return bad("extension field after the Authenticator");
        }
        if (reply.size() - off < 4) {
            return bad("truncated extension field");
        }
        const std::uint16_t type = static_cast<std::uint16_t>(reply[off] << 8 | reply[off + 1]);
        const std::size_t len = static_cast<std::size_t>(reply[off + 2] << 8 | reply[off + 3]);
        if (len < 16 || len % 4 != 0 || len > reply.size() - off) {
            return bad("bad extension field length");
        }
        if (type == parsers::nts_ef_unique_identifier) {
            uid_seen = true;
            out.uid_matches = len - 4 == uid.size() &&
                              std::memcmp(reply.data() + off + 4, uid.data(), uid.size()) == 0;
        } else if (type == parsers::nts_ef_authenticator) {
            auth = off;
        }
        off += len;
    }
    if (!uid_seen) {
        return bad("no Unique Identifier");
    }
    if (auth == 0) {
        if (!out.uid_matches) {
            return bad("Unique Identifier does not match");
        }
        if (out.stratum == 0 && out.refid == refid_ntsn) {
            out.outcome = reply_outcome::nts_nak;
            return out;
        }
        return bad("no Authenticator");
    }
    const std::uint8_t* a = reply.data() + auth;
    const std::size_t body = static_cast<std::size_t>(a[2] << 8 | a[3]) - 4;
    if (body < 4) {
        return bad("Authenticator too short");
    }
    const std::size_t nonce_len = static_cast<std::size_t>(a[4] << 8 | a[5]);
    const std::size_t ct_len = static_cast<std::size_t>(a[6] << 8 | a[7]);
    if (4 + pad4(nonce_len) + pad4(ct_len) > body || ct_len < siv_tag_length) {
        return bad("Authenticator lengths do not fit");
    }
    bytes plain(ct_len - siv_tag_length);
    const bytes_view nonce(a + 8, nonce_len);
    const bytes_view ct(a + 8 + pad4(nonce_len), ct_len);
    if (!s2c.open(bytes_view(reply.data(), auth), nonce, ct, plain.data())) {
        return bad("Authenticator does not verify");
    }
    for (std::size_t p = 0; p < plain.size();) {
        if (plain.size() - p < 4) {
            return bad("truncated encrypted extension field");
        }
        const std::uint16_t type = static_cast<std::uint16_t>(plain[p] << 8 | plain[p + 1]);
        const std::size_t len = static_cast<std::size_t>(plain[p + 2] << 8 | plain[p + 3]);
        if (len < 16 || len % 4 != 0 || len > plain.size() - p) {
            return bad("bad encrypted extension field length");
        }
        if (type == parsers::nts_ef_cookie) {
            out.cookies.emplace_back(plain.begin() + static_cast<std::ptrdiff_t>(p + 4),
                                     plain.begin() + static_cast<std::ptrdiff_t>(p + len));
        }
        p += len;
    }
    if (!out.uid_matches) {
        return bad("Unique Identifier does not match");
    }
    out.outcome = reply_outcome::reply;
    return out;
}

}  // namespace ports::nts::test_support
