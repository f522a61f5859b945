// NTS extension fields of an NTPv4 request (RFC 8915 section 5.7, RFC 7822): Unique Identifier
// (0x0104), NTS Cookie (0x0204), NTS Cookie Placeholder (0x0304), NTS Authenticator and
// Encrypted Extension Fields (0x0404). Zero-copy views into the payload; no allocation.
#pragma once

#include "ports/parsers/common.hpp"

namespace ports::parsers {

inline constexpr std::uint16_t nts_ef_unique_identifier = 0x0104;
inline constexpr std::uint16_t nts_ef_cookie = 0x0204;
inline constexpr std::uint16_t nts_ef_cookie_placeholder = 0x0304;
inline constexpr std::uint16_t nts_ef_authenticator = 0x0404;

// On a status other than ok the fields found before the problem are kept (is_nts included):
// "an NTS request, malformed" differs from "no NTS at all". See impl/nts_impl.hpp for which
// problem gives which status and why extension fields after the Authenticator are refused.
struct nts_request_view {
    status st = status::ok;
    bool is_nts = false;          // a UID and an NTS cookie were seen (NTS was meant)
    byte_span unique_id;          // body of the UID EF (>= 32 bytes, RFC 8915 5.3)
    std::uint16_t uid_offset = 0; // EF offsets from the payload start
    std::uint16_t uid_length = 0; // whole EF, header included
    byte_span cookie;             // body of the first NTS Cookie EF
    std::uint8_t cookies = 0;     // NTS Cookie EFs
    std::uint8_t placeholders = 0;
    std::uint16_t placeholder_body = 0;  // body length of the placeholders (all must agree)
    std::uint16_t auth_offset = 0;       // the Authenticator EF (0: none); everything before
                                         // it is its associated data
    std::uint16_t auth_length = 0;       // whole EF, header included; always the last EF
    byte_span auth_nonce;
    byte_span auth_ciphertext;           // V || C
};

// Walks the extension fields after the 48-byte header of `payload` (an NTPv4 mode 3 request;
// the header itself is not examined: the caller has checked version and mode).
inline nts_request_view parse_nts_request(byte_span payload);

}  // namespace ports::parsers

#include "ports/parsers/impl/nts_impl.hpp"
