// NTS Key Establishment records (RFC 8915 section 4): the messages a client and a server
// exchange over TLS. Each record is C (1 bit, critical) | type (15 bits) | body length (16
// bits) | body; a message is records up to and including End of Message. Zero-copy views into
// the bytes read so far; no allocation. The server (nts_ke/ke_server.cpp) parses a request as its
// bytes arrive: `incomplete` means read more.
#pragma once

#include <array>

#include "ports/parsers/common.hpp"

namespace ports::parsers {

inline constexpr std::uint16_t ke_critical = 0x8000;
inline constexpr std::uint16_t ke_end_of_message = 0;
inline constexpr std::uint16_t ke_next_protocol = 1;
inline constexpr std::uint16_t ke_error = 2;
inline constexpr std::uint16_t ke_warning = 3;
inline constexpr std::uint16_t ke_aead = 4;
inline constexpr std::uint16_t ke_new_cookie = 5;
inline constexpr std::uint16_t ke_ntpv4_server = 6;
inline constexpr std::uint16_t ke_ntpv4_port = 7;

inline constexpr std::uint16_t ke_protocol_ntpv4 = 0;
inline constexpr std::uint16_t ke_aead_aes_siv_cmac_256 = 15;

// Error record codes (RFC 8915 section 4.1.3).
inline constexpr std::uint16_t ke_error_unrecognized_critical = 0;
inline constexpr std::uint16_t ke_error_bad_request = 1;
inline constexpr std::uint16_t ke_error_internal = 2;

inline constexpr std::size_t ke_record_header = 4;

struct ke_record {
    bool critical = false;
    std::uint16_t type = 0;
    byte_span body;
};

// The record at the front of `bytes`. st: ok; truncated when the header or the body is not all
// there yet (read more). size: header + body when ok.
struct ke_record_result {
    status st = status::truncated;
    ke_record record;
    std::size_t size = 0;
};

inline ke_record_result next_ke_record(byte_span bytes) {
    ke_record_result r;
    if (bytes.size() < ke_record_header) {
        return r;
    }
    const std::uint16_t head = load_be16(bytes.data());
    const std::uint16_t length = load_be16(bytes.data() + 2);
    if (bytes.size() < ke_record_header + length) {
        return r;
    }
    r.st = status::ok;
    r.record = {(head & ke_critical) != 0, static_cast<std::uint16_t>(head & ~ke_critical),
                bytes.subspan(ke_record_header, length)};
    r.size = ke_record_header + length;
    return r;
}

enum class ke_outcome : std::uint8_t {
    incomplete,  // no End of Message yet: read more (the caller bounds how much)
    ok,          // a well-formed message up to End of Message
    error,       // malformed: answer with an Error record of error_code (server) / give up
};

// A client's request as the server sees it.
struct ke_request_view {
    ke_outcome outcome = ke_outcome::incomplete;
    status st = status::ok;  // why, when outcome is error
    std::uint16_t error_code = ke_error_bad_request;
    std::size_t length = 0;  // bytes of the message, End of Message included (outcome ok)
    bool ntpv4 = false;      // Next Protocol Negotiation offered NTPv4
    bool aes_siv = false;    // AEAD Algorithm Negotiation offered AEAD_AES_SIV_CMAC_256
    bool has_aead = false;   // the AEAD record was there (possibly without 15)
    byte_span ntpv4_server;  // the client's preferred server (ignored by ours, kept for logs)
    bool has_port = false;
    std::uint16_t ntpv4_port = 0;
};

// Walks a request. What makes it an error, and why (RFC 8915 section 4.1):
// - a record with an unknown type and the critical bit: error_code unrecognized critical;
// - Next Protocol missing, twice, without the critical bit, or an odd body; AEAD twice, an odd
//   body, or missing while NTPv4 is offered; End of Message with a body or without the
//   critical bit; a Port body other than 2 bytes: bad request;
// - Error, Warning or New Cookie records, which a client must not send: bad request.
// Unknown non-critical records are skipped. Bytes after End of Message are not looked at
// (length says where the message ended; the server refuses a request with more).
inline ke_request_view parse_ke_request(byte_span bytes) {
    ke_request_view v;
    unsigned next_protocols = 0;
    auto fail = [&v](status st, std::uint16_t code) {
        v.outcome = ke_outcome::error;
        v.st = st;
        v.error_code = code;
        return v;
    };
    auto has = [](byte_span body, std::uint16_t id) {
        for (std::size_t i = 0; i + 2 <= body.size(); i += 2) {
            if (load_be16(body.data() + i) == id) {
                return true;
            }
        }
        return false;
    };
    std::size_t at = 0;
    for (;;) {
        const ke_record_result r = next_ke_record(bytes.subspan(at));
        if (r.st != status::ok) {
            return v;  // incomplete
        }
        const ke_record& rec = r.record;
        at += r.size;
        switch (rec.type) {
            case ke_end_of_message:
                if (!rec.critical || !rec.body.empty()) {
                    return fail(status::bad_value, ke_error_bad_request);
                }
                if (next_protocols != 1 || (v.ntpv4 && !v.has_aead)) {
                    return fail(status::bad_value, ke_error_bad_request);
                }
                v.outcome = ke_outcome::ok;
                v.length = at;
                return v;
            case ke_next_protocol:
                if (!rec.critical || ++next_protocols > 1 || rec.body.size() % 2 != 0) {
                    return fail(status::bad_value, ke_error_bad_request);
                }
                v.ntpv4 = has(rec.body, ke_protocol_ntpv4);
                break;
            case ke_aead:
                if (v.has_aead || rec.body.size() % 2 != 0) {
                    return fail(status::bad_value, ke_error_bad_request);
                }
                v.has_aead = true;
                v.aes_siv = has(rec.body, ke_aead_aes_siv_cmac_256);
                break;
            case ke_error:
            case ke_warning:
            case ke_new_cookie:
                return fail(status::bad_value, ke_error_bad_request);
            case ke_ntpv4_server:
                v.ntpv4_server = rec.body;
                break;
            case ke_ntpv4_port:
                if (rec.body.size() != 2) {
                    return fail(status::bad_length, ke_error_bad_request);
                }
                v.has_port = true;
                v.ntpv4_port = load_be16(rec.body.data());
                break;
            default:
                if (rec.critical) {
                    return fail(status::unsupported, ke_error_unrecognized_critical);
                }
                break;
        }
    }
}

inline constexpr std::size_t ke_max_cookies = 16;

// A server's response as a client sees it.
struct ke_response_view {
    ke_outcome outcome = ke_outcome::incomplete;
    status st = status::ok;
    std::size_t length = 0;
    bool has_error = false;  // an Error record (outcome error)
    std::uint16_t error_code = 0;
    bool has_warning = false;
    std::uint16_t warning_code = 0;
    bool has_protocol = false;  // Next Protocol with one id (an empty body: none in common)
    std::uint16_t protocol = 0;
    bool has_aead = false;  // AEAD with one id
    std::uint16_t aead = 0;
    std::array<byte_span, ke_max_cookies> cookies{};
    std::uint8_t cookie_count = 0;  // New Cookie records beyond ke_max_cookies are skipped
    byte_span ntpv4_server;
    bool has_port = false;
    std::uint16_t ntpv4_port = 0;
};

// Walks a response: an Error record, an unknown critical record, a Next Protocol or AEAD record
// with more than one id (or twice), no Next Protocol at all, or a malformed End of Message or
// Port make it an error.
inline ke_response_view parse_ke_response(byte_span bytes) {
    ke_response_view v;
    auto fail = [&v](status st) {
        v.outcome = ke_outcome::error;
        v.st = st;
        return v;
    };
    bool seen_protocol = false;
    bool seen_aead = false;
    std::size_t at = 0;
    for (;;) {
        const ke_record_result r = next_ke_record(bytes.subspan(at));
        if (r.st != status::ok) {
            return v;
        }
        const ke_record& rec = r.record;
        at += r.size;
        switch (rec.type) {
            case ke_end_of_message:
                if (!rec.critical || !rec.body.empty() || !seen_protocol) {
                    return fail(status::bad_value);
                }
                v.outcome = ke_outcome::ok;
                v.length = at;
                return v;
            case ke_next_protocol:
                if (seen_protocol || rec.body.size() > 2 || rec.body.size() == 1) {
                    return fail(status::bad_value);
                }
                seen_protocol = true;
                if (rec.body.size() == 2) {
                    v.has_protocol = true;
                    v.protocol = load_be16(rec.body.data());
                }
                break;
            case ke_aead:
                if (seen_aead || rec.body.size() > 2 || rec.body.size() == 1) {
                    return fail(status::bad_value);
                }
                seen_aead = true;
                if (rec.body.size() == 2) {
                    v.has_aead = true;
                    v.aead = load_be16(rec.body.data());
                }
                break;
            case ke_error:
                v.has_error = true;
                v.error_code = rec.body.size() >= 2 ? load_be16(rec.body.data()) : 0xFFFF;
                return fail(status::bad_value);
            case ke_warning:
                v.has_warning = true;
                v.warning_code = rec.body.size() >= 2 ? load_be16(rec.body.data()) : 0xFFFF;
                break;
            case ke_new_cookie:
                if (v.cookie_count < ke_max_cookies) {
                    v.cookies[v.cookie_count++] = rec.body;
                }
                break;
            case ke_ntpv4_server:
                v.ntpv4_server = rec.body;
                break;
            case ke_ntpv4_port:
                if (rec.body.size() != 2) {
                    return fail(status::bad_length);
                }
                v.has_port = true;
                v.ntpv4_port = load_be16(rec.body.data());
                break;
            default:
                if (rec.critical) {
                    return fail(status::unsupported);
                }
                break;
        }
    }
}

}  // namespace ports::parsers
