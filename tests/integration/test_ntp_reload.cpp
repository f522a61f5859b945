// Live reload of the NTP symmetric keys and access list, in process: a net_ring port served by
// the engine's own runtime, its config and key file on disk, rewritten and reloaded the way an
// operator does it (runtime::reload_ntp, what SIGHUP and /ports_engine/ntp_reload call).
//   Keys: a key added answers signed after the reload, a key removed gets crypto-NAKs, a key
//   file with a bad line 3 is refused with FILE:3 and the running keys keep answering.
//   Access: a deny added by a reload drops that prefix; a bad access line is refused (FILE:LINE).
//   Under load: the engine's worker loop serves requests injected without pause while another
//   thread reloads 60 times (every tenth file bad); every request gets a verdict, counted, and
//   no signed reply is lost between the request's generation and its signing.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "eal_environment.hpp"
#include "engine_port.hpp"
#include "fates.hpp"
#include "poll.hpp"
#include "ports/ntp/mac.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "ring_port.hpp"
#include "runtime.hpp"
#include "stats.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using test::eal_environment;

constexpr const char* key_1 = "1 SHA1 0123456789abcdef0123456789abcdef01234567\n";
constexpr const char* key_2 = "2 AES 000102030405060708090a0b0c0d0e0f\n";
// Line 3: a type the engine refuses.
constexpr const char* bad_line_3 =
    "2 AES 000102030405060708090a0b0c0d0e0f\n"
    "# line 2 is a comment\n"
    "3 SHA256 00112233445566778899aabbccddeeff\n";

// Client source ports: the reply's destination port says whose it is.
constexpr std::uint16_t key_1_port = 33001;
constexpr std::uint16_t key_2_port = 33002;
constexpr std::uint16_t plain_port = 33003;
constexpr std::uint16_t denied_port = 33004;

void write_text(const std::filesystem::path& p, const std::string& text) {
    const auto tmp = p.string() + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, p);  // as an operator's editor or deploy tool: whole or not
}

std::string config_text(const std::string& access) {
    return "ntp:\n"
           "  addresses: [192.0.2.1]\n"
           "  keys: ntp.keys\n"
           "  assume_synchronized: true\n"
           // Requests wait in the ring between rounds: answered whatever their stamp's bound.
           "  max_timestamp_error: 0\n" +
           access;
}

ntp::key_table both_keys() {
    return ntp::parse_key_file(std::string(key_1) + key_2, "test");
}

// What came back for one client: signed with its key and verified, crypto-NAK, or other.
struct replies {
    std::uint64_t signed_ok = 0;
    std::uint64_t nak = 0;
    std::uint64_t plain = 0;
    std::uint64_t bad = 0;  // a MAC that does not verify, or a reply of no known shape
};

