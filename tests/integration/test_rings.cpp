// In-process: frames injected through rte_eth_from_rings() ports, the engine's own runtime
// (port setup, lcore plan, worker loop) classifies them, and the test collects what comes out.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "eal_environment.hpp"
#include "engine_port.hpp"
#include "poll.hpp"
#include "ring_port.hpp"
#include "runtime.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using test::eal_environment;

using test::port_of;
using test::ring_port;

void inject(const ring_port& port, const std::vector<gen::frame>& frames) {
    for (const auto& f : frames) {
        rte_mbuf* m = rte_pktmbuf_alloc(eal_environment::pool());
        ASSERT_NE(m, nullptr);
        auto* dst = rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.bytes.size()));
        ASSERT_NE(dst, nullptr);
        std::memcpy(dst, f.bytes.data(), f.bytes.size());
        ASSERT_EQ(rte_ring_enqueue(port.rx, m), 0);
    }
}

// Runs the workers until every injected frame was received (or 10 s pass).
void run_until_received(engine::runtime& rt, std::uint64_t expected) {
    std::thread watcher([&] {
        test::eventually(
            [&] {
                std::uint64_t rx = 0;
                for (auto* b : rt.blocks()) {
                    rx += pipelines::worker_stats::load(b->stats.rx_packets);
                }
                return rx >= expected;
            },
            std::chrono::seconds(10));
        rt.request_stop();
    });
    rt.run_workers();
    watcher.join();
}

void expect_counts_match(const pipelines::counter_snapshot& s, const gen::mix_tally& t) {
    for (std::size_t c = 0; c < pipelines::class_count; ++c) {
        const auto cls = static_cast<pipelines::traffic_class>(c);
        const auto name = pipelines::class_names[c];
        const auto& want = t.classes[gen::class_index(name)];
        EXPECT_EQ(s.packets(cls), want.packets) << name;
        EXPECT_EQ(s.bytes(cls), want.bytes) << name;
        EXPECT_EQ(s.values[pipelines::class_base[c] + pipelines::offset_malformed], want.malformed)
            << name;
    }
}

}  // namespace

TEST(Rings, MonitorModeClassifiesAndFreesEveryFrame) {
    ring_port wire("mon0");
    const auto frames = gen::make_mix({.count = 3000, .seed = 11});
    const unsigned free_before = rte_mempool_avail_count(eal_environment::pool());
    inject(wire, frames);

    engine::runtime rt;
    rt.start({}, {port_of(wire.id, "mon0")});
    run_until_received(rt, frames.size());

    const auto s = engine::snapshot_of(rt.counters());
    EXPECT_EQ(s.total_packets(), frames.size());
    expect_counts_match(s, gen::tally(frames));
    EXPECT_EQ(rte_ring_count(wire.tx), 0u) << "monitor mode never transmits";
    EXPECT_EQ(rte_mempool_avail_count(eal_environment::pool()), free_before)
        << "every mbuf went back to its pool";
    rt.release();
}

TEST(Rings, InlineModeForwardsEveryFrameUnchangedInOrder) {
    ring_port a("in0");
    ring_port b("in1");
    const auto frames = gen::make_mix({.count = 2000, .seed = 12});
    inject(a, frames);

    engine::runtime rt;
    engine::engine_config cfg;
    rt.start(cfg, {port_of(a.id, "in0", b.id), port_of(b.id, "in1", a.id)});
    run_until_received(rt, frames.size());

    const auto s = engine::snapshot_of(rt.counters());
    expect_counts_match(s, gen::tally(frames));
    ASSERT_EQ(rte_ring_count(b.tx), frames.size());
    for (const auto& f : frames) {
        rte_mbuf* m = nullptr;
        ASSERT_EQ(rte_ring_dequeue(b.tx, reinterpret_cast<void**>(&m)), 0);
        ASSERT_EQ(rte_pktmbuf_pkt_len(m), f.bytes.size());
        EXPECT_EQ(std::memcmp(rte_pktmbuf_mtod(m, const void*), f.bytes.data(), f.bytes.size()), 0)
            << f.label;
        rte_pktmbuf_free(m);
    }
    EXPECT_EQ(rte_ring_count(a.tx), 0u);
    rt.release();
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new eal_environment("ports-rings", 256, 16384));
    return RUN_ALL_TESTS();
}
