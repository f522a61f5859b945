// NTS in the fast path, in process: NTS requests (cookies sealed under the engine's master key,
// authenticators under each session's C2S) through an rte_eth_from_rings() port and the
// engine's own runtime, a worker thread polling it while the test injects without pause and
// changes the master keys (a fleet key file re-read, as on SIGHUP) under the traffic.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "eal_environment.hpp"
#include "engine_port.hpp"
#include "fates.hpp"
#include "nts_request.hpp"
#include "poll.hpp"
#include "ring_port.hpp"
#include "runtime.hpp"
#include "test_certs.hpp"
#include "trafficgen.hpp"

using namespace ports;
namespace ts = ports::nts::test_support;

namespace {

using test::eal_environment;

constexpr std::size_t sessions = 64;
constexpr char key1[] = "1a2b3c4d 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr char key2[] = "5e6f7a8b ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

std::uint64_t server(engine::runtime& rt, pipelines::server_counter c) {
    return engine::sum_over_lcores(rt.service()->counters(), c);
}

void write_keys(const std::string& path, std::initializer_list<const char*> lines) {
    std::ofstream f(path + ".new");
    long created = 1700000000;
    for (const char* l : lines) {
        f << l << " " << created++ << "\n";
    }
    f.close();
    std::filesystem::rename(path + ".new", path);
}

struct session {
    nts::session_keys keys;
    nts::aes_siv c2s, s2c;
    std::vector<std::uint8_t> cookie;
    std::array<std::uint8_t, 32> uid{};
    std::vector<std::uint8_t> frame;
};

class NtsRings : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() / ("pe-nts-rings-" + std::to_string(::getpid()));
        certs_ = test::make_test_certificates(dir_, {"IP:127.0.0.1"});
        key_file_ = (dir_ / "nts.keys").string();
        write_keys(key_file_, {key1});
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    engine::engine_config config(std::uint16_t) const {
        engine::engine_config cfg;
        cfg.ntp.enabled = true;
        cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
        cfg.ntp.assume_synchronized = true;
        // Requests wait in the rings between rounds: their arrival is known only to the poll
        // window, which the limit would refuse; answered anyway, the window still computed.
        cfg.ntp.max_timestamp_error_us = 0;
        cfg.ntp.nts.enabled = true;
        cfg.ntp.nts.certificate = certs_.certificate;
        cfg.ntp.nts.key = certs_.key;
        cfg.ntp.nts.ke_listen = {"127.0.0.1:0"};  // a management address: no exception path
        cfg.ntp.nts.key_file = key_file_;
        cfg.ntp.nts.rotate_interval_s = 0;
        return cfg;
    }

    std::filesystem::path dir_;
    test::test_certificates certs_;
    std::string key_file_;
};

// Sessions as NTS-KE would have made them, with cookies under the ring's current key.
std::vector<session> make_sessions(const nts::key_ring& ring, const rte_ether_addr& mac) {
    std::vector<session> out(sessions);
    for (std::size_t i = 0; i < sessions; ++i) {
        session& s = out[i];
        s.keys = ts::random_session();
        s.c2s.set_key(s.keys.c2s);
        s.s2c.set_key(s.keys.s2c);
        s.cookie = ts::cookie_for(*ring.current(), s.keys);
        ts::request_options o;
        o.transmit_ts = 0x1122334455667788ULL + i;
        o.cookie = s.cookie;
        o.placeholders = static_cast<unsigned>(i % 4);
        const auto req = ts::build_request(s.c2s, o);
        s.uid = req.uid;
        gen::endpoint_options ep;
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), ep.dst_mac.begin());
        ep.src_ip4 = {198, 18, 0, static_cast<std::uint8_t>(i + 1)};
        ep.dst_ip4 = {192, 0, 2, 1};
        ep.src_port = static_cast<std::uint16_t>(40000 + i);
        s.frame = gen::udp_frame(ep, req.packet);
    }
    return out;
}

}  // namespace

