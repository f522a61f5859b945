// The NTP service in process, through rte_eth_from_rings() ports and the engine's own runtime:
// a flood of requests from 1,000,000 distinct spoofed sources with a legitimate client inside.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "eal_environment.hpp"
#include "engine_port.hpp"
#include "fates.hpp"
#include "runtime.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using test::eal_environment;

std::size_t resident_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stoul(line.substr(6));
        }
    }
    return 0;
}

std::uint64_t server(engine::runtime& rt, pipelines::server_counter c) {
    return engine::sum_over_lcores(rt.service()->counters(), c);
}

}  // namespace

TEST(NtpRings, FloodOfDistinctSpoofedSourcesKeepsMemoryFixedAndServesTheRealClient) {
    rte_ring* rx = rte_ring_create("ntp_rx", 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* tx = rte_ring_create("ntp_tx", 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    const int id = rte_eth_from_rings("ntp0", &rx, 1, &tx, 1, 0);
    ASSERT_GE(id, 0);
    rte_ether_addr port_mac{};
    rte_eth_macaddr_get(static_cast<std::uint16_t>(id), &port_mac);

    engine::engine_config cfg;
    cfg.ntp.enabled = true;
    cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1"),
                         *engine::parse_ip_address("2001:db8::1")};
    cfg.ntp.assume_synchronized = true;
    // Requests wait in the rings between rounds: their arrival is known only to the poll
    // window, which the limit would refuse; answered anyway, the window still computed.
    cfg.ntp.max_timestamp_error_us = 0;
    cfg.ntp.ratelimit = {true, 3, 8, 2, false};
    const engine::port_runtime port = test::port_of(static_cast<std::uint16_t>(id), "ntp0");
    engine::runtime rt;
    rt.start(cfg, {port});
    pipelines::lcore_conf& conf = rt.blocks()[0]->conf;

    gen::endpoint_options flood;
    std::copy(std::begin(port_mac.addr_bytes), std::end(port_mac.addr_bytes),
              flood.dst_mac.begin());
    flood.ipv6 = true;
    flood.dst_ip6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    gen::endpoint_options legit = flood;
    legit.ipv6 = false;
    legit.src_ip4 = {192, 0, 2, 10};
    legit.dst_ip4 = {192, 0, 2, 1};
    legit.src_port = 33000;
    const auto legit_frame = gen::ntp_client_request(legit, 4, gen::ntp_timestamp(1));

    constexpr std::uint32_t sources = 1000000;
    constexpr std::uint32_t legit_every = 50000;
    std::uint64_t injected = 0;
    std::uint64_t legit_sent = 0;
    std::uint64_t legit_answered = 0;
    std::uint64_t replies_seen = 0;
    std::size_t rss_after_warmup = 0;
    std::vector<std::uint8_t> frame;
    rte_mbuf* pkts[pipelines::burst_size];

    auto drain = [&] {
        std::uint16_t n = 0;
        while ((n = pipelines::poll_queue(conf.rx[0], pkts)) != 0) {
            pipelines::process_burst(conf, conf.rx[0], pkts, n);
        }
        rte_mbuf* out[64];
        unsigned got = 0;
        while ((got = rte_ring_dequeue_burst(tx, reinterpret_cast<void**>(out), 64, nullptr)) !=
               0) {
            for (unsigned i = 0; i < got; ++i) {
                const auto* d = rte_pktmbuf_mtod(out[i], const std::uint8_t*);
                // IPv4 reply to the real client: destination 192.0.2.10, port 33000.
                if (out[i]->data_len >= 42 && d[12] == 0x08 && d[13] == 0x00 && d[30] == 192 &&
                    d[33] == 10 && d[36] == 0x80 && d[37] == 0xe8) {
                    ++legit_answered;
                }
                ++replies_seen;
                rte_pktmbuf_free(out[i]);
            }
        }
    };
    auto inject = [&](const std::vector<std::uint8_t>& bytes) {
        rte_mbuf* m = nullptr;
        while ((m = rte_pktmbuf_alloc(eal_environment::pool())) == nullptr) {
            drain();
        }
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size())), bytes.data(),
                    bytes.size());
        while (rte_ring_enqueue(rx, m) != 0) {
            drain();
        }
        ++injected;
    };

    for (std::uint32_t i = 0; i < sources; ++i) {
        // 2001:db8:ffff::/48 plus a 32-bit counter: a million distinct sources.
        flood.src_ip6 = {0x20,
                         0x01,
                         0x0d,
                         0xb8,
                         0xff,
                         0xff,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         static_cast<std::uint8_t>(i >> 24),
                         static_cast<std::uint8_t>(i >> 16),
                         static_cast<std::uint8_t>(i >> 8),
                         static_cast<std::uint8_t>(i)};
        flood.src_port = static_cast<std::uint16_t>(1024 + i % 60000);
        inject(gen::ntp_client_request(flood, 4, gen::ntp_timestamp(i)));
        if (i % legit_every == 0) {
            inject(legit_frame);
            ++legit_sent;
        }
        if (i == 100000) {
            drain();
            rss_after_warmup = resident_kib();
        }
    }
    drain();
    const std::size_t rss_end = resident_kib();

    EXPECT_EQ(injected, sources + legit_sent);
    EXPECT_EQ(server(rt, pipelines::server_counter::requests), injected);
    // Every distinct source is within its burst: all answered; the real client's burst of 8
    // is answered in full, then 1 in 4 (leak 2) of the rest within one 8 s interval.
    EXPECT_GE(legit_answered, 8u + (legit_sent - 8) / 4);
    const std::uint64_t replies = server(rt, pipelines::server_counter::replies);
    const std::uint64_t limited = server(rt, pipelines::server_counter::rate_limited);
    std::uint64_t drops = 0;
    for (std::size_t i = 0; i < pipelines::server_counter_count; ++i) {
        if (pipelines::server_counter_names[i].starts_with("drop_")) {
            drops += server(rt, static_cast<pipelines::server_counter>(i));
        }
    }
    EXPECT_EQ(replies + limited + drops, injected) << "every request is answered or counted";
    EXPECT_EQ(replies_seen, replies);
    // Every received frame's fate counted once: the replies, the rate-limited and refused.
    const auto f = test::fates(rt);
    EXPECT_EQ(f.tx_dropped, 0u);
    EXPECT_EQ(f.accounted(), f.rx);
    EXPECT_EQ(f.replied, replies);
    EXPECT_EQ(f.dropped_for(pipelines::drop_reason::rate_limited),
              limited - server(rt, pipelines::server_counter::kod_sent));
    // The rate-limit table is fixed at start: 900,000 more sources add no memory.
    EXPECT_LT(rss_end, rss_after_warmup + 2048) << "resident KiB grew from " << rss_after_warmup;
    rt.release();
    rte_ring_free(rx);
    rte_ring_free(tx);
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new eal_environment("ports-ntp-rings", 512, 8191));
    return RUN_ALL_TESTS();
}
