// Multi-core scaling: aggregate Mpps of 1..N worker lcores, each with its own net_ring port, for
// the engine's inline classification (realistic mix) and its NTP server (unauthenticated
// requests from as many sources). Each lane is one lcore running the real stage
// (pipelines::process_burst) and a "wire" that feeds its TX back to its RX, so lanes share
// nothing but the engine's own design: per-core counters, per-core rate limiter, per-core state.
// Linear scaling means no hidden sharing (false sharing, a shared cache line, a lock).
//   bench-scaling [--lanes 1,2,4,8] [--seconds S] [--rounds N] [--shared DIR] [--plugins DIR]
// (--plugins: a folder of DPDK PMD/mempool drivers for EAL's -d, on a box without DPDK installed)
// EAL gets lcores 0..max(lanes); lcore 0 coordinates, lanes run on lcores 1..N.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mix.hpp"
#include "runtime.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

constexpr unsigned ring_size = 4096;
constexpr std::size_t lane_working_set = 1024;

using frame_set = std::vector<std::vector<std::uint8_t>>;

struct lane {
    rte_ring* rx = nullptr;
    rte_ring* tx = nullptr;
    std::uint16_t port = 0;
    rte_mempool* pool = nullptr;
    pipelines::lcore_conf* conf = nullptr;
    const frame_set* templates = nullptr;
    bool restore = false;  // NTP: replies become requests again; inline frames come back as sent
    std::uint64_t done = 0;
};

std::atomic<bool> g_go{false};
std::atomic<bool> g_stop{false};

void wire(lane& l) {
    rte_mbuf* out[64];
    const unsigned n = rte_ring_dequeue_burst(l.tx, reinterpret_cast<void**>(out), 64, nullptr);
    if (l.restore) {
        for (unsigned i = 0; i < n; ++i) {
            const auto& t = (*l.templates)[out[i]->hash.usr];
            std::memcpy(rte_pktmbuf_mtod(out[i], void*), t.data(), t.size());
            out[i]->data_len = static_cast<std::uint16_t>(t.size());
            out[i]->pkt_len = static_cast<std::uint32_t>(t.size());
        }
    }
    if (n != 0) {
        rte_ring_enqueue_burst(l.rx, reinterpret_cast<void**>(out), n, nullptr);
    }
}

int lane_main(void* arg) {
    auto& l = *static_cast<lane*>(arg);
    pipelines::rx_queue_conf& rx = l.conf->rx[0];
    rte_mbuf* pkts[pipelines::burst_size];
    std::uint64_t done = 0;
    while (!g_go.load(std::memory_order_acquire)) {
        rte_pause();
    }
    while (!g_stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 64; ++k) {
            const std::uint16_t n = pipelines::poll_queue(rx, pkts);
            if (n == 0) {
                pipelines::drain_tx(*l.conf);
            }
            pipelines::process_burst(*l.conf, rx, pkts, n);
            done += n;
            wire(l);
        }
    }
    pipelines::drain_tx(*l.conf);
    l.done = done;
    return 0;
}

