// Clock calibration from synthetic samples, and NTP timestamp arithmetic.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "clock.hpp"

using namespace ports;
using engine::clock_sample;

TEST(NtpTime, UnixEpochIsNtp2208988800) {
    EXPECT_EQ(pipelines::ntp_from_unix_ns(0), 2208988800ULL << 32);
}

TEST(NtpTime, HalfSecondIsHalfTheFraction) {
    EXPECT_EQ(pipelines::ntp_from_unix_ns(500000000ULL) & 0xFFFFFFFFULL, 0x80000000ULL);
}

TEST(NtpTime, RoundTripsToTheNanosecond) {
    for (std::uint64_t ns : {1700000000123456789ULL, 1800000000999999999ULL, 1ULL}) {
        EXPECT_EQ(pipelines::unix_ns_from_ntp(pipelines::ntp_from_unix_ns(ns)), ns);
    }
}

TEST(ClockFit, RecoversRateAndOffsetOfAnExactClock) {
    // A 2.5 GHz counter (0.4 ns per tick) that read 1e9 at UTC 1.7e18 ns.
    std::vector<clock_sample> s;
    for (std::uint64_t i = 0; i < 10; ++i) {
        const std::uint64_t ticks = 1000000000ULL + i * 2500000000ULL;  // one sample a second
        s.push_back({ticks, 1700000000000000000ULL + i * 1000000000ULL});
    }
    const auto m = engine::fit(s);
    ASSERT_TRUE(m.has_value());
    EXPECT_NEAR(static_cast<double>(m->ns_per_tick_q32) / 4294967296.0, 0.4, 1e-9);
    EXPECT_EQ(m->to_ns(s.back().counter), s.back().utc_ns);
    // Half a second after the last sample.
    // 0.4 ns/tick is not exact in 32.32 fixed point: within a nanosecond over half a second.
    EXPECT_NEAR(static_cast<double>(m->to_ns(s.back().counter + 1250000000ULL) - s.back().utc_ns),
                5e8, 1.0);
}

TEST(ClockFit, AveragesOutSampleJitter) {
    // +-500 ns of alternating error on a 1 GHz counter: 5 s past the last sample the line is
    // well inside the jitter.
    std::vector<clock_sample> s;
    for (std::uint64_t i = 0; i < 16; ++i) {
        const std::int64_t jitter = (i % 2 == 0) ? 500 : -500;
        s.push_back({i * 1000000000ULL,
                     static_cast<std::uint64_t>(1700000000000000000LL + static_cast<std::int64_t>(i) * 1000000000LL + jitter)});
    }
    const auto m = engine::fit(s);
    ASSERT_TRUE(m.has_value());
    const std::uint64_t truth = 1700000000000000000ULL + 20ULL * 1000000000ULL;
    const auto error = static_cast<std::int64_t>(m->to_ns(20ULL * 1000000000ULL) - truth);
    EXPECT_LE(std::abs(error), 200);
}

TEST(ClockFit, NeedsTwoDistinctSamples) {
    EXPECT_FALSE(engine::fit(std::vector<clock_sample>{{5, 10}}).has_value());
    EXPECT_FALSE(engine::fit(std::vector<clock_sample>{{5, 10}, {5, 20}}).has_value());
}

TEST(ClockCalibrator, KeepsAWindowOfSamples) {
    engine::clock_calibrator c(4);
    std::optional<pipelines::linear_map> m;
    for (std::uint64_t i = 0; i < 20; ++i) {
        // The rate changes at sample 10 (0.5 -> 0.25 ns/tick); a 4-sample window follows it.
        const std::uint64_t ticks = i < 10 ? i * 2000 : 20000 + (i - 10) * 4000;
        m = c.add({ticks, 1000000 + i * 1000});
    }
    ASSERT_TRUE(m.has_value());
    EXPECT_NEAR(static_cast<double>(m->ns_per_tick_q32) / 4294967296.0, 0.25, 1e-9);
}

TEST(PublishedMap, ReadsWhatWasPublished) {
    pipelines::published_map p;
    EXPECT_FALSE(p.read().valid());
    p.publish({100, 200, 3ULL << 32});
    const auto m = p.read();
    EXPECT_EQ(m.to_ns(110), 230u);
}

TEST(KernelClock, ReportsLeapThreeWhenUnsynchronised) {
    const auto k = engine::read_kernel_clock();
    if (!k.synchronized) {
        EXPECT_EQ(k.leap, 3);
    } else {
        EXPECT_LE(k.leap, 2);
    }
}
