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
    std::uint8_t cookies = 0;            // fresh cookies in the reply
    aes_siv s2c;                         // the reply's key, from the cookie
};

// `payload` is the request's UDP payload, rewritten in place from byte 48 on (the header is the
// caller's); `capacity` bytes are writable from payload.data() (>= payload.size()).
prepared_reply prepare_reply(std::span<std::uint8_t> payload, std::size_t capacity,
                             const parsers::nts_request_view& request, const key_ring& ring,
                             nonce_source& nonces) noexcept;

// After the header (transmit timestamp included) is final.
void seal_reply(std::span<std::uint8_t> payload, const prepared_reply& p, nonce_source& nonces) noexcept;

// The NTS NAK's extension fields after the caller's 48-byte header (KoD, refid NTSN): the
// Unique Identifier echoed. Returns the reply length (48 + UID EF).
std::uint16_t build_nak(std::span<std::uint8_t> payload, const parsers::nts_request_view& request) noexcept;

}  // namespace ports::nts
