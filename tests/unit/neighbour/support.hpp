// Shared by the neighbour tests: the port's addresses as the fixtures use them, a runner that
// copies a fixture into a buffer of chosen capacity, and checksum arithmetic written apart from
// the code under test so that it checks rather than repeats it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "ports/neighbour/respond.hpp"
#include "ports/parsers/layers.hpp"

namespace ntest {

using namespace ports::neighbour;

inline mac_address my_mac() {
    return *parse_mac_address("02:00:00:00:00:01");
}

inline service_addresses service() {
    service_addresses a;
    EXPECT_TRUE(a.add(*parse_ip_address("192.0.2.1")));
    EXPECT_TRUE(a.add(*parse_ip_address("2001:db8::1")));
    return a;
}

struct reply {
    result r;
    std::vector<std::uint8_t> bytes;  // the whole buffer, cut to r.length
};

// The frame goes into a heap buffer of exactly `capacity` bytes (at least the frame's), so
// AddressSanitizer sees any write past what the caller allowed.
inline reply run(std::span<const std::uint8_t> frame, std::size_t capacity = 0) {
    const std::size_t size = std::max(capacity, frame.size());
    std::vector<std::uint8_t> buf(frame.begin(), frame.end());
    buf.resize(size, 0xA5);
    const std::span<std::uint8_t> rx(buf.data(), frame.size());
    const ports::parsers::layers l = ports::parsers::parse_ethernet(rx);
    const result r = respond(rx, size, l, service(), my_mac());
    buf.resize(r.length);
    return {r, buf};
}

inline std::vector<std::uint8_t> bytes_of(std::span<const std::uint8_t> s) {
    return {s.begin(), s.end()};
}

// RFC 1071 by the book: the sum of 16-bit words with end-around carry.
inline std::uint16_t ones_sum(std::span<const std::uint8_t> data, std::uint64_t start = 0) {
    std::uint64_t sum = start;
    for (std::size_t i = 0; i < data.size(); ++i) {
        sum += (i % 2 == 0) ? static_cast<std::uint64_t>(data[i]) << 8 : data[i];
    }
    while (sum > 0xFFFF) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(sum);
}

inline bool ipv4_header_checksum_ok(std::span<const std::uint8_t> header) {
    return ones_sum(header) == 0xFFFF;
}

inline bool icmpv6_checksum_ok(std::span<const std::uint8_t> ip6,
                               std::span<const std::uint8_t> msg) {
    std::vector<std::uint8_t> pseudo(ip6.begin() + 8, ip6.begin() + 40);  // source, destination
    const std::uint32_t len = static_cast<std::uint32_t>(msg.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        pseudo.push_back(static_cast<std::uint8_t>(len >> shift));
    }
    pseudo.insert(pseudo.end(), {0, 0, 0, 58});
    pseudo.insert(pseudo.end(), msg.begin(), msg.end());
    return ones_sum(pseudo) == 0xFFFF;
}

inline std::uint16_t be16(std::span<const std::uint8_t> s, std::size_t at) {
    return static_cast<std::uint16_t>((s[at] << 8) | s[at + 1]);
}

}  // namespace ntest
