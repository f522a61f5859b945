// Mpps of one core over the net_ring PMD: the raw rx -> tx forward (inline mode without the
// classify stage) next to the engine's inline path (rx -> parse -> classify -> count -> tx),
// measured in the same run over the same mbufs, and their ratio.
//   bench-forward [--seconds S] [--rounds N] [--shared DIR] [--pdump on]
// --pdump on: the inline path instead before rte_pdump_init, after it (what the engine runs
// with capture on while nobody captures) and with an RX and a TX callback installed (what a
// dpdk-dumpcap attach adds to the queues before pdump's copy), rounds interleaved.
// A "wire" moves mbufs from port B's TX ring back to port A's RX ring, so the working set
// circulates without allocation; both loops pay for it equally.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine_port.hpp"
#include "mix.hpp"
#include "reply_bench.hpp"
#include "runtime.hpp"
#include "test_eal.hpp"

using namespace ports;

namespace {

constexpr unsigned ring_size = 16384;

struct ring_port {
    rte_ring* rx;
    rte_ring* tx;
    std::uint16_t id;
};

ring_port make_port(const std::string& name) {
    ring_port p{};
    p.rx = rte_ring_create((name + "_rx").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.tx = rte_ring_create((name + "_tx").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.id = static_cast<std::uint16_t>(rte_eth_from_rings(name.c_str(), &p.rx, 1, &p.tx, 1, 0));
    return p;
}

void wire(const ring_port& from, const ring_port& to) {
    void* objs[64];
    const unsigned n = rte_ring_dequeue_burst(from.tx, objs, 64, nullptr);
    if (n != 0) {
        rte_ring_enqueue_burst(to.rx, objs, n, nullptr);
    }
}

// Raw forward: what the inline path does with the classify stage taken out.
void forward_only(pipelines::lcore_conf& conf, const pipelines::rx_queue_conf& rx, rte_mbuf** pkts,
                  std::uint16_t n) {
    rte_eth_dev_tx_buffer* buffer = conf.tx_buffer[rx.peer];
    for (std::uint16_t i = 0; i < n; ++i) {
        rte_eth_tx_buffer(rx.peer, conf.tx_queue[rx.peer], buffer, pkts[i]);
    }
}

// DPDK l2fwd's per-packet work: rewrite the Ethernet addresses, so the frame's first cache line
// is read and written as any real forwarder does.
void forward_mac_swap(pipelines::lcore_conf& conf, const pipelines::rx_queue_conf& rx,
                      rte_mbuf** pkts, std::uint16_t n) {
    rte_eth_dev_tx_buffer* buffer = conf.tx_buffer[rx.peer];
    for (std::uint16_t i = 0; i < n; ++i) {
        if (i + 3 < n) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 3], void*));
        }
        auto* eth = rte_pktmbuf_mtod(pkts[i], rte_ether_hdr*);
        const rte_ether_addr dst = eth->dst_addr;
        eth->dst_addr = eth->src_addr;
        eth->src_addr = dst;
        rte_eth_tx_buffer(rx.peer, conf.tx_queue[rx.peer], buffer, pkts[i]);
    }
}

std::uint16_t pass_rx(std::uint16_t, std::uint16_t, rte_mbuf**, std::uint16_t n, std::uint16_t,
                      void*) {
    return n;
}

std::uint16_t pass_tx(std::uint16_t, std::uint16_t, rte_mbuf**, std::uint16_t n, void*) {
    return n;
}

