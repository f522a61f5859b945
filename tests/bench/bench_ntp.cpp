// NTP replies per second of one core, in process: requests go in through a net_ring port, the
// engine's worker stage answers them, replies come out of the same port's TX ring and a "wire"
// turns each one back into its request (a copy of the request bytes) for the next round. The
// raw rx -> tx forward of the same PMD and wire, in the same run, is the baseline.
//   bench-ntp [--seconds S] [--rounds N] [--keys FILE]
//   bench-ntp --mode forward|plain|sha1|aes --packets N [--keys FILE]  (fixed work: callgrind)
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ports/ntp/mac.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "runtime.hpp"
#include "test_eal.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

constexpr unsigned ring_size = 8192;
constexpr std::size_t working_set = 2048;

enum class mode { forward, plain, sha1, aes };

const char* name_of(mode m) {
    switch (m) {
        case mode::forward: return "raw forward (rx -> tx, no stage)";
        case mode::plain: return "NTP replies, unauthenticated";
        case mode::sha1: return "NTP replies, SHA1 MAC";
        case mode::aes: return "NTP replies, AES-128-CMAC";
    }
    return "?";
}

struct bench {
    rte_ring* rx = nullptr;
    rte_ring* tx = nullptr;
    std::uint16_t port = 0;
    rte_mempool* pool = nullptr;
    std::vector<std::vector<std::uint8_t>> templates;

    // Back onto the RX ring, each mbuf restored to the request it came from.
    void wire() {
        rte_mbuf* out[64];
        const unsigned n = rte_ring_dequeue_burst(tx, reinterpret_cast<void**>(out), 64, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            const auto& t = templates[out[i]->hash.usr];
            std::memcpy(rte_pktmbuf_mtod(out[i], void*), t.data(), t.size());
            out[i]->data_len = static_cast<std::uint16_t>(t.size());
            out[i]->pkt_len = static_cast<std::uint32_t>(t.size());
        }
        if (n != 0) {
            rte_ring_enqueue_burst(rx, reinterpret_cast<void**>(out), n, nullptr);
        }
    }