TEST_F(NtsRings, EveryRequestIsAnsweredAcrossKeyChangesUnderTraffic) {
    test::ring_port port("nts0");
    rte_ether_addr mac{};
    rte_eth_macaddr_get(port.id, &mac);
    engine::runtime rt;
    rt.start(config(port.id), {test::port_of(port.id, "nts0")});
    ASSERT_NE(rt.nts(), nullptr);
    pipelines::lcore_conf& conf = rt.blocks()[0]->conf;
    const nts::key_ring first = rt.nts()->keys().read();
    ASSERT_EQ(first.count, 1);
    auto all = make_sessions(first, mac);

    // The worker: polls the port as the engine's loop does, on its own thread.
    std::atomic<bool> stop{false};
    std::thread worker([&] {
        rte_mbuf* pkts[pipelines::burst_size];
        while (!stop.load(std::memory_order_relaxed)) {
            const std::uint16_t n = pipelines::poll_queue(conf.rx[0], pkts);
            if (n != 0) {
                pipelines::process_burst(conf, conf.rx[0], pkts, n);
            }
        }
    });

    std::uint64_t injected = 0, replies = 0, naks = 0, bad = 0;
    std::map<std::uint32_t, std::uint64_t> cookies_by_key;
    auto collect = [&] {
        rte_mbuf* out[64];
        unsigned got = 0;
        while ((got = rte_ring_dequeue_burst(port.tx, reinterpret_cast<void**>(out), 64,
                                             nullptr)) != 0) {
            for (unsigned i = 0; i < got; ++i) {
                const auto* d = rte_pktmbuf_mtod(out[i], const std::uint8_t*);
                const std::size_t idx = d[33] - 1u;  // the client: 198.18.0.(idx + 1)
                const std::span<const std::uint8_t> ntp(d + 42, out[i]->data_len - 42u);
                if (idx < sessions) {
                    const auto r = ts::check_reply(ntp, all[idx].s2c, all[idx].uid);
                    if (r.outcome == ts::reply_outcome::reply) {
                        ++replies;
                        for (const auto& c : r.cookies) {
                            ++cookies_by_key[static_cast<std::uint32_t>(c[0]) << 24 | c[1] << 16 |
                                             c[2] << 8 | c[3]];
                        }
                    } else if (r.outcome == ts::reply_outcome::nts_nak) {
                        ++naks;
                    } else {
                        ++bad;
                    }
                } else {
                    ++bad;
                }
                rte_pktmbuf_free(out[i]);
            }
        }
    };
    auto round = [&] {
        for (auto& s : all) {
            rte_mbuf* m = nullptr;
            while ((m = rte_pktmbuf_alloc(eal_environment::pool())) == nullptr) {
                collect();
            }
            std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(s.frame.size())),
                        s.frame.data(), s.frame.size());
            while (rte_ring_enqueue(port.rx, m) != 0) {
                collect();
            }
            ++injected;
        }
        collect();
    };
    auto settle = [&](std::uint64_t expected) {
        test::eventually(
            [&] {
                collect();
                return replies + naks + bad >= expected;
            },
            std::chrono::seconds(2), std::chrono::milliseconds(1));
    };

    for (int r = 0; r < 50; ++r) {
        round();
    }
    // Answered before the change (else the worker could see every request after it).
    settle(injected);
    // A new current key appended to the fleet's file: cookies of the old key keep working and
    // fresh cookies come under the new one, with the traffic flowing.
    write_keys(key_file_, {key1, key2});
    const auto reload = rt.nts()->reload_keys();
    ASSERT_TRUE(reload.ok) << reload.message;
    for (int r = 0; r < 50; ++r) {
        round();
    }
    settle(injected);
    EXPECT_EQ(replies, injected) << "every request is answered";
    EXPECT_EQ(naks, 0u);
    EXPECT_EQ(bad, 0u);
    EXPECT_GT(cookies_by_key[0x1a2b3c4d], 0u);
    EXPECT_GT(cookies_by_key[0x5e6f7a8b], 0u);
    const std::uint64_t answered_before_removal = replies;

    // A bad file keeps the running keys.
    {
        std::ofstream f(key_file_);
        f << "not a key line\n";
    }
    EXPECT_FALSE(rt.nts()->reload_keys().ok);
    round();
    settle(injected);
    EXPECT_EQ(replies, injected);

    // The old key gone from the file: its cookies are undecryptable, each gets an NTS NAK.
    write_keys(key_file_, {key2});
    ASSERT_TRUE(rt.nts()->reload_keys().ok);
    round();
    settle(injected);
    stop.store(true);
    worker.join();
    collect();
    EXPECT_EQ(replies, answered_before_removal + sessions);
    EXPECT_EQ(naks, sessions);
    EXPECT_EQ(server(rt, pipelines::server_counter::nts_requests), injected);
    EXPECT_EQ(server(rt, pipelines::server_counter::nts_replies), replies);
    EXPECT_EQ(server(rt, pipelines::server_counter::nts_naks), naks);
    EXPECT_EQ(server(rt, pipelines::server_counter::nts_auth_failed), 0u);
    const auto f = test::fates(rt);
    EXPECT_EQ(f.tx_dropped, 0u);
    EXPECT_EQ(f.accounted(), f.rx) << "every received frame's fate is counted once";
    rt.release();
}

TEST_F(NtsRings, TamperedRequestsAreCountedAndNeverAnswered) {
    test::ring_port port("nts1");
    rte_ether_addr mac{};
    rte_eth_macaddr_get(port.id, &mac);
    engine::runtime rt;
    rt.start(config(port.id), {test::port_of(port.id, "nts1", pipelines::no_peer, 1024)});
    pipelines::lcore_conf& conf = rt.blocks()[0]->conf;
    auto all = make_sessions(rt.nts()->keys().read(), mac);
    std::size_t tampered = 0;
    for (auto& s : all) {
        // Every other request: one bit of its authenticator's tag flipped (the tag is the
        // frame's last 16 bytes: the Authenticator is the last field, its ciphertext just V).
        if (&s - all.data() < static_cast<std::ptrdiff_t>(sessions / 2)) {
            s.frame[s.frame.size() - 1 - (&s - all.data()) % 16] ^= 0x01;
            ++tampered;
        }
        rte_mbuf* m = rte_pktmbuf_alloc(eal_environment::pool());
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(s.frame.size())),
                    s.frame.data(), s.frame.size());
        ASSERT_EQ(rte_ring_enqueue(port.rx, m), 0);
    }
    rte_mbuf* pkts[pipelines::burst_size];
    std::uint16_t n = 0;
    while ((n = pipelines::poll_queue(conf.rx[0], pkts)) != 0) {
        pipelines::process_burst(conf, conf.rx[0], pkts, n);
    }
    EXPECT_EQ(rte_ring_count(port.tx), sessions - tampered);
    EXPECT_EQ(server(rt, pipelines::server_counter::nts_auth_failed), tampered);
    EXPECT_EQ(server(rt, pipelines::server_counter::nts_replies), sessions - tampered);
    rt.release();
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new eal_environment("ports-nts-rings", 512, 8191));
    return RUN_ALL_TESTS();
}
