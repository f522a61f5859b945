// NTS replies per second of one core, in process, next to plain NTP replies and the raw
// forward of the same PMD in the same run: requests go in through a net_ring port, the
// engine's worker stage answers them (cookie opened under the master key, request verified
// with C2S, fresh cookies sealed under the master key, the reply sealed with S2C), replies come
// out of the TX ring and a "wire" turns each back into its request for the next round.
//   bench-nts [--seconds S] [--rounds N]
//   bench-nts --mode forward|plain|nts|nts8 --packets N   (fixed work: callgrind)
#include <openssl/rand.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "nts_request.hpp"
#include "runtime.hpp"
#include "test_certs.hpp"
#include "test_eal.hpp"
#include "trafficgen.hpp"

using namespace ports;
namespace ts = ports::nts::test_support;

namespace {

constexpr unsigned ring_size = 8192;
constexpr std::size_t working_set = 2048;

enum class mode { forward, plain, nts, nts8 };
constexpr mode modes[] = {mode::forward, mode::plain, mode::nts, mode::nts8};
constexpr const char* mode_names[] = {"forward", "plain", "nts", "nts8"};

const char* name_of(mode m) {
    switch (m) {
        case mode::forward: return "raw forward (rx -> tx, no stage)";
        case mode::plain: return "NTP replies, unauthenticated";
        case mode::nts: return "NTS replies, 1 cookie (chrony's usual)";
        case mode::nts8: return "NTS replies, 1 cookie + 7 placeholders";
    }
    return "?";
}

struct bench {
    rte_ring* rx = nullptr;
    rte_ring* tx = nullptr;
    rte_mempool* pool = nullptr;
    std::vector<std::vector<std::uint8_t>> templates;
    std::size_t request_bytes = 0;

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

