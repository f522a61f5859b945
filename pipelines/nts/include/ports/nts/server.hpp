// NTS-protected NTP in the fast path (RFC 8915 section 5), in two steps around the transmit
// timestamp:
//   serve time:  v = parse_nts_request(payload)                      (parsers/nts.hpp)
//                p = prepare_reply(payload, capacity, v, ring, nonces)  cookie opened with the
//                    master key, request verified with C2S, the reply's extension fields laid
//                    out: Unique Identifier echoed, then the Authenticator whose plaintext is
//                    as many fresh cookies (sealed under the current master key) as the
//                    request carried cookies and placeholders, while the reply is no longer
//                    than the request;
//                the caller writes the 48-byte header (ntp::write_reply_header), then later
//   flush time:  the caller writes the transmit timestamp, then seal_reply(payload, p, nonces)
//                encrypts the Authenticator with S2C over header + Unique Identifier.
// Undecryptable cookie: build_nak(...) gives the NTS NAK (kiss code NTSN, RFC 8915 5.7: the
// Unique Identifier and no Authenticator). Bad authenticator: nothing is sent.
// No allocation, no syscalls; every outcome is reported to the caller, which counts it.
#pragma once

#include <cstdint>
#include <span>

#include "ports/nts/aes_siv.hpp"
#include "ports/nts/keys.hpp"
#include "ports/parsers/nts.hpp"

namespace ports::nts {

// Fresh cookies per reply at most (chrony's NTS_MAX_COOKIES): every cookie is an AES-SIV seal
// on the worker's CPU, and a client never holds more than 8.
inline constexpr std::uint8_t max_reply_cookies = 8;
// The reply's Authenticator: EF header (4), nonce and ciphertext lengths (4), nonce (16), V
// (16), then the cookie EFs of reply_cookie_ef_length each.
inline constexpr std::size_t reply_nonce_length = 16;
inline constexpr std::size_t reply_auth_overhead = 4 + 4 + reply_nonce_length + siv_tag_length;
inline constexpr std::size_t reply_cookie_ef_length = 4 + cookie_length;
// The NTS NAK's refid, the kiss code "NTSN" (RFC 8915 5.7), for the caller's header.
inline constexpr std::uint32_t kiss_ntsn = 0x4E54534E;

enum class verdict : std::uint8_t {
    reply,        // prepared: stage it, seal at flush
    nak,          // cookie undecryptable (unknown key id, bad tag, bad length): send build_nak
    auth_failed,  // cookie fine, the request's authenticator does not verify: drop silently
    malformed,    // NTS fields missing or inconsistent (no UID, no cookie, bad lengths): drop
};

struct prepared_reply {
    verdict what = verdict::malformed;
    std::uint16_t reply_length = 0;      // NTP payload bytes to send (header included)
    std::uint16_t auth_offset = 0;       // the Authenticator EF, from the payload start
    std::uint16_t plaintext_offset = 0;  // the cookies to encrypt, from the payload start
    std::uint16_t plaintext_length = 0;
    std::uint8_t cookies = 0;  // fresh cookies in the reply
    aes_siv s2c;               // the reply's key, from the cookie
};

// `payload` is the request's UDP payload, rewritten in place from byte 48 on (the header is the
// caller's); `capacity` bytes are writable from payload.data() (>= payload.size()). `request`
// must be parse_nts_request(payload).
//   malformed:   request.st != ok, no UID, no cookie or no Authenticator; payload untouched.
//   nak:         open_cookie failed; payload untouched (build_nak may follow).
//   auth_failed: the Authenticator does not verify under C2S; the Authenticator's bytes are
//                then unspecified (it is decrypted in place), the rest untouched: drop it.
//   reply:       payload[48, reply_length) is the reply's UID EF then its Authenticator (nonce
//                and ciphertext still to come from seal_reply); reply_length <= payload.size()
//                and <= capacity, always (the reply is never longer than the request).
// Fresh cookies: request cookies + placeholders, at most max_reply_cookies, fewer when the
// reply would outgrow the request (0 when not even one fits).
prepared_reply prepare_reply(std::span<std::uint8_t> payload, std::size_t capacity,
                             const parsers::nts_request_view& request, const key_ring& ring,
                             nonce_source& nonces) noexcept;

// After the header (transmit timestamp included) is final: writes a fresh nonce, then V and the
// encrypted cookies in place. AD = payload[0, p.auth_offset): header and UID EF. Does nothing
// unless p.what == verdict::reply and payload.size() >= p.reply_length.
void seal_reply(std::span<std::uint8_t> payload, const prepared_reply& p,
                nonce_source& nonces) noexcept;

// A burst's NTS requests at once, as the service stage serves them: each job gets exactly what
// prepare_reply(job.payload, job.capacity, *job.request, ring, nonces) would give it, but the
// AES-SIV work of up to siv_batch_lanes requests runs interleaved (cookies opened together,
// keys set up together, requests verified together, fresh cookies sealed together): one
// request alone leaves the AES unit idle most of the time (see aes_siv.hpp). Jobs must not
// share buffers.
struct request_job {
    std::span<std::uint8_t> payload;
    std::size_t capacity = 0;
    const parsers::nts_request_view* request = nullptr;
    prepared_reply* out = nullptr;
};
void prepare_replies(std::span<const request_job> jobs, const key_ring& ring,
                     nonce_source& nonces) noexcept;

// seal_reply for each job, the seals interleaved.
struct seal_job {
    std::span<std::uint8_t> payload;
    const prepared_reply* reply = nullptr;
};
void seal_replies(std::span<const seal_job> jobs, nonce_source& nonces) noexcept;

// The NTS NAK's extension fields after the caller's 48-byte header (KoD, refid NTSN): the
// Unique Identifier echoed (moved to byte 48). Returns the reply length (48 + UID EF), or 0
// when the request has no UID (then nothing is written: nothing can be sent).
std::uint16_t build_nak(std::span<std::uint8_t> payload,
                        const parsers::nts_request_view& request) noexcept;

}  // namespace ports::nts