class harness {
  public:
    explicit harness(const std::string& name) : port_(name, 8192) {
        dir_ = std::filesystem::temp_directory_path() /
               ("ports-ntp-reload-" + name + "-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_);
        config_ = (dir_ / "engine.yaml").string();
        keys_ = dir_ / "ntp.keys";
        rte_ether_addr mac{};
        rte_eth_macaddr_get(port_.id, &mac);
        client_.dst_ip4 = {192, 0, 2, 1};
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), client_.dst_mac.begin());
    }
    ~harness() {
        rt.release();  // before the port's rings go (an assertion may have left early)
        std::filesystem::remove_all(dir_);
    }

    void start(const std::string& keys, const std::string& access) {
        write_text(keys_, keys);
        write_text(config_, config_text(access));
        rt.start(engine::load_config(config_), {test::port_of(port_.id, "reload")});
    }
    void write_keys(const std::string& text) { write_text(keys_, text); }
    void write_config(const std::string& access) { write_text(config_, config_text(access)); }
    const std::string& config() const { return config_; }

    // A client request from `src`:`sport`, signed with `key` when it is not null.
    std::vector<std::uint8_t> request(std::array<std::uint8_t, 4> src, std::uint16_t sport,
                                      const ntp::key* key, std::uint64_t n) {
        gen::endpoint_options ep = client_;
        ep.src_ip4 = src;
        ep.src_port = sport;
        auto payload = gen::ntp_client_packet(4, gen::ntp_timestamp(1700000000000000ULL + n));
        if (key != nullptr) {
            std::uint8_t digest[ntp::max_digest_length];
            const std::size_t len = signer_.sign(*key, payload, digest);
            payload = gen::ntp_with_mac(payload, key->id, {digest, len});
        }
        return gen::udp_frame(ep, payload);
    }

    bool inject(const std::vector<std::uint8_t>& bytes) {
        rte_mbuf* m = rte_pktmbuf_alloc(eal_environment::pool());
        if (m == nullptr) {
            return false;
        }
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size())), bytes.data(),
                    bytes.size());
        if (rte_ring_enqueue(port_.rx, m) != 0) {
            rte_pktmbuf_free(m);
            return false;
        }
        return true;
    }

    // Without workers: the test's thread runs the lcore's bursts itself.
    void serve_all() {
        pipelines::lcore_conf& conf = rt.blocks()[0]->conf;
        rte_mbuf* pkts[pipelines::burst_size];
        std::uint16_t n = 0;
        while ((n = pipelines::poll_queue(conf.rx[0], pkts)) != 0) {
            pipelines::process_burst(conf, conf.rx[0], pkts, n);
        }
    }

    // Reads every reply out of the TX ring, by client port.
    void take_replies() {
        rte_mbuf* out[64];
        unsigned got = 0;
        while ((got = rte_ring_dequeue_burst(port_.tx, reinterpret_cast<void**>(out), 64,
                                             nullptr)) != 0) {
            for (unsigned i = 0; i < got; ++i) {
                classify(out[i]);
                rte_pktmbuf_free(out[i]);
            }
            taken += got;
        }
    }

    replies& of(std::uint16_t port) { return by_port_[port]; }
    void clear() { by_port_.clear(); }

    std::uint64_t server(pipelines::server_counter c) {
        return engine::sum_over_lcores(rt.service()->counters(), c);
    }

    engine::runtime rt;
    std::uint64_t taken = 0;

  private:
    void classify(const rte_mbuf* m) {
        const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
        if (m->data_len < 42 + 48) {
            ++by_port_[0].bad;
            return;
        }
        const std::uint16_t port = static_cast<std::uint16_t>(d[36] << 8 | d[37]);
        replies& r = by_port_[port];
        const std::span<const std::uint8_t> payload(d + 42, m->data_len - 42u);
        if (payload.size() == 48) {
            ++r.plain;
            return;
        }
        const std::uint32_t key_id = static_cast<std::uint32_t>(payload[48]) << 24 |
                                     payload[49] << 16 | payload[50] << 8 | payload[51];
        if (payload.size() == 52 && key_id == 0) {
            ++r.nak;
            return;
        }
        const ntp::key* k = reference_.find(key_id);
        if (k != nullptr && signer_.verify(*k, payload.first(48), payload.subspan(52))) {
            ++r.signed_ok;
        } else {
            ++r.bad;
        }
    }

    test::ring_port port_;
    std::filesystem::path dir_;
    std::string config_;
    std::filesystem::path keys_;
    gen::endpoint_options client_;
    ntp::key_table reference_ = both_keys();
    ntp::mac_engine signer_{reference_};
    std::map<std::uint16_t, replies> by_port_;
};

constexpr std::array<std::uint8_t, 4> key_1_client{192, 0, 2, 10};
constexpr std::array<std::uint8_t, 4> key_2_client{192, 0, 2, 11};
constexpr std::array<std::uint8_t, 4> plain_client{203, 0, 113, 9};
constexpr std::array<std::uint8_t, 4> denied_client{198, 51, 100, 7};

}  // namespace

