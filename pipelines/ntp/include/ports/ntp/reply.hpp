// RFC 5905 server replies (mode 4) built in place over the request's UDP payload.
//
// Flow per packet (the pipeline owns L2-L4: address/port swap, lengths, checksums):
//   view = parse_ntp(payload); r = build_reply(payload, view, clock, rx_ts, config, auth);
//   if (r.act == action::reply) { ...; finalize_transmit(payload, r, now_ntp(), auth);
//                                 send payload[0, r.reply_length) }
// The transmit timestamp is stamped last, as close to the wire as the caller can, and the MAC
// (which covers it) is computed then.
//
// Authentication (ntpd's fast_xmit rules):
//   - no MAC: plain reply, or drop with drop_reason::auth_required under require_auth;
//   - MAC with a known key and a good digest: reply signed with that key;
//   - MAC with an unknown key id, or a digest that does not verify (wrong length included):
//     crypto-NAK reply, i.e. the normal reply followed by a 4-byte key id of 0 and no digest;
//   - a crypto-NAK as request, or any extension field (none is supported: no NTS, no Autokey):
//     treated as unauthenticated (answered plainly, or dropped under require_auth); the
//     extension fields are not echoed.
// No amplification: a reply is never longer than its request (48 bytes, 52 for a crypto-NAK,
// 48 + 4 + digest when signed; all are within what a request of that kind must have carried).
// These functions do not allocate, throw or log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ports/ntp/mac.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "ports/parsers/ntp.hpp"

