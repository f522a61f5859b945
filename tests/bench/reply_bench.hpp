// The harness of the in-process reply benchmarks (bench-ntp, bench-nts) and the command line
// they share with bench-forward: requests go in through one net_ring port, the engine's
// worker stage answers them, replies come out of the same port's TX ring and a "wire" turns
// each one back into its request (a copy of the request bytes) for the next round. The raw
// rx -> tx forward of the same PMD and wire, in the same run, is the baseline.
#pragma once

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ports/pipelines/worker.hpp"
#include "trafficgen.hpp"

namespace ports::bench {

// --seconds S (each round), --rounds N, --mode M (one mode, fixed work: callgrind),
// --packets N (with --mode); every other `--name value` pair goes to other(name, value).
struct run_options {
    double seconds = 1.0;
    int rounds = 3;
    std::string mode;
    std::uint64_t packets = 0;
};

template <class Other>
run_options parse_run_options(int argc, char** argv, Other&& other) {
    run_options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--seconds") {
            o.seconds = std::atof(argv[i + 1]);
        } else if (a == "--rounds") {
            o.rounds = std::atoi(argv[i + 1]);
        } else if (a == "--mode") {
            o.mode = argv[i + 1];
        } else if (a == "--packets") {
            o.packets = std::strtoull(argv[i + 1], nullptr, 10);
        } else {
            other(a, argv[i + 1]);
        }
    }
    return o;
}

inline run_options parse_run_options(int argc, char** argv) {
    return parse_run_options(argc, argv, [](const std::string&, const char*) {});
}

// How many requests circulate: from as many sources, each its own mbuf.
inline constexpr std::size_t working_set = 2048;

class reply_bench {
  public:
    // A pool and a ring port named `name` (EAL must be up).
    explicit reply_bench(const std::string& name) {
        constexpr unsigned ring_size = 8192;
        pool_ = rte_pktmbuf_pool_create((name + "_pool").c_str(), 8191, 256, 0,
                                        RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        rx_ = rte_ring_create((name + "_rx").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        tx_ = rte_ring_create((name + "_tx").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        port_ = static_cast<std::uint16_t>(rte_eth_from_rings(name.c_str(), &rx_, 1, &tx_, 1, 0));
        rte_eth_macaddr_get(port_, &mac_);
    }
    reply_bench(const reply_bench&) = delete;
    reply_bench& operator=(const reply_bench&) = delete;

    std::uint16_t port() const { return port_; }

    // The i-th client of the working set: 198.18.0.0/15 port 20000 + i to 192.0.2.1, the
    // port's MAC as destination.
    gen::endpoint_options client(std::size_t i) const {
        gen::endpoint_options ep;
        std::copy(std::begin(mac_.addr_bytes), std::end(mac_.addr_bytes), ep.dst_mac.begin());
        ep.src_ip4 = {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        ep.dst_ip4 = {192, 0, 2, 1};
        ep.src_port = static_cast<std::uint16_t>(20000 + i);
        return ep;
    }

    // Drains whatever circulates, before a mode's requests go in.
    void clear() {
        rte_mbuf* tmp[64];
        unsigned n = 0;
        while ((n = rte_ring_dequeue_burst(rx_, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0 ||
               (n = rte_ring_dequeue_burst(tx_, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0) {
            rte_pktmbuf_free_bulk(tmp, n);
        }
        templates_.clear();
    }

    // One request of the working set: kept as the template the wire restores, and sent.
    void add(std::vector<std::uint8_t> frame) {
        templates_.push_back(std::move(frame));
        const auto& t = templates_.back();
        rte_mbuf* mb = rte_pktmbuf_alloc(pool_);
        std::memcpy(rte_pktmbuf_append(mb, static_cast<std::uint16_t>(t.size())), t.data(),
                    t.size());
        mb->hash.usr = static_cast<std::uint32_t>(templates_.size() - 1);
        rte_ring_enqueue(rx_, mb);
    }

    // Runs until `seconds` pass or `packets` are done (whichever is given): the worker stage,
    // or (forward) the raw rx -> tx of the same PMD. Returns Mpps.
    double run(pipelines::lcore_conf& conf, bool forward, double seconds, std::uint64_t packets) {
        pipelines::rx_queue_conf& rx = conf.rx[0];
        rte_mbuf* pkts[pipelines::burst_size];
        std::uint64_t done = 0;
        const auto start = std::chrono::steady_clock::now();
        auto now = start;
        while (packets != 0 ? done < packets
                            : now - start < std::chrono::duration<double>(seconds)) {
            for (int k = 0; k < 64; ++k) {
                const std::uint16_t n = pipelines::poll_queue(rx, pkts);
                if (forward) {
                    const std::uint16_t sent = rte_eth_tx_burst(rx.port, 0, pkts, n);
                    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
                } else {
                    pipelines::process_burst(conf, rx, pkts, n);
                }
                done += n;
                wire();
            }
            now = std::chrono::steady_clock::now();
        }
        return static_cast<double>(done) / std::chrono::duration<double>(now - start).count() / 1e6;
    }

  private:
    // Back onto the RX ring, each mbuf restored to the request it came from.
    void wire() {
        rte_mbuf* out[64];
        const unsigned n = rte_ring_dequeue_burst(tx_, reinterpret_cast<void**>(out), 64, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            const auto& t = templates_[out[i]->hash.usr];
            std::memcpy(rte_pktmbuf_mtod(out[i], void*), t.data(), t.size());
            out[i]->data_len = static_cast<std::uint16_t>(t.size());
            out[i]->pkt_len = static_cast<std::uint32_t>(t.size());
        }
        if (n != 0) {
            rte_ring_enqueue_burst(rx_, reinterpret_cast<void**>(out), n, nullptr);
        }
    }

    rte_mempool* pool_ = nullptr;
    rte_ring* rx_ = nullptr;
    rte_ring* tx_ = nullptr;
    std::uint16_t port_ = 0;
    rte_ether_addr mac_{};
    std::vector<std::vector<std::uint8_t>> templates_;
};

}  // namespace ports::bench