    void load(mode m, const nts::key_ring& ring, const rte_ether_addr& mac) {
        rte_mbuf* tmp[64];
        unsigned n = 0;
        while ((n = rte_ring_dequeue_burst(rx, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0 ||
               (n = rte_ring_dequeue_burst(tx, reinterpret_cast<void**>(tmp), 64, nullptr)) != 0) {
            rte_pktmbuf_free_bulk(tmp, n);
        }
        templates.clear();
        for (std::size_t i = 0; i < working_set; ++i) {
            gen::endpoint_options ep;
            std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), ep.dst_mac.begin());
            ep.src_ip4 = {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
            ep.dst_ip4 = {192, 0, 2, 1};
            ep.src_port = static_cast<std::uint16_t>(20000 + i);
            std::vector<std::uint8_t> payload;
            if (m == mode::nts || m == mode::nts8) {
                // One NTS-KE session per client: its own C2S/S2C and a cookie under the
                // engine's current master key.
                nts::session_keys keys;
                RAND_bytes(keys.c2s.data(), static_cast<int>(keys.c2s.size()));
                RAND_bytes(keys.s2c.data(), static_cast<int>(keys.s2c.size()));
                std::uint8_t nonce[16];
                RAND_bytes(nonce, sizeof(nonce));
                ts::request_options o;
                o.transmit_ts = gen::ntp_timestamp(1700000000000000ULL + i);
                o.cookie.resize(nts::cookie_length);
                nts::make_cookie(*ring.current(), nonce, keys, o.cookie.data());
                o.placeholders = m == mode::nts8 ? 7 : 0;
                payload = ts::build_request(nts::aes_siv(keys.c2s), o).packet;
            } else {
                payload = gen::ntp_client_packet(4, gen::ntp_timestamp(1700000000000000ULL + i));
            }
            templates.push_back(gen::udp_frame(ep, payload));
            request_bytes = templates.back().size();
            rte_mbuf* mb = rte_pktmbuf_alloc(pool);
            std::memcpy(rte_pktmbuf_append(mb, static_cast<std::uint16_t>(templates.back().size())),
                        templates.back().data(), templates.back().size());
            mb->hash.usr = static_cast<std::uint32_t>(i);
            rte_ring_enqueue(rx, mb);
        }
    }
};

double run(bench& b, pipelines::lcore_conf& conf, mode m, double seconds, std::uint64_t packets) {
    const pipelines::rx_queue_conf rx = conf.rx[0];
    rte_mbuf* pkts[pipelines::burst_size];
    std::uint64_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    auto now = start;
    while (packets != 0 ? done < packets : now - start < std::chrono::duration<double>(seconds)) {
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

std::uint64_t counter(engine::runtime& rt, pipelines::server_counter c) {
    return engine::sum_over_lcores(rt.service()->counters(), c);
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 1.0;
    int rounds = 3;
    std::string only;
    std::uint64_t packets = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--seconds") {
            seconds = std::atof(argv[i + 1]);
        } else if (a == "--rounds") {
            rounds = std::atoi(argv[i + 1]);
        } else if (a == "--mode") {
            only = argv[i + 1];
        } else if (a == "--packets") {
            packets = std::strtoull(argv[i + 1], nullptr, 10);
        }
    }
    const auto dir = std::filesystem::temp_directory_path() / ("pe-bench-nts-" + std::to_string(getpid()));
    test::test_certificates certs;
    try {
        certs = test::make_test_certificates(dir, {"IP:127.0.0.1"});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-nts: %s\n", e.what());
        return 1;
    }
    if (test::init_test_eal("ports-bench-nts", 512) < 0) {
        std::fprintf(stderr, "bench-nts: EAL init failed\n");
        return 1;
    }
    bench b;
    b.pool = rte_pktmbuf_pool_create("bench_nts", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    b.rx = rte_ring_create("bnts_rx", ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    b.tx = rte_ring_create("bnts_tx", ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    const auto port_id = static_cast<std::uint16_t>(rte_eth_from_rings("bnts", &b.rx, 1, &b.tx, 1, 0));
    rte_ether_addr mac{};
    rte_eth_macaddr_get(port_id, &mac);

    engine::engine_config cfg;
    cfg.ntp.enabled = true;
    cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
    cfg.ntp.assume_synchronized = true;
    cfg.ntp.nts.enabled = true;
    cfg.ntp.nts.certificate = certs.certificate;
    cfg.ntp.nts.key = certs.key;
    cfg.ntp.nts.ke_listen = {"127.0.0.1:0"};
    engine::port_runtime port;
    port.id = port_id;
    port.cfg.name = "bnts";
    port.cfg.device = "bnts";
    port.cfg.rx_descriptors = 1024;
    port.cfg.tx_descriptors = 1024;
    {
        engine::runtime rt;
        rt.start(cfg, {port});
        pipelines::lcore_conf& conf = rt.blocks()[0]->conf;
        const nts::key_ring ring = rt.nts()->keys().read();
        double best[4] = {};
        std::size_t bytes[4] = {};
        for (int r = 0; r < (only.empty() ? rounds : 1); ++r) {
            for (int i = 0; i < 4; ++i) {
                if (!only.empty() && only != mode_names[i]) {
                    continue;
                }
                b.load(modes[i], ring, mac);
                bytes[i] = b.request_bytes;
                best[i] = std::max(best[i], run(b, conf, modes[i], seconds, packets));
            }
        }
        const auto nts_replies = counter(rt, pipelines::server_counter::nts_replies);
        const auto nts_failed = counter(rt, pipelines::server_counter::nts_auth_failed) +
                                counter(rt, pipelines::server_counter::nts_naks) +
                                counter(rt, pipelines::server_counter::nts_malformed);
        if (only.empty()) {
            std::printf("one core, net_ring, %zu requests from as many sources (each its own NTS "
                        "session), best of %d rounds of %.1f s\n",
                        working_set, rounds, seconds);
            for (int i = 0; i < 4; ++i) {
                std::printf("%-42s %4zu B %7.2f Mpps", name_of(modes[i]), bytes[i], best[i]);
                if (i > 1) {
                    std::printf("   ratio to plain %.3f", best[i] / best[1]);
                }
                std::printf("\n");
            }
            std::printf("NTS replies counted by the engine: %llu, failures %llu\n",
                        static_cast<unsigned long long>(nts_replies),
                        static_cast<unsigned long long>(nts_failed));
            std::printf("nts: %.2f Mpps per core (target >= 2), plain %.2f Mpps in the same run\n",
                        best[2], best[1]);
        } else {
            std::printf("mode %s: %llu packets, %.2f Mpps, %llu NTS replies, %llu failures\n",
                        only.c_str(), static_cast<unsigned long long>(packets),
                        best[0] + best[1] + best[2] + best[3],
                        static_cast<unsigned long long>(nts_replies),
                        static_cast<unsigned long long>(nts_failed));
        }
        rt.release();
    }
    rte_eal_cleanup();
    std::filesystem::remove_all(dir);
    return 0;
}