template <typename Stage>
double run_mpps(pipelines::lcore_conf& conf, const ring_port& a, const ring_port& b, double seconds,
                Stage stage) {
    const pipelines::rx_queue_conf rx = conf.rx[0];
    rte_mbuf* pkts[pipelines::burst_size];
    std::uint64_t packets = 0;
    const auto start = std::chrono::steady_clock::now();
    auto now = start;
    while (now - start < std::chrono::duration<double>(seconds)) {
        for (int k = 0; k < 256; ++k) {
            const std::uint16_t n =
                rte_eth_rx_burst(rx.port, rx.queue, pkts, pipelines::burst_size);
            if (n == 0) {
                pipelines::drain_tx(conf);
            }
            stage(conf, rx, pkts, n);
            packets += n;
            wire(b, a);
        }
        now = std::chrono::steady_clock::now();
    }
    pipelines::drain_tx(conf);
    wire(b, a);
    return static_cast<double>(packets) / std::chrono::duration<double>(now - start).count() / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    std::string shared = "../shared";
    bool pdump = false;
    const auto opt = bench::parse_run_options(argc, argv, [&](const std::string& a, const char* v) {
        if (a == "--shared") {
            shared = v;
        } else if (a == "--pdump") {
            pdump = std::string(v) == "on";
        }
    });
    if (!opt.mode.empty() || opt.packets != 0) {
        // The harness's fixed-work options (callgrind) belong to bench-ntp and bench-nts.
        std::fprintf(stderr, "bench-forward: --mode and --packets are not options of this bench\n");
        return 2;
    }
    const double seconds = opt.seconds;
    const int rounds = opt.rounds;
    if (test::init_test_eal("ports-bench-forward", 512) < 0) {
        std::fprintf(stderr, "bench-forward: EAL init failed\n");
        return 1;
    }
    const auto traffic = bench::load_mix(shared);
    const std::size_t working_set = std::min<std::size_t>(traffic.frames.size(), 8192);
    rte_mempool* pool =
        rte_pktmbuf_pool_create("bench", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    const ring_port a = make_port("bench_a");
    const ring_port b = make_port("bench_b");
    if (pool == nullptr || a.rx == nullptr || b.rx == nullptr) {
        std::fprintf(stderr, "bench-forward: cannot create pool or rings\n");
        return 1;
    }
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < working_set; ++i) {
        const auto& f = traffic.frames[i];
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(),
                    f.size());
        bytes += f.size();
        rte_ring_enqueue(a.rx, m);
    }

    double best_forward = 0;
    double best_l2fwd = 0;
    double best_classify = 0;
    double best_rules_idle = 0;
    double best_pdump_idle = 0;
    double best_callbacks = 0;
    // The rule stage on, with a set whose only rule is on a class (snmp-trap) that is a sliver
    // of the mix: what the stage costs the frames it does not scan.
    const auto rules_file = std::filesystem::temp_directory_path() /
                            ("ports-bench-forward-rules-" + std::to_string(getpid()) + ".yaml");
    std::ofstream(rules_file) << "rules:\n  - id: trap-public\n    class: snmp-trap\n"
                                 "    match: {field: snmp.community, regex: \"^public$\"}\n"
                                 "    action: count\n";
    std::uint64_t scanned = 0;
    std::uint64_t rules_rounds_packets = 0;
    {
        engine::runtime rt;
        engine::engine_config cfg;
        cfg.rules_path = rules_file.string();
        rt.start(cfg, {test::port_of(a.id, "bench_a", b.id, 1024),
                       test::port_of(b.id, "bench_b", a.id, 1024)});
        std::filesystem::remove(rules_file);
        pipelines::lcore_conf& conf = rt.blocks()[0]->conf;
        conf.rx_count = 1;  // poll A only: B's RX ring stays empty, the wire feeds A
        pipelines::rules_lcore* rules = conf.rules;
        for (int r = 0; pdump && r < rounds; ++r) {
            conf.rules = nullptr;
            best_classify =
                std::max(best_classify, run_mpps(conf, a, b, seconds, pipelines::process_burst));
            if (rte_pdump_init() != 0) {
                std::fprintf(stderr, "bench-forward: rte_pdump_init failed\n");
                return 1;
            }
            best_pdump_idle =
                std::max(best_pdump_idle, run_mpps(conf, a, b, seconds, pipelines::process_burst));
            rte_pdump_uninit();
            const auto* rx_cb = rte_eth_add_first_rx_callback(a.id, 0, pass_rx, nullptr);
            const auto* tx_cb = rte_eth_add_tx_callback(b.id, 0, pass_tx, nullptr);
            best_callbacks =
                std::max(best_callbacks, run_mpps(conf, a, b, seconds, pipelines::process_burst));
            // One thread polls: once removed, nothing can be inside them.
            rte_eth_remove_rx_callback(a.id, 0, rx_cb);
            rte_eth_remove_tx_callback(b.id, 0, tx_cb);
            rte_free(const_cast<rte_eth_rxtx_callback*>(rx_cb));
            rte_free(const_cast<rte_eth_rxtx_callback*>(tx_cb));
        }
        for (int r = 0; !pdump && r < rounds; ++r) {
            conf.rules = nullptr;  // the engine without a rules file
            best_forward = std::max(best_forward, run_mpps(conf, a, b, seconds, forward_only));
            best_l2fwd = std::max(best_l2fwd, run_mpps(conf, a, b, seconds, forward_mac_swap));
            best_classify =
                std::max(best_classify, run_mpps(conf, a, b, seconds, pipelines::process_burst));
            conf.rules = rules;
            const auto before = engine::snapshot_of(rt.counters()).total_packets();
            best_rules_idle =
                std::max(best_rules_idle, run_mpps(conf, a, b, seconds, pipelines::process_burst));
            rules_rounds_packets += engine::snapshot_of(rt.counters()).total_packets() - before;
        }
        scanned = rt.rules()->figures().scanned;
        const auto snap = engine::snapshot_of(rt.counters());
        std::printf("traffic: %s; working set %zu mbufs, mean frame %.0f bytes\n",
                    traffic.source.c_str(), working_set,
                    static_cast<double>(bytes) / static_cast<double>(working_set));
        std::printf("classified %llu packets in the classify rounds\n",
                    static_cast<unsigned long long>(snap.total_packets()));
        rt.release();
    }
    if (pdump) {
        std::printf("engine inline, rte_pdump not initialised:        %7.2f Mpps/core\n",
                    best_classify);
        std::printf(
            "engine inline, rte_pdump_init, nobody captures: %7.2f Mpps/core (ratio "
            "%.3f)\n",
            best_pdump_idle, best_pdump_idle / best_classify);
        std::printf(
            "engine inline, an RX and a TX callback on:       %7.2f Mpps/core (ratio "
            "%.3f: a capture's hooks, before its copy)\n",
            best_callbacks, best_callbacks / best_classify);
        std::printf("(best of %d rounds of %.1f s each, interleaved, one core, same mbufs)\n",
                    rounds, seconds);
        rte_eal_cleanup();
        return 0;
    }
    std::printf("net_ring raw forward (rx -> tx, data untouched): %7.2f Mpps/core\n", best_forward);
    std::printf("net_ring l2fwd-style forward (MAC rewrite):      %7.2f Mpps/core\n", best_l2fwd);
    std::printf("engine inline (rx -> classify+count -> tx):      %7.2f Mpps/core\n",
                best_classify);
    std::printf(
        "engine inline + rule stage (1 rule, snmp-trap):   %7.2f Mpps/core (%.2f%% of "
        "frames scanned)\n",
        best_rules_idle,
        100.0 * static_cast<double>(scanned) /
            static_cast<double>(std::max<std::uint64_t>(rules_rounds_packets, 1)));
    std::printf(
        "ratio rule stage idle / classify: %.3f (frames of classes without rules: one "
        "bit test)\n",
        best_rules_idle / best_classify);
    std::printf("ratio classify / raw forward:    %.3f (target >= 0.95)\n",
                best_classify / best_forward);
    std::printf("ratio classify / l2fwd forward:  %.3f\n", best_classify / best_l2fwd);
    std::printf("(best of %d rounds of %.1f s each, one core, same mbufs)\n", rounds, seconds);
    rte_eal_cleanup();
    return 0;
}
