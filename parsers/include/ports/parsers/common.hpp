// Shared vocabulary of the parsers: byte spans, big-endian loads, parse status.
// Parsers are pure: no DPDK, no allocation, no logging, no exceptions. Every read is
// preceded by a length check against the span it reads from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ports::parsers {

using byte_span = std::span<const std::uint8_t>;

enum class status : std::uint8_t {
    ok,
    truncated,    // fewer bytes than the header or a length field needs
    bad_length,   // a length field that contradicts the bytes around it
    bad_version,  // version field outside what the protocol defines
    bad_value,    // a field with a value the protocol forbids (magic, reserved bits, type)
    unsupported,  // well-formed but a variant we do not decode (e.g. IPv4 IHL > 15 never; GRE routing)
};

constexpr const char* to_string(status s) {
    switch (s) {
        case status::ok: return "ok";
        case status::truncated: return "truncated";
        case status::bad_length: return "bad_length";
        case status::bad_version: return "bad_version";
        case status::bad_value: return "bad_value";
        case status::unsupported: return "unsupported";
    }
    return "?";
}

// Callers check the length first; these only spell the byte order.
inline std::uint16_t load_be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}
inline std::uint64_t load_be64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

}  // namespace ports::parsers