    void load(mode m, const ntp::key_table& keys, const rte_ether_addr& mac) {
        // Drain whatever circulates, then fill the working set with this mode's requests.
        rte_mbuf* tmp[64];
        unsigned n = 0;
        while ((n = rte_ring_dequeue_burst(rx, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0 ||
               (n = rte_ring_dequeue_burst(tx, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0) {
            rte_pktmbuf_free_bulk(tmp, n);
        }
        templates.clear();
        ntp::mac_engine signer(keys);
        for (std::size_t i = 0; i < working_set; ++i) {
            gen::endpoint_options ep;
            std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), ep.dst_mac.begin());
            ep.src_ip4 = {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
            ep.dst_ip4 = {192, 0, 2, 1};
            ep.src_port = static_cast<std::uint16_t>(20000 + i);
            auto payload = gen::ntp_client_packet(4, gen::ntp_timestamp(1700000000000000ULL + i));
            if (m == mode::sha1 || m == mode::aes) {
                const ntp::key* k = keys.find(m == mode::sha1 ? 1 : 2);
                std::uint8_t digest[64];
                const std::size_t len = signer.sign(*k, payload, digest);
                payload = gen::ntp_with_mac(payload, k->id, {digest, len});
            }
            templates.push_back(gen::udp_frame(ep, payload));
            rte_mbuf* mb = rte_pktmbuf_alloc(pool);
            std::memcpy(rte_pktmbuf_append(mb, static_cast<std::uint16_t>(templates.back().size())),
                        templates.back().data(), templates.back().size());
            mb->hash.usr = static_cast<std::uint32_t>(i);
            rte_ring_enqueue(rx, mb);
        }
    }
};

// Runs until `seconds` pass or `packets` are done (whichever is given); returns Mpps.
double run(bench& b, pipelines::lcore_conf& conf, mode m, double seconds, std::uint64_t packets) {
    const pipelines::rx_queue_conf rx = conf.rx[0];
    rte_mbuf* pkts[pipelines::burst_size];
    std::uint64_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    auto now = start;
    while (packets != 0 ? done < packets
                        : now - start < std::chrono::duration<double>(seconds)) {
        for (int k = 0; k < 64; ++k) {
            const std::uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, pkts, pipelines::burst_size);
            if (m == mode::forward) {
                const std::uint16_t sent = rte_eth_tx_burst(rx.port, 0, pkts, n);
                rte_pktmbuf_free_bulk(pkts + sent, n - sent);
            } else {
                pipelines::process_burst(conf, rx, pkts, n);
            }
            done += n;
            b.wire();
        }
        now = std::chrono::steady_clock::now();
    }
    return static_cast<double>(done) / std::chrono::duration<double>(now - start).count() / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 1.0;
    int rounds = 3;
    std::string keys_path = "configs/ntp-test.keys";
    std::string only;
    std::uint64_t packets = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--seconds") {
            seconds = std::atof(argv[i + 1]);
        } else if (a == "--rounds") {
            rounds = std::atoi(argv[i + 1]);
        } else if (a == "--keys") {
            keys_path = argv[i + 1];
        } else if (a == "--mode") {
            only = argv[i + 1];
        } else if (a == "--packets") {
            packets = std::strtoull(argv[i + 1], nullptr, 10);
        }
    }
    if (test::init_test_eal("ports-bench-ntp", 512) < 0) {
        std::fprintf(stderr, "bench-ntp: EAL init failed\n");
        return 1;
    }
    bench b;
    b.pool = rte_pktmbuf_pool_create("bench_ntp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    b.rx = rte_ring_create("bntp_rx", ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    b.tx = rte_ring_create("bntp_tx", ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    b.port = static_cast<std::uint16_t>(rte_eth_from_rings("bntp", &b.rx, 1, &b.tx, 1, 0));
    rte_ether_addr mac{};
    rte_eth_macaddr_get(b.port, &mac);

    engine::engine_config cfg;
    cfg.ntp.enabled = true;
    cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
    cfg.ntp.keys_path = keys_path;
    cfg.ntp.assume_synchronized = true;
    engine::port_runtime port;
    port.id = b.port;
    port.cfg.name = "bntp";
    port.cfg.device = "bntp";
    port.cfg.rx_descriptors = 1024;
    port.cfg.tx_descriptors = 1024;
    const ntp::key_table keys = ntp::load_key_file(keys_path);
    {
        engine::runtime rt;
        rt.start(cfg, {port});
        pipelines::lcore_conf& conf = rt.blocks()[0]->conf;
        const mode modes[] = {mode::forward, mode::plain, mode::sha1, mode::aes};
        const char* names[] = {"forward", "plain", "sha1", "aes"};
        double best[4] = {};
        for (int r = 0; r < (only.empty() ? rounds : 1); ++r) {
            for (int i = 0; i < 4; ++i) {
                if (!only.empty() && only != names[i]) {
                    continue;
                }
                b.load(modes[i], keys, mac);
                best[i] = std::max(best[i], run(b, conf, modes[i], seconds, packets));
            }
        }
        const std::uint64_t replies =
            engine::sum_over_lcores(rt.service()->counters(), pipelines::server_counter::replies);
        if (only.empty()) {
            std::printf("one core, net_ring, %zu requests of 90 bytes from as many sources, best of %d "
                        "rounds of %.1f s\n",
                        working_set, rounds, seconds);
            for (int i = 0; i < 4; ++i) {
                std::printf("%-36s %7.2f Mpps", name_of(modes[i]), best[i]);
                if (i > 0) {
                    std::printf("   ratio to raw forward %.3f", best[i] / best[0]);
                }
                std::printf("\n");
            }
            std::printf("replies counted by the engine: %llu (target >= 12 Mpps/core "
                        "unauthenticated)\n",
                        static_cast<unsigned long long>(replies));
        } else {
            std::printf("mode %s: %llu packets, %.2f Mpps, %llu replies\n", only.c_str(),
                        static_cast<unsigned long long>(packets), best[0] + best[1] + best[2] + best[3],
                        static_cast<unsigned long long>(replies));
        }
        rt.release();
    }
    rte_eal_cleanup();
    return 0;
}
