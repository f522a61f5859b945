// The interleaved mode's RX->TX map: hits, misses, eviction, fixed memory.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory_resource>
#include <stdexcept>

#include "ports/ntp/interleave.hpp"

namespace {

using ports::ntp::tx_map;

// NTP timestamps a burst apart, as the service's receive stamps are.
std::uint64_t stamp(std::uint64_t i) {
    return (std::uint64_t{3'900'000'000} << 32) + i * 4295;  // ~1 us apart
}

TEST(TxMap, FindsTheTransmitTimeOfAReplyByItsReceiveStamp) {
    tx_map m(64);
    m.insert(stamp(1), stamp(1) + 100);
    m.insert(stamp(2), stamp(2) + 200);
    ASSERT_TRUE(m.find(stamp(1)).has_value());
    EXPECT_EQ(*m.find(stamp(1)), stamp(1) + 100);
    EXPECT_EQ(*m.find(stamp(2)), stamp(2) + 200);
}

TEST(TxMap, MissesAStampItNeverSaw) {
    tx_map m(64);
    m.insert(stamp(1), stamp(1) + 100);
    EXPECT_FALSE(m.find(stamp(3)).has_value());
    EXPECT_FALSE(m.find(stamp(1) + 1).has_value());  // one 2^-32 s step off is another key
}

TEST(TxMap, NeverStoresOrFindsZero) {
    tx_map m(64);
    m.insert(0, 12345);
    EXPECT_FALSE(m.find(0).has_value());  // a basic client's zero origin is no key
}

TEST(TxMap, RefusesAStampNotNewerThanTheLast) {
    tx_map m(16);
    EXPECT_TRUE(m.insert(stamp(5), 1));
    EXPECT_FALSE(m.insert(stamp(5), 2));  // the same stamp again: the first stays
    EXPECT_FALSE(m.insert(stamp(4), 3));  // older (a replay going backwards): not remembered
    EXPECT_EQ(*m.find(stamp(5)), 1u);
    EXPECT_FALSE(m.find(stamp(4)).has_value());
    EXPECT_EQ(m.size(), 1u);
}

TEST(TxMap, KeepsTheNewestWhenFullAndCountsEvictions) {
    constexpr std::size_t entries = 64;
    tx_map m(entries);
    constexpr std::uint64_t n = 10 * entries + 3;
    for (std::uint64_t i = 1; i <= n; ++i) {
        EXPECT_TRUE(m.insert(stamp(i), stamp(i) + 7));
    }
    for (std::uint64_t i = 1; i <= n; ++i) {
        const auto tx = m.find(stamp(i));
        if (i > n - entries) {
            ASSERT_TRUE(tx.has_value()) << i;  // the last `entries` replies, every one
            EXPECT_EQ(*tx, stamp(i) + 7);
        } else {
            EXPECT_FALSE(tx.has_value()) << i;  // the older ones are gone
        }
    }
    EXPECT_EQ(m.size(), entries);
    EXPECT_EQ(m.evictions(), n - entries);
}

TEST(TxMap, UsesOnlyTheMemoryItWasGiven) {
    // A fixed buffer with no upstream: any allocation after construction would throw.
    alignas(64) static std::byte buffer[64 * 16 + 256];
    std::pmr::monotonic_buffer_resource arena(buffer, sizeof(buffer),
                                              std::pmr::null_memory_resource());
    tx_map m(64, &arena);
    for (std::uint64_t i = 1; i <= 10'000; ++i) {
        m.insert(stamp(i), i);
        (void)m.find(stamp(i / 2 + 1));
    }
    EXPECT_EQ(m.capacity(), 64u);
}

TEST(TxMap, RefusesASizeThatIsNotAPowerOfTwo) {
    EXPECT_THROW(tx_map(100), std::invalid_argument);
    EXPECT_THROW(tx_map(2), std::invalid_argument);
}

}  // namespace
