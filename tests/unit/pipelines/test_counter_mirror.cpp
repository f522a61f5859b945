// counter_mirror: a reader's copy of a worker's counters is taken between two of the worker's
// iterations, so the counters of one frame are all in it or all out of it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "ports/pipelines/counter_mirror.hpp"

namespace {

using namespace ports::pipelines;
using clock_type = std::chrono::steady_clock;

struct alignas(64) loop_stats {
    std::uint64_t rx = 0;
    std::uint64_t fates = 0;
};

constexpr auto packets = index_of(counter::ntp_packets);
constexpr auto client = index_of(counter::ntp_mode_client);

// A worker that counts each "frame" in four separate stores, answering requests between
// frames, until told to stop.
struct fake_worker {
    counter_mirror<loop_stats> mirror;
    core_counters counters;
    loop_stats stats;
    std::atomic<bool> stop{false};
    std::thread thread;

    void start() {
        thread = std::thread([this] {
            mirror_online(mirror, true);
            while (!stop.load(std::memory_order_relaxed)) {
                counters.add(packets, 1);
                counters.add(client, 1);
                std::atomic_ref<std::uint64_t>(stats.rx).store(stats.rx + 1,
                                                              std::memory_order_relaxed);
                std::atomic_ref<std::uint64_t>(stats.fates).store(stats.fates + 1,
                                                                 std::memory_order_relaxed);
                publish_if_asked(mirror, counters, stats);
            }
            mirror_online(mirror, false);
        });
        // Reads from here on ask a looping worker (not the live values of one not yet started).
        while (mirror.phase.load() % 2 == 0) {
            std::this_thread::yield();
        }
    }
    void join() {
        stop.store(true);
        thread.join();
    }
};

TEST(CounterMirror, CopiesTakenWhileTheWorkerCountsKeepEveryRelation) {
    fake_worker w;
    w.start();
    std::uint64_t last = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto m = read_mirrored(w.mirror, w.counters, w.stats,
                                     clock_type::now() + std::chrono::seconds(10));
        ASSERT_TRUE(m.coherent);
        ASSERT_EQ(m.counters.values[packets], m.counters.values[client]);
        ASSERT_EQ(m.counters.values[packets], m.stats.rx);
        ASSERT_EQ(m.stats.rx, m.stats.fates);
        ASSERT_GE(m.stats.rx, last);  // a later copy never goes back
        last = m.stats.rx;
    }
    w.join();
    EXPECT_GT(last, 0u);
}

TEST(CounterMirror, AWorkerNotLoopingIsReadDirectlyAndAtOnce) {
    fake_worker w;
    w.counters.add(packets, 7);
    w.stats.rx = 7;
    const auto started = clock_type::now();
    const auto m =
        read_mirrored(w.mirror, w.counters, w.stats, started + std::chrono::seconds(10));
    EXPECT_TRUE(m.coherent);  // nothing moves: the live values are one moment
    EXPECT_EQ(m.counters.values[packets], 7u);
    EXPECT_EQ(m.stats.rx, 7u);
    EXPECT_LT(clock_type::now() - started, std::chrono::seconds(5));
}

TEST(CounterMirror, AWorkerThatDoesNotAnswerIsReadLiveAfterTheDeadlineAndSaidIncoherent) {
    fake_worker w;
    mirror_online(w.mirror, true);  // looping, as far as the reader knows, but never answering
    w.counters.add(packets, 3);
    const auto m = read_mirrored(w.mirror, w.counters, w.stats,
                                 clock_type::now() + std::chrono::milliseconds(20));
    EXPECT_FALSE(m.coherent);
    EXPECT_EQ(m.counters.values[packets], 3u);
}

TEST(CounterMirror, ARequestLeftUnansweredIsAnsweredOnceTheWorkerRuns) {
    fake_worker w;
    mirror_online(w.mirror, true);
    (void)read_mirrored(w.mirror, w.counters, w.stats, clock_type::now());  // gives up at once
    w.counters.add(packets, 5);
    publish_if_asked(w.mirror, w.counters, w.stats);
    EXPECT_EQ(w.mirror.published.load(), w.mirror.requested.load());
    EXPECT_EQ(w.mirror.counters.values[packets], 5u);
}

}  // namespace
