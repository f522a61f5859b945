// The addresses the engine answers for on one port: its MAC and the NTP service's IPv4 and IPv6
// addresses. Filled once from the config; looked up per packet without allocation.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ports::neighbour {

struct mac_address {
    std::array<std::uint8_t, 6> bytes{};

    friend constexpr bool operator==(const mac_address&, const mac_address&) = default;
};

// v4 addresses live in the first 4 bytes, the other 12 stay zero so that == compares values.
struct ip_address {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};

    static constexpr ip_address from_v4(std::array<std::uint8_t, 4> a) {
        ip_address out;
        for (std::size_t i = 0; i < a.size(); ++i) {
            out.bytes[i] = a[i];
        }
        return out;
    }
    static constexpr ip_address from_v6(std::array<std::uint8_t, 16> a) {
        return ip_address{.v6 = true, .bytes = a};
    }

    friend constexpr bool operator==(const ip_address&, const ip_address&) = default;
};

// Text forms for config and tests: "192.0.2.1", "2001:db8::1" (any form inet_pton takes),
// "02:00:00:00:00:01". Not for the data path.
inline std::optional<ip_address> parse_ip_address(std::string_view text);
inline std::optional<mac_address> parse_mac_address(std::string_view text);

// An address the engine may own: unicast only. Answering ARP or ND for 0.0.0.0, a broadcast or
// a multicast address would poison every neighbour's cache on the link.
constexpr bool is_assignable(const ip_address& a) {
    if (a.v6) {
        bool unspecified = true;
        for (std::size_t i = 0; i < 16; ++i) {
            unspecified = unspecified && a.bytes[i] == 0;
        }
        bool loopback = a.bytes[15] == 1;
        for (std::size_t i = 0; i < 15; ++i) {
            loopback = loopback && a.bytes[i] == 0;
        }
        return !unspecified && !loopback && a.bytes[0] != 0xFF;
    }
    // 0/8 (this network), 127/8 (loopback), 224/4 (multicast) and 240/4 with the broadcast.
    return a.bytes[0] != 0 && a.bytes[0] != 127 && a.bytes[0] < 224;
}

class service_addresses {
  public:
    static constexpr std::size_t max_v4 = 16;
    static constexpr std::size_t max_v6 = 16;

    // false when the address is not unicast or its family is full; adding one twice is a no-op.
    constexpr bool add(const ip_address& a) {
        if (!is_assignable(a)) {
            return false;
        }
        if (contains(a)) {
            return true;
        }
        if (a.v6) {
            if (v6_count_ == max_v6) {
                return false;
            }
            v6_[v6_count_] = a.bytes;
            ++v6_count_;
            return true;
        }
        if (v4_count_ == max_v4) {
            return false;
        }
        v4_[v4_count_] = {a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]};
        ++v4_count_;
        return true;
    }

    constexpr bool contains(const ip_address& a) const {
        if (a.v6) {
            return contains_v6(std::span<const std::uint8_t, 16>(a.bytes));
        }
        return contains_v4(std::span<const std::uint8_t, 4>(a.bytes.data(), 4));
    }

    // Straight from packet bytes: a linear scan of at most 16 entries beats hashing here.
    constexpr bool contains_v4(std::span<const std::uint8_t, 4> a) const {
        // Each entry and the address as one 32-bit word: a compare per entry.
        const std::uint32_t want =
            std::bit_cast<std::uint32_t>(std::array<std::uint8_t, 4>{a[0], a[1], a[2], a[3]});
        for (std::size_t i = 0; i < v4_count_; ++i) {
            if (std::bit_cast<std::uint32_t>(v4_[i]) == want) {
                return true;
            }
        }
        return false;
    }
    constexpr bool contains_v6(std::span<const std::uint8_t, 16> a) const {
        for (std::size_t i = 0; i < v6_count_; ++i) {
            bool same = true;
            for (std::size_t b = 0; b < 16; ++b) {
                same = same && v6_[i][b] == a[b];
            }
            if (same) {
                return true;
            }
        }
        return false;
    }

    constexpr std::size_t v4_count() const { return v4_count_; }
    constexpr std::size_t v6_count() const { return v6_count_; }

  private:
    std::array<std::array<std::uint8_t, 4>, max_v4> v4_{};
    std::array<std::array<std::uint8_t, 16>, max_v6> v6_{};
    std::size_t v4_count_ = 0;
    std::size_t v6_count_ = 0;
};

}  // namespace ports::neighbour

#include "ports/neighbour/impl/addresses_impl.hpp"