namespace ports::ntp {

inline constexpr std::size_t header_length = 48;
inline constexpr std::uint8_t max_stratum = 15;  // 16 is "unsynchronized", 0 on the wire

// The server's view of its own clock, published by whatever disciplines it.
struct clock_state {
    std::uint8_t leap = 0;  // 0..3, the LI field when synchronized
    bool synchronized = false;
    std::uint8_t stratum = 16;  // 1..15; anything else reads as unsynchronized
    std::int8_t precision = -20;
    std::uint32_t root_delay = 0;       // NTP short format (16.16)
    std::uint32_t root_dispersion = 0;  // NTP short format (16.16)
    std::uint32_t refid = 0;
    std::uint64_t reference_ts = 0;  // NTP timestamp format (32.32, era 0 based)
};

struct server_config {
    // Non-zero: sent instead of the clock's stratum/refid (a primary server whose clock_state
    // comes from a PHC or GNSS receiver says stratum 1, refid "GPS"). Zero: the clock's.
    std::uint8_t stratum = 0;
    std::uint32_t refid = 0;
    bool require_auth = false;
};

// Keys and the lcore's MAC engine; both null (or keys empty) means no authentication: a request
// with a MAC then gets a crypto-NAK, as its key is unknown.
struct auth_context {
    const key_table* keys = nullptr;
    mac_engine* engine = nullptr;
};

enum class action : std::uint8_t { reply, drop };

enum class drop_reason : std::uint8_t {
    none,
    malformed,      // parser status not ok (bad version, truncated, bad length)
    mode6,          // control (ntpq): never answered by the fast path
    mode7,          // private (ntpdc monlist): never answered
    other_mode,     // 0, 1, 2, 4, 5: not a client request
    auth_required,  // require_auth and the request was not authenticated
    too_short,      // the reply would be longer than the request (cannot happen for a valid
                    // request; kept as a guard on the invariant)
};

constexpr const char* to_string(drop_reason r) {
    switch (r) {
        case drop_reason::none:
            return "none";
        case drop_reason::malformed:
            return "malformed";
        case drop_reason::mode6:
            return "mode6";
        case drop_reason::mode7:
            return "mode7";
        case drop_reason::other_mode:
            return "other_mode";
        case drop_reason::auth_required:
            return "auth_required";
        case drop_reason::too_short:
            return "too_short";
    }
    return "?";
}

struct reply_result {
    action act = action::drop;
    drop_reason reason = drop_reason::none;
    std::uint16_t reply_length = 0;  // bytes of the NTP payload to send
    bool authenticated = false;      // signed reply (finalize_transmit signs)
    bool crypto_nak = false;         // auth failed: reply carries key id 0 and no digest
    bool kod = false;                // a RATE kiss-o'-death
    std::uint16_t sign_key_id = 0;   // key finalize_transmit signs with, 0 for none
};

// Bytes 0-23 of a reply as far as they depend on the clock and the configuration alone: what
// every reply of a burst shares, computed once per burst by the fast path and per reply by
// build_reply (the same function, so both write the same bytes).
// Laid out as the reply's bytes 0-23 are (byte 2, the poll, is the request's), so that
// write_reply_header copies it whole.
struct reply_header {
    std::uint8_t li_mode = 0;  // LI and mode 4; the version is the request's
    std::uint8_t stratum = 0;
    std::uint8_t poll_slot = 0;  // never written: the reply keeps the request's poll
    std::uint8_t precision = 0;
    std::uint8_t words[20] = {};  // root delay, root dispersion, refid, reference, wire order
};
static_assert(sizeof(reply_header) == 24 && offsetof(reply_header, precision) == 3 &&
              offsetof(reply_header, words) == 4);

namespace reply_detail {

inline void store_be32(std::uint8_t* p, std::uint32_t v) {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
}

inline void store_be64(std::uint8_t* p, std::uint64_t v) {
    v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
}

}  // namespace reply_detail

inline constexpr std::uint8_t mode_server = 4;
inline constexpr std::uint8_t li_unsynchronized = 3;
inline constexpr std::uint32_t kiss_rate = 0x52415445;  // "RATE"

// kod: the RATE kiss-o'-death's header (LI 3, stratum 0, refid "RATE"); the overrides are
// server_config's stratum and refid (0: the clock's).
inline reply_header make_reply_header(const clock_state& clock, std::uint8_t stratum_override,
                                      std::uint32_t refid_override, bool kod) noexcept {
    const std::uint8_t stratum = stratum_override != 0 ? stratum_override : clock.stratum;
    const std::uint32_t refid = refid_override != 0 ? refid_override : clock.refid;
    const bool synced = clock.synchronized && stratum >= 1 && stratum <= max_stratum;
    std::uint8_t li = synced ? static_cast<std::uint8_t>(clock.leap & 0x03) : li_unsynchronized;
    std::uint8_t wire_stratum = synced ? stratum : 0;
    std::uint32_t wire_refid = refid;
    if (kod) {
        li = li_unsynchronized;
        wire_stratum = 0;
        wire_refid = kiss_rate;
    }
    reply_header h;
    h.li_mode = static_cast<std::uint8_t>((li << 6) | mode_server);
    h.stratum = wire_stratum;
    h.precision = static_cast<std::uint8_t>(clock.precision);
    reply_detail::store_be32(h.words, clock.root_delay);
    reply_detail::store_be32(h.words + 4, clock.root_dispersion);
    reply_detail::store_be32(h.words + 8, wire_refid);
    reply_detail::store_be64(h.words + 12, clock.reference_ts);
    return h;
}

// Everything of a 48-byte reply header but the transmit timestamp (zeroed until
// finalize_transmit). The origin is copied before the transmit field is cleared: they are the
// same buffer. p[2], the poll, stays the request's (RFC 5905 section 9.2). p: 48 bytes.
inline void write_reply_header(std::uint8_t* p, const reply_header& h, std::uint8_t version,
                               std::uint64_t rx_ts) noexcept {
    std::uint64_t origin;
    std::memcpy(&origin, p + 40, 8);
    const std::uint8_t poll = p[2];
    std::memcpy(p, &h, sizeof(h));  // bytes 0-23 in two stores
    p[0] = static_cast<std::uint8_t>(h.li_mode | (version << 3));
    p[2] = poll;
    std::memcpy(p + 24, &origin, 8);
    reply_detail::store_be64(p + 32, rx_ts);
    std::memset(p + 40, 0, 8);
}

// The common request: exactly 48 bytes (no MAC, no extension field), mode 3, version 1..4.
// For it, under a configuration without require_auth, build_reply's answer is always a 48-byte
// plain reply; build_plain_reply gives it without the general parse (same bytes, same result).
inline bool is_plain_client_request(std::span<const std::uint8_t> payload) noexcept {
    if (payload.size() != header_length) {
        return false;
    }
    const std::uint8_t b0 = payload[0];
    const std::uint8_t version = (b0 >> 3) & 0x07;
    return (b0 & 0x07) == static_cast<std::uint8_t>(parsers::ntp_mode::client) && version >= 1 &&
           version <= 4;
}

// Precondition: is_plain_client_request(payload), header = make_reply_header(clock,
// config.stratum, config.refid, false), !config.require_auth. Then equal to
// build_reply(payload, parse_ntp(payload), clock, rx_ts, config, auth), whatever auth is.
inline reply_result build_plain_reply(std::span<std::uint8_t> payload, const reply_header& header,
                                      std::uint64_t rx_ts) noexcept {
    write_reply_header(payload.data(), header, static_cast<std::uint8_t>((payload[0] >> 3) & 0x07),
                       rx_ts);
    reply_result r;
    r.act = action::reply;
    r.reply_length = header_length;
    return r;
}

// Validates the request and, when it is answered, rewrites payload into the reply (all but the
// transmit timestamp). On drop, payload is untouched. `request` must be parse_ntp(payload).
reply_result build_reply(std::span<std::uint8_t> payload, const parsers::ntp_view& request,
                         const clock_state& clock, std::uint64_t rx_ts, const server_config& config,
                         auth_context auth = {}) noexcept;

// Mode 4, LI 3, stratum 0, refid "RATE" (RFC 5905 section 7.4), origin from the request's
// transmit, receive = rx_ts, other fields from the clock; always 48 bytes and unauthenticated
// (verifying a MAC for traffic being rate limited would spend the CPU the limit protects).
// Only mode 3 requests get one; anything else drops as build_reply would.
reply_result build_kod_rate(std::span<std::uint8_t> payload, const parsers::ntp_view& request,
                            const clock_state& clock, std::uint64_t rx_ts) noexcept;

// Writes the transmit timestamp and, for an authenticated reply, the digest. False when the
// reply cannot be signed (key gone, OpenSSL failure): drop it then.
bool finalize_transmit(std::span<std::uint8_t> payload, const reply_result& result,
                       std::uint64_t tx_ts, auth_context auth = {}) noexcept;

}  // namespace ports::ntp
