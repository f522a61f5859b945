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

struct nts_request_view {
    status st = status::ok;
    bool is_nts = false;          // a UID and an NTS cookie are present (NTS was meant)
    byte_span unique_id;          // body of the UID EF (>= 32 bytes, RFC 8915 5.3)
    std::uint16_t uid_offset = 0; // EF offsets from the payload start
    std::uint16_t uid_length = 0; // whole EF, header included
    byte_span cookie;             // body of the first NTS Cookie EF
    std::uint8_t cookies = 0;     // NTS Cookie EFs
    std::uint8_t placeholders = 0;
    std::uint16_t placeholder_body = 0;  // body length of the placeholders (all must agree)
    std::uint16_t auth_offset = 0;       // the Authenticator EF; everything before it is its
                                         // associated data
    byte_span auth_nonce;
    byte_span auth_ciphertext;           // V || C
};

// Walks the extension fields after the 48-byte header of `payload` (an NTPv4 mode 3 request).
inline nts_request_view parse_nts_request(byte_span payload);

}  // namespace ports::parsers

#include "ports/parsers/impl/nts_impl.hpp"
