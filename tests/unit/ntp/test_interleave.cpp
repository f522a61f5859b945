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

TEST(TxMap, ReinsertingAKeyReplacesItsTransmitTime) {
    tx_map m(16);
    m.insert(stamp(5), 1);
    m.insert(stamp(5), 2);
    EXPECT_EQ(*m.find(stamp(5)), 2u);
    EXPECT_EQ(m.evictions(), 0u);
}

TEST(TxMap, KeepsTheNewestWhenFullAndCountsEvictions) {
    constexpr std::size_t entries = 64;
    tx_map m(entries);
    constexpr std::uint64_t n = 10 * entries;
    for (std::uint64_t i = 1; i <= n; ++i) {
        m.insert(stamp(i), stamp(i) + 7);
    }
    // Never more remembered than the table holds; every eviction counted.
    std::uint64_t found = 0;
    for (std::uint64_t i = 1; i <= n; ++i) {
        if (const auto tx = m.find(stamp(i))) {
            EXPECT_EQ(*tx, stamp(i) + 7);  // a hit is always the right reply's
            ++found;
        }
    }
    EXPECT_LE(found, entries);
    EXPECT_EQ(m.evictions(), n - found);
    // The last insert of a bucket always survives: the newest stamp is there.
    EXPECT_TRUE(m.find(stamp(n)).has_value());
}

TEST(TxMap, UsesOnlyTheMemoryItWasGiven) {
    // A fixed buffer with no upstream: any allocation after construction would throw.
    alignas(64) static std::byte buffer[64 * 24 + 256];
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
