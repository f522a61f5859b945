// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), as the IPv4 header,
// ICMP and ICMPv6 use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ports::neighbour {

// One's-complement sum of 16-bit big-endian words, not yet folded; an odd last byte is padded
// with zero. A 32-bit accumulator cannot overflow for anything an IP datagram can hold
// (32768 words of at most 0xFFFF, plus a pseudo-header).
constexpr std::uint32_t checksum_add(std::uint32_t acc, std::span<const std::uint8_t> bytes) {
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) {
        acc += static_cast<std::uint32_t>((bytes[i] << 8) | bytes[i + 1]);
    }
    if (i < bytes.size()) {
        acc += static_cast<std::uint32_t>(bytes[i] << 8);
    }
    return acc;
}

constexpr std::uint16_t checksum_fold(std::uint32_t acc) {
    while ((acc >> 16) != 0) {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    return static_cast<std::uint16_t>(acc);
}

// The value to write into the checksum field (the field itself summed as zero).
constexpr std::uint16_t checksum_finish(std::uint32_t acc) {
    return static_cast<std::uint16_t>(~checksum_fold(acc));
}

// A message that carries its own correct checksum sums to 0xFFFF (RFC 1071 verification).
constexpr bool checksum_ok(std::uint32_t acc) {
    return checksum_fold(acc) == 0xFFFF;
}

// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), when one 16-bit word changes from m to m'. Cheaper
// than summing the message again, and eqn. 3 (unlike RFC 1141's form) keeps the result right
// when the sum crosses one's-complement zero.
constexpr std::uint16_t checksum_update(std::uint16_t old_checksum, std::uint16_t old_word,
                                        std::uint16_t new_word) {
    std::uint32_t acc = static_cast<std::uint16_t>(~old_checksum);
    acc += static_cast<std::uint16_t>(~old_word);
    acc += new_word;
    return static_cast<std::uint16_t>(~checksum_fold(acc));
}

// The IPv6 pseudo-header (RFC 8200 8.1) for an upper-layer message of `length` bytes.
constexpr std::uint32_t checksum_ipv6_pseudo(std::span<const std::uint8_t, 16> src,
                                             std::span<const std::uint8_t, 16> dst,
                                             std::uint32_t length, std::uint8_t next_header) {
    std::uint32_t acc = checksum_add(0, src);
    acc = checksum_add(acc, dst);
    acc += length >> 16;
    acc += length & 0xFFFF;
    acc += next_header;
    return acc;
}

}  // namespace ports::neighbour
