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

#include "runtime.hpp"
#include "eal_environment.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using test::eal_environment;

// A ring-backed port: the test enqueues into rx, the engine's TX lands in tx.
struct ring_port {
    rte_ring* rx = nullptr;
    rte_ring* tx = nullptr;
    std::uint16_t id = 0;

    explicit ring_port(const std::string& name) {
        rx = rte_ring_create((name + "_rx").c_str(), 16384, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        tx = rte_ring_create((name + "_tx").c_str(), 16384, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        const int id_or_err = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, 0);
        EXPECT_GE(id_or_err, 0);
        id = static_cast<std::uint16_t>(id_or_err);
    }
    ~ring_port() {
        rte_mbuf* m = nullptr;
        while (rte_ring_dequeue(tx, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
        while (rte_ring_dequeue(rx, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
        rte_ring_free(rx);
        rte_ring_free(tx);
    }
};

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

engine::port_runtime port_of(const ring_port& p, const std::string& name,
                             std::uint16_t peer = pipelines::no_peer) {
    engine::port_runtime r;
    r.id = p.id;
    r.cfg.name = name;
    r.cfg.device = name;
    r.cfg.rx_descriptors = 512;
    r.cfg.tx_descriptors = 512;
    r.peer_id = peer;
    if (peer != pipelines::no_peer) {
        r.cfg.mode = engine::port_mode::inline_;
        r.cfg.peer = "port " + std::to_string(peer);
    }
    return r;
}

// Runs the workers until every injected frame was received (or 10 s pass).
void run_until_received(engine::runtime& rt, std::uint64_t expected) {
    std::thread watcher([&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            std::uint64_t rx = 0;
            for (auto* b : rt.blocks()) {
                rx += pipelines::worker_stats::load(b->stats.rx_packets);
            }
            if (rx >= expected) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
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
    rt.start({}, {port_of(wire, "mon0")});
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
    rt.start(cfg, {port_of(a, "in0", b.id), port_of(b, "in1", a.id)});
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
