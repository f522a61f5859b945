// Definitions for nts.hpp.
//
// Statuses:
//   truncated   shorter than the 48-byte header, an extension field header cut off, or an
//               extension field's length running past the end of the payload;
//   bad_length  an extension field length under 16 or not a multiple of 4 (RFC 7822), a UID
//               body under 32 bytes, an Authenticator whose nonce/ciphertext lengths do not fit
//               its body (or break RFC 8915 5.6's nonce padding rule, or leave no room for the
//               16-byte tag), placeholders whose body differs from the cookie's (RFC 8915 5.5);
//   bad_value   a second Unique Identifier, or anything after the Authenticator (see below).
// The walk stops at the first problem; the fields found up to there stay in the view (is_nts
// included), so that a caller can tell "an NTS request, malformed" from "no NTS at all".
//
// Extension fields after the Authenticator are refused (bad_value), not ignored: RFC 8915 5.6
// leaves them unauthenticated, so nothing in them may be acted on, and no client sends them
// (chrony, ntpd-rs and NTPsec put the Authenticator last). Refusing keeps every byte the
// server reads authenticated, and keeps the request's length (which bounds the reply's) a
// length the client vouched for. An on-path attacker appending bytes can get the request
// dropped, which it could do anyway. Unknown extension fields before the Authenticator are
// authenticated and ignored (RFC 7822: a receiver ignores types it does not know).
#pragma once

namespace ports::parsers {

namespace nts_detail {

inline constexpr std::size_t header_length = 48;
inline constexpr std::size_t ef_header_length = 4;
inline constexpr std::size_t ef_min_length = 16;    // RFC 7822 section 3
inline constexpr std::size_t uid_min_body = 32;     // RFC 8915 section 5.3
inline constexpr std::size_t required_nonce = 16;   // N_REQ = min(16, N_MAX), RFC 8915 5.6
inline constexpr std::size_t aead_tag_length = 16;  // every NTS AEAD's tag (SIV's V)
inline constexpr std::size_t max_payload = 0xFFFF;  // offsets are 16 bits; UDP's limit anyway

constexpr std::size_t pad4(std::size_t n) {
    return (n + 3) & ~static_cast<std::size_t>(3);
}

inline void count(std::uint8_t& c) {
    if (c != 0xFF) {  // saturates: the server caps what it answers far below this
        ++c;
    }
}

// The Authenticator's body: nonce length, ciphertext length, nonce and ciphertext each padded
// to 4 bytes, then additional padding so that nonce + padding is at least N_REQ bytes.
inline status parse_authenticator(byte_span body, nts_request_view& out) {
    if (body.size() < 4) {
        return status::bad_length;
    }
    const std::size_t nonce_length = load_be16(body.data());
    const std::size_t ciphertext_length = load_be16(body.data() + 2);
    if (nonce_length == 0 || ciphertext_length < aead_tag_length) {
        return status::bad_length;
    }
    const std::size_t used = 4 + pad4(nonce_length) + pad4(ciphertext_length);
    if (used > body.size()) {
        return status::bad_length;
    }
    const std::size_t extra = body.size() - used;
    if (nonce_length < required_nonce && extra < pad4(required_nonce - nonce_length)) {
        return status::bad_length;
    }
    out.auth_nonce = body.subspan(4, nonce_length);
    out.auth_ciphertext = body.subspan(4 + pad4(nonce_length), ciphertext_length);
    return status::ok;
}

// The walk itself; parse_nts_request adds is_nts on every outcome.
inline status walk_fields(byte_span payload, nts_request_view& out) {
    const std::uint8_t* p = payload.data();
    const std::size_t size = payload.size();
    std::size_t off = header_length;
    while (off != size) {
        if (out.auth_offset != 0) {
            return status::bad_value;  // anything after the Authenticator: see the top
        }
        const std::size_t left = size - off;
        if (left < ef_header_length) {
            return status::truncated;
        }
        const std::uint16_t type = load_be16(p + off);
        const std::size_t length = load_be16(p + off + 2);
        if (length < ef_min_length || (length % 4) != 0) {
            return status::bad_length;
        }
        if (length > left) {
            return status::truncated;
        }
        const byte_span body = payload.subspan(off + ef_header_length, length - ef_header_length);
        switch (type) {
            case nts_ef_unique_identifier:
                if (!out.unique_id.empty()) {
                    return status::bad_value;
                }
                if (body.size() < uid_min_body) {
                    return status::bad_length;
                }
                out.unique_id = body;
                out.uid_offset = static_cast<std::uint16_t>(off);
                out.uid_length = static_cast<std::uint16_t>(length);
                break;
            case nts_ef_cookie:
                // RFC 8915 5.7 asks for exactly one; more are counted (each is answered with
                // a fresh cookie, as a placeholder would be) and the first is the one opened.
                if (out.cookie.empty()) {
                    out.cookie = body;
                }
                count(out.cookies);
                break;
            case nts_ef_cookie_placeholder:
                if (out.placeholders != 0 && body.size() != out.placeholder_body) {
                    return status::bad_length;
                }
                out.placeholder_body = static_cast<std::uint16_t>(body.size());
                count(out.placeholders);
                break;
            case nts_ef_authenticator: {
                out.auth_offset = static_cast<std::uint16_t>(off);
                out.auth_length = static_cast<std::uint16_t>(length);
                const status st = parse_authenticator(body, out);
                if (st != status::ok) {
                    return st;
                }
                break;
            }
            default:
                break;  // authenticated when it precedes the Authenticator; not ours to read
        }
        off += length;
    }
    // Placeholders may precede the cookie, so their size is checked once both are known.
    if (!out.cookie.empty() && out.placeholders != 0 && out.placeholder_body != out.cookie.size()) {
        return status::bad_length;
    }
    return status::ok;
}

}  // namespace nts_detail

inline nts_request_view parse_nts_request(byte_span payload) {
    nts_request_view out;
    if (payload.size() < nts_detail::header_length) {
        out.st = status::truncated;
        return out;
    }
    if (payload.size() > nts_detail::max_payload) {
        out.st = status::bad_length;
        return out;
    }
    out.st = nts_detail::walk_fields(payload, out);
    // Both bodies are non-empty when present (EFs are >= 16 bytes), so empty means absent.
    out.is_nts = !out.unique_id.empty() && !out.cookie.empty();
    return out;
}

}  // namespace ports::parsers