TEST(NtpReload, KeysAndAccessListChangeOnReloadAndABadFileKeepsTheRunningSet) {
    harness h("nrk");
    h.start(key_1, "");
    const ntp::key_table keys = both_keys();
    const ntp::key* k1 = keys.find(1);
    const ntp::key* k2 = keys.find(2);
    std::uint64_t n = 0;
    const auto round = [&] {
        h.clear();
        ASSERT_TRUE(h.inject(h.request(key_1_client, key_1_port, k1, ++n)));
        ASSERT_TRUE(h.inject(h.request(key_2_client, key_2_port, k2, ++n)));
        ASSERT_TRUE(h.inject(h.request(plain_client, plain_port, nullptr, ++n)));
        ASSERT_TRUE(h.inject(h.request(denied_client, denied_port, nullptr, ++n)));
        h.serve_all();
        h.take_replies();
    };
    engine::ntp_service& svc = *h.rt.service();
    EXPECT_EQ(svc.last_reload().generation, 1u);

    // (1) Key 2 unknown: crypto-NAK. Then added and reloaded: answered, signed with key 2.
    round();
    EXPECT_EQ(h.of(key_1_port).signed_ok, 1u);
    EXPECT_EQ(h.of(key_2_port).nak, 1u);
    EXPECT_EQ(h.of(key_2_port).signed_ok, 0u);
    EXPECT_EQ(h.of(denied_port).plain, 1u) << "no access list yet";
    h.write_keys(std::string(key_1) + key_2);
    auto r = h.rt.reload_ntp();
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.generation, 2u);
    EXPECT_EQ(r.keys, 2u);
    round();
    EXPECT_EQ(h.of(key_1_port).signed_ok, 1u);
    EXPECT_EQ(h.of(key_2_port).signed_ok, 1u);
    EXPECT_EQ(h.of(key_2_port).nak, 0u);

    // (2) Key 1 removed: its requests are no longer answered as authenticated (crypto-NAK, as
    // for any unknown key).
    h.write_keys(key_2);
    r = h.rt.reload_ntp();
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.generation, 3u);
    EXPECT_EQ(r.keys, 1u);
    round();
    EXPECT_EQ(h.of(key_1_port).signed_ok, 0u);
    EXPECT_EQ(h.of(key_1_port).nak, 1u);
    EXPECT_EQ(h.of(key_2_port).signed_ok, 1u);

    // (3) A key file wrong at line 3: refused with FILE:3, the running keys keep answering.
    h.write_keys(bad_line_3);
    r = h.rt.reload_ntp();
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.message.find("ntp keys: "), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("ntp.keys:3:"), std::string::npos) << r.message;
    EXPECT_EQ(r.generation, 3u);
    EXPECT_EQ(r.keys, 1u);
    round();
    EXPECT_EQ(h.of(key_2_port).signed_ok, 1u);
    EXPECT_EQ(h.of(key_1_port).nak, 1u);

    // (4) The access list: a deny added by a reload drops that prefix, nothing else.
    const std::uint64_t access_drops = h.server(pipelines::server_counter::drop_access);
    h.write_keys(key_2);
    h.write_config("  access:\n    - {deny: 198.51.100.0/24}\n");
    r = h.rt.reload_ntp();
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.generation, 4u);
    EXPECT_EQ(r.access_rules, 1u);
    round();
    EXPECT_EQ(h.of(denied_port).plain, 0u);
    EXPECT_EQ(h.server(pipelines::server_counter::drop_access), access_drops + 1);
    EXPECT_EQ(h.of(plain_port).plain, 1u);
    EXPECT_EQ(h.of(key_2_port).signed_ok, 1u);

    // A bad access line (config line 7): refused with CONFIG:7, the deny stays.
    h.write_config("  access:\n    - {deny: 198.51.100.0/33}\n");
    r = h.rt.reload_ntp();
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.message.find(h.config() + ":7:"), std::string::npos) << r.message;
    EXPECT_EQ(r.generation, 4u);
    round();
    EXPECT_EQ(h.of(denied_port).plain, 0u);
    EXPECT_EQ(h.of(plain_port).plain, 1u);
    // And taken away again.
    h.write_config("");
    r = h.rt.reload_ntp();
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.access_rules, 0u);
    round();
    EXPECT_EQ(h.of(denied_port).plain, 1u);

    // What an operator sees (--stats-json "ntp_reload", /ports_engine/ntp_reload,status).
    const auto doc = svc.reload_json();
    EXPECT_EQ(doc["generation"].get<std::uint64_t>(), 5u);
    EXPECT_EQ(doc["reloads_ok"].get<std::uint64_t>(), 4u);
    EXPECT_EQ(doc["reloads_failed"].get<std::uint64_t>(), 2u);
    EXPECT_EQ(doc["keys"].get<std::uint64_t>(), 1u);
    EXPECT_TRUE(doc["last_reload"]["ok"].get<bool>());

    // Every request had its fate counted.
    const auto f = test::fates(h.rt);
    EXPECT_EQ(f.accounted(), f.rx);
    EXPECT_EQ(f.rx, n);
    EXPECT_EQ(f.replied, h.taken);
    EXPECT_EQ(h.server(pipelines::server_counter::drop_sign_failed), 0u);
    h.rt.release();
}

