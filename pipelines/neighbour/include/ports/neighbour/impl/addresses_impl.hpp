// Definitions for addresses.hpp: the text parsers, used at configuration time only.
#pragma once

#include <arpa/inet.h>

#include "ports/common/text.hpp"

namespace ports::neighbour {

inline std::optional<ip_address> parse_ip_address(std::string_view text) {
    // inet_pton wants a C string; the longest textual IPv6 address is 45 characters.
    std::array<char, 64> buf{};
    if (text.empty() || text.size() >= buf.size()) {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        buf[i] = text[i];
    }
    std::array<std::uint8_t, 16> v6{};
    if (inet_pton(AF_INET6, buf.data(), v6.data()) == 1) {
        return ip_address::from_v6(v6);
    }
    std::array<std::uint8_t, 4> v4{};
    if (inet_pton(AF_INET, buf.data(), v4.data()) == 1) {
        return ip_address::from_v4(v4);
    }
    return std::nullopt;
}

inline std::optional<mac_address> parse_mac_address(std::string_view text) {
    // Exactly six colon-separated pairs of hex digits: 17 characters.
    if (text.size() != 17) {
        return std::nullopt;
    }
    mac_address out;
    for (std::size_t i = 0; i < 6; ++i) {
        const std::size_t at = i * 3;
        const int hi = ports::text::hex_digit(text[at]);
        const int lo = ports::text::hex_digit(text[at + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        if (i < 5 && text[at + 2] != ':') {
            return std::nullopt;
        }
        out.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return out;
}

}  // namespace ports::neighbour
