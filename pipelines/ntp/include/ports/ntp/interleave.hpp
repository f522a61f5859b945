// The server side of NTP's interleaved client/server mode (RFC 9769), as chrony keeps it: a map
// from the receive timestamp a reply carried to the time that reply really left, measured after
// the hand-off to the PMD. An interleaved client echoes the receive timestamp of our previous
// reply as its origin; the answer then carries that previous reply's true transmit time, which a
// basic reply can only estimate (its transmit field is written before it leaves).
//
// Fixed memory, one per lcore (RSS keeps a client on one lcore): buckets of 4 entries, a key's
// bucket from a multiplicative hash of its low bits, the oldest entry of a full bucket evicted.
// Keys are unique as long as the service never sends one receive timestamp twice (see
// unique_receive_time in pipelines/service.cpp). No allocation after construction, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <vector>

namespace ports::ntp {

class tx_map {
  public:
    static constexpr std::size_t ways = 4;

    // entries: a power of two, at least `ways`; the table comes from mem (the engine gives the
    // lcore's NUMA socket). Throws std::invalid_argument for a bad size.
    explicit tx_map(std::size_t entries,
                    std::pmr::memory_resource* mem = std::pmr::get_default_resource())
        : slots_(check(entries), mem), bucket_mask_(entries / ways - 1) {}

    // The reply that carried receive timestamp rx_ts left at tx_ts (NTP timestamps). A zero
    // rx_ts is never stored: zero is what an empty slot holds and what a basic client sends.
    void insert(std::uint64_t rx_ts, std::uint64_t tx_ts) noexcept {
        if (rx_ts == 0) {
            return;
        }
        entry* b = bucket(rx_ts);
        entry* victim = b;
        for (std::size_t i = 0; i < ways; ++i) {
            if (b[i].rx == rx_ts || b[i].rx == 0) {
                victim = &b[i];
                break;
            }
            if (b[i].age < victim->age) {
                victim = &b[i];
            }
        }
        if (victim->rx != 0 && victim->rx != rx_ts) {
            ++evictions_;
        }
        victim->rx = rx_ts;
        victim->tx = tx_ts;
        victim->age = ++clock_;
    }

    // The transmit time of the reply that carried rx_ts, if it is still remembered.
    std::optional<std::uint64_t> find(std::uint64_t rx_ts) const noexcept {
        if (rx_ts == 0) {
            return std::nullopt;
        }
        const entry* b = bucket(rx_ts);
        for (std::size_t i = 0; i < ways; ++i) {
            if (b[i].rx == rx_ts) {
                return b[i].tx;
            }
        }
        return std::nullopt;
    }

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::uint64_t evictions() const noexcept { return evictions_; }

  private:
    struct entry {
        std::uint64_t rx = 0;  // 0: free
        std::uint64_t tx = 0;
        std::uint64_t age = 0;  // insertion order: the smallest in a full bucket goes
    };

    static std::size_t check(std::size_t entries) {
        if (entries < ways || (entries & (entries - 1)) != 0) {
            throw std::invalid_argument("interleaved map size must be a power of two >= 4");
        }
        return entries;
    }
    std::size_t index_of(std::uint64_t rx_ts) const noexcept {
        // The fraction's bits vary fastest; Fibonacci hashing spreads neighbouring stamps.
        return static_cast<std::size_t>((rx_ts * 0x9E3779B97F4A7C15ULL) >> 32) & bucket_mask_;
    }
    entry* bucket(std::uint64_t rx_ts) noexcept { return &slots_[index_of(rx_ts) * ways]; }
    const entry* bucket(std::uint64_t rx_ts) const noexcept {
        return &slots_[index_of(rx_ts) * ways];
    }

    std::pmr::vector<entry> slots_;
    std::size_t bucket_mask_;
    std::uint64_t clock_ = 0;
    std::uint64_t evictions_ = 0;
};

}  // namespace ports::ntp