TEST(NtpReload, ReloadsUnderLoadLoseNothing) {
    harness h("nrl");
    h.start(std::string(key_1) + key_2, "");
    const ntp::key_table keys = both_keys();
    const ntp::key* k1 = keys.find(1);
    const ntp::key* k2 = keys.find(2);
    // Three request kinds in turn; key 1 is in every file, key 2 in every other one.
    const std::vector<std::vector<std::uint8_t>> frames = {
        h.request(key_1_client, key_1_port, k1, 1), h.request(key_2_client, key_2_port, k2, 2),
        h.request(plain_client, plain_port, nullptr, 3)};

    std::atomic<bool> reloads_done{false};
    std::atomic<std::uint64_t> sent{0};
    std::uint64_t sent_by_kind[3] = {};
    std::uint64_t alloc_failures = 0;
    std::thread injector([&] {
        constexpr std::uint64_t window = 1024;  // in flight at most: no ring overflows
        constexpr std::uint64_t min_frames = 20000;
        std::uint64_t i = 0;
        while (!reloads_done.load() || i < min_frames) {
            h.take_replies();
            const std::uint64_t answered_or_dropped = h.taken + test::fates(h.rt).dropped;
            if (i - answered_or_dropped >= window) {
                std::this_thread::yield();
                continue;
            }
            if (!h.inject(frames[i % 3])) {
                ++alloc_failures;
                continue;
            }
            ++sent_by_kind[i % 3];
            sent.store(++i);
        }
        test::eventually(
            [&] {
                h.take_replies();
                return test::fates(h.rt).accounted() >= i;
            },
            std::chrono::seconds(20), std::chrono::microseconds(200));
        h.take_replies();
        h.rt.request_stop();
    });

    std::vector<engine::ntp_reload_result> results;
    std::uint64_t sent_at_first = 0;
    std::uint64_t sent_at_last = 0;
    std::thread reloader([&] {
        test::eventually([&] { return sent.load() >= 1000; }, std::chrono::seconds(20),
                         std::chrono::milliseconds(1));
        sent_at_first = sent.load();
        for (int i = 1; i <= 60; ++i) {
            h.write_keys(i % 10 == 0  ? bad_line_3
                         : i % 2 == 1 ? std::string(key_1)
                                      : std::string(key_1) + key_2);
            results.push_back(h.rt.reload_ntp());
            // Spread over the traffic (the behaviour under test is a reload while it flows).
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        sent_at_last = sent.load();
        reloads_done.store(true);
    });

    h.rt.run_workers();
    reloader.join();
    injector.join();

    ASSERT_EQ(results.size(), 60u);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const bool bad = (i + 1) % 10 == 0;
        EXPECT_EQ(results[i].ok, !bad) << i << ": " << results[i].message;
        if (bad) {
            EXPECT_NE(results[i].message.find("ntp.keys:3:"), std::string::npos);
        }
    }
    EXPECT_EQ(h.rt.service()->last_reload().generation, 1u + 54u);
    EXPECT_GT(sent_at_last, sent_at_first) << "reloads happened under traffic";
    EXPECT_EQ(alloc_failures, 0u);

    // Every request got a verdict, and the counters add up.
    const std::uint64_t total = sent.load();
    const auto f = test::fates(h.rt);
    EXPECT_EQ(f.rx, total);
    EXPECT_EQ(f.accounted(), f.rx);
    EXPECT_EQ(f.tx_dropped, 0u);
    EXPECT_EQ(f.replied, total) << "every request answered (signed, crypto-NAK or plain)";
    EXPECT_EQ(h.taken, total);
    EXPECT_EQ(h.server(pipelines::server_counter::requests), total);
    EXPECT_EQ(h.server(pipelines::server_counter::replies), total);
    EXPECT_EQ(h.server(pipelines::server_counter::drop_sign_failed), 0u)
        << "a reply is signed under its request's generation";
    // Key 1 is in every generation: always signed. Key 2 comes and goes: signed or NAK, both.
    EXPECT_EQ(h.of(key_1_port).signed_ok, sent_by_kind[0]);
    EXPECT_EQ(h.of(key_2_port).signed_ok + h.of(key_2_port).nak, sent_by_kind[1]);
    EXPECT_GT(h.of(key_2_port).signed_ok, 0u);
    EXPECT_GT(h.of(key_2_port).nak, 0u);
    EXPECT_EQ(h.of(plain_port).plain, sent_by_kind[2]);
    EXPECT_EQ(h.of(key_1_port).bad + h.of(key_2_port).bad + h.of(plain_port).bad + h.of(0).bad, 0u);
    EXPECT_EQ(h.server(pipelines::server_counter::auth_ok),
              h.of(key_1_port).signed_ok + h.of(key_2_port).signed_ok);
    EXPECT_EQ(h.server(pipelines::server_counter::crypto_nak), h.of(key_2_port).nak);

    std::vector<double> grace;
    for (const auto& r : results) {
        if (r.ok) {
            grace.push_back(r.grace_ms);
        }
    }
    std::sort(grace.begin(), grace.end());
    std::printf(
        "ntp reload: %llu requests, 60 reloads (6 invalid) in traffic; publication to old "
        "generation freed (RCU grace) median %.3f ms max %.3f ms\n",
        static_cast<unsigned long long>(total), grace[grace.size() / 2], grace.back());
    h.rt.release();
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new eal_environment("ports-ntp-reload", 256, 8192));
    return RUN_ALL_TESTS();
}