void load(lane& l, const frame_set& frames, bool restore) {
    rte_mbuf* tmp[64];
    unsigned n = 0;
    while ((n = rte_ring_dequeue_burst(l.rx, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0 ||
           (n = rte_ring_dequeue_burst(l.tx, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0) {
        rte_pktmbuf_free_bulk(tmp, n);
    }
    l.templates = &frames;
    l.restore = restore;
    for (std::size_t i = 0; i < std::min(frames.size(), lane_working_set); ++i) {
        rte_mbuf* mb = rte_pktmbuf_alloc(l.pool);
        std::memcpy(rte_pktmbuf_append(mb, static_cast<std::uint16_t>(frames[i].size())),
                    frames[i].data(), frames[i].size());
        mb->hash.usr = static_cast<std::uint32_t>(i);
        rte_ring_enqueue(l.rx, mb);
    }
}

// NTP client requests to 192.0.2.1 at the port's MAC from distinct sources (per lane).
frame_set ntp_requests(const rte_ether_addr& mac, unsigned lane_index) {
    frame_set out;
    for (std::size_t i = 0; i < lane_working_set; ++i) {
        gen::endpoint_options ep;
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), ep.dst_mac.begin());
        ep.src_ip4 = {198, static_cast<std::uint8_t>(18 + (lane_index >> 4)),
                      static_cast<std::uint8_t>(((lane_index & 15) << 4) | (i >> 8)),
                      static_cast<std::uint8_t>(i)};
        ep.dst_ip4 = {192, 0, 2, 1};
        ep.src_port = static_cast<std::uint16_t>(20000 + i);
        out.push_back(gen::udp_frame(
            ep, gen::ntp_client_packet(4, gen::ntp_timestamp(1700000000000000ULL + i))));
    }
    return out;
}

struct result {
    double classify_mpps = 0;
    double ntp_mpps = 0;
};

double run_lanes(std::vector<lane>& lanes, double seconds) {
    g_go.store(false);
    g_stop.store(false);
    for (std::size_t i = 0; i < lanes.size(); ++i) {
        rte_eal_remote_launch(lane_main, &lanes[i], static_cast<unsigned>(i + 1));
    }
    const auto start = std::chrono::steady_clock::now();
    g_go.store(true, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured span
    g_stop.store(true);
    rte_eal_mp_wait_lcore();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::uint64_t total = 0;
    for (const auto& l : lanes) {
        total += l.done;
    }
    return static_cast<double>(total) / elapsed / 1e6;
}

result measure(unsigned n, double seconds, int rounds, const frame_set& mix) {
    static unsigned generation = 0;
    ++generation;
    std::vector<lane> lanes(n);
    engine::engine_config cfg;
    cfg.ntp.enabled = true;
    cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
    cfg.ntp.assume_synchronized = true;
    // Requests wait in the rings between rounds: their arrival is known only to the poll
    // window, which the limit would refuse; answered anyway, the window still computed.
    cfg.ntp.max_timestamp_error_us = 0;
    std::vector<engine::port_runtime> ports;
    for (unsigned i = 0; i < n; ++i) {
        const std::string name = "s" + std::to_string(generation) + "_" + std::to_string(i);
        auto& l = lanes[i];
        l.rx = rte_ring_create((name + "r").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        l.tx = rte_ring_create((name + "t").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        l.port =
            static_cast<std::uint16_t>(rte_eth_from_rings(name.c_str(), &l.rx, 1, &l.tx, 1, 0));
        l.pool = rte_pktmbuf_pool_create((name + "p").c_str(), 2047, 256, 0,
                                         RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        engine::port_runtime p;
        p.id = l.port;
        p.cfg.name = name;
        p.cfg.device = name;
        p.cfg.mode = engine::port_mode::inline_;
        p.cfg.peer = name;
        p.cfg.rx_descriptors = 512;
        p.cfg.tx_descriptors = 512;
        p.peer_id = l.port;  // inline back out of the same port: a lane is self-contained
        ports.push_back(p);
        cfg.lcores.push_back({i + 1, name, 0, 0});
    }
    result r;
    {
        engine::runtime rt;
        rt.start(cfg, ports);
        std::vector<frame_set> ntp(n);
        for (unsigned i = 0; i < n; ++i) {
            lanes[i].conf = &rt.blocks()[i]->conf;
            rte_ether_addr mac{};
            rte_eth_macaddr_get(lanes[i].port, &mac);
            ntp[i] = ntp_requests(mac, i);
        }
        for (int round = 0; round < rounds; ++round) {
            for (auto& l : lanes) {
                load(l, mix, false);
            }
            r.classify_mpps = std::max(r.classify_mpps, run_lanes(lanes, seconds));
            for (unsigned i = 0; i < n; ++i) {
                load(lanes[i], ntp[i], true);
            }
            r.ntp_mpps = std::max(r.ntp_mpps, run_lanes(lanes, seconds));
        }
        for (auto& l : lanes) {
            load(l, {}, false);
        }
        rt.release();
    }
    for (auto& l : lanes) {
        rte_mempool_free(l.pool);
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<unsigned> lanes_list = {1};
    double seconds = 1.0;
    int rounds = 2;
    std::string shared = "../shared";
    std::string plugins;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--plugins") {
            plugins = argv[i + 1];
        } else if (a == "--lanes") {
            lanes_list.clear();
            std::string s = argv[i + 1];
            for (std::size_t pos = 0; pos < s.size();) {
                const std::size_t comma = s.find(',', pos);
                lanes_list.push_back(static_cast<unsigned>(std::stoul(s.substr(pos, comma - pos))));
                pos = comma == std::string::npos ? s.size() : comma + 1;
            }
        } else if (a == "--seconds") {
            seconds = std::atof(argv[i + 1]);
        } else if (a == "--rounds") {
            rounds = std::atoi(argv[i + 1]);
        } else if (a == "--shared") {
            shared = argv[i + 1];
        }
    }
    const unsigned max_lanes = *std::max_element(lanes_list.begin(), lanes_list.end());
    std::vector<std::string> args = {"bench-scaling",
                                     "--no-huge",
                                     "-m",
                                     std::to_string(512 + 96 * max_lanes),
                                     "--no-pci",
                                     "--no-shconf",
                                     "--file-prefix",
                                     "ports-bench-scaling-" + std::to_string(getpid()),
                                     "-l",
                                     "0-" + std::to_string(max_lanes),
                                     "--log-level",
                                     "error"};
    if (!plugins.empty()) {
        args.insert(args.end(), {"-d", plugins});
    }
    std::vector<char*> argv_eal;
    for (auto& a : args) {
        argv_eal.push_back(a.data());
    }
    if (rte_eal_init(static_cast<int>(argv_eal.size()), argv_eal.data()) < 0) {
        std::fprintf(stderr, "bench-scaling: EAL init failed (needs %u cpus)\n", max_lanes + 1);
        return 1;
    }
    const auto traffic = bench::load_mix(shared);
    std::printf(
        "lanes = worker lcores, each with its own net_ring port; best of %d rounds of "
        "%.1f s\nclassify: inline, %s\nntp: unauthenticated requests, %zu sources per "
        "lane\n\n",
        rounds, seconds, traffic.source.c_str(), lane_working_set);
    std::printf("%6s %14s %10s %14s %10s\n", "lanes", "classify Mpps", "per lane", "NTP Mpps",
                "per lane");
    double base_classify = 0;
    double base_ntp = 0;
    for (unsigned n : lanes_list) {
        const result r = measure(n, seconds, rounds, traffic.frames);
        if (n == lanes_list.front()) {
            base_classify = r.classify_mpps / n;
            base_ntp = r.ntp_mpps / n;
        }
        std::printf("%6u %14.2f %10.2f %14.2f %10.2f   efficiency %.2f / %.2f\n", n,
                    r.classify_mpps, r.classify_mpps / n, r.ntp_mpps, r.ntp_mpps / n,
                    r.classify_mpps / n / base_classify, r.ntp_mpps / n / base_ntp);
        std::fflush(stdout);
    }
    rte_eal_cleanup();
    return 0;
}
