// Hitless rule reload under load, in-process: frames are injected without pause into a
// net_ring port while the engine's own worker loop (inline mode, rule stage on) forwards them,
// and another thread reloads the rules 100 times, alternating two files, every tenth time an
// invalid one. Nothing may be lost (rx == classified == forwarded + dropped by rule), the
// counters of rules present in both files must continue, and a bad file must leave the running
// set in place. Built twice: as is, and with ASan+UBSan over every source it runs.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "eal_environment.hpp"
#include "engine_port.hpp"
#include "poll.hpp"
#include "ring_port.hpp"
#include "runtime.hpp"
#include "stats.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using test::eal_environment;

using test::port_of;
using test::ring_port;

// Set A and set B share snmp-public (count) and ntp-monlist (drop) under the same ids, with
// different names and patterns that select the same frames; each has its own rule on the
// private community (B's alerts). The invalid file is set A with a pattern Hyperscan rejects.
constexpr const char* set_a = R"(rules:
  - id: snmp-public
    name: SNMP community public
    class: snmp
    match: {field: snmp.community, regex: "^public$"}
    action: count
  - id: ntp-monlist
    name: NTP monlist request
    class: ntp
    match: {field: ntp.request_code, equals: 42}
    action: drop
  - id: snmp-private-a
    class: snmp
    match: {field: payload, regex: "private"}
    action: count
)";

constexpr const char* set_b = R"(rules:
  - id: ntp-monlist
    name: NTP mode 7 MON_GETLIST (set B)
    class: ntp
    match: {field: ntp.request_code, equals: 42}
    action: drop
  - id: snmp-private-b
    class: snmp
    match: {field: snmp.community, regex: "^priv"}
    action: alert
    alert_rate: 5
  - id: snmp-public
    name: SNMP community public (set B)
    class: snmp
    match: {field: snmp.community, regex: "PUBLIC", flags: [caseless]}
    action: count
)";

constexpr const char* set_invalid = R"(rules:
  - id: snmp-public
    class: snmp
    match: {field: snmp.community, regex: "^public$"}
    action: count
  - id: broken
    class: snmp
    match: {field: payload, regex: "(unclosed"}
    action: count
)";

std::string write_file(const std::filesystem::path& dir, const std::string& name,
                       const char* text) {
    const auto p = dir / name;
    std::ofstream(p) << text;
    return p.string();
}

std::optional<std::uint32_t> slot_of(const rules::rule_set& set, const std::string& id) {
    for (std::size_t i = 0; i < set.size(); ++i) {
        if (set.at(i).id == id) {
            return set.slot(i);
        }
    }
    return std::nullopt;
}

enum kind : std::uint8_t { public_kind, private_kind, monlist_kind, ntp_client_kind, plain_kind };

struct traffic {
    std::vector<std::vector<std::uint8_t>> frames;
    std::vector<kind> kinds;
};

// A repeating schedule of frames built by the traffic generator: SNMP with community public
// (v1 and v2c), private, NTP monlist requests, NTP client requests, and frames of the classes
// no rule looks at (from the generator's mix).
traffic make_traffic() {
    traffic t;
    gen::endpoint_options snmp;
    snmp.dst_port = 161;
    gen::endpoint_options ntp;
    ntp.dst_port = 123;
    gen::endpoint_options ntp6 = ntp;
    ntp6.ipv6 = true;
    const auto mix = gen::make_mix({.count = 400, .seed = 5});
    std::size_t m = 0;
    for (int i = 0; i < 200; ++i) {
        switch (i % 10) {
            case 0:
            case 1:
                t.frames.push_back(gen::udp_frame(snmp, gen::snmp_v2c_get_next("public", i)));
                t.kinds.push_back(public_kind);
                break;
            case 2:
                t.frames.push_back(gen::udp_frame(snmp, gen::snmp_v1_get_request("public", i)));
                t.kinds.push_back(public_kind);
                break;
            case 3:
            case 4:
                t.frames.push_back(gen::udp_frame(snmp, gen::snmp_v2c_get_next("private", i)));
                t.kinds.push_back(private_kind);
                break;
            case 5:
                t.frames.push_back(
                    gen::udp_frame(i % 20 == 5 ? ntp : ntp6, gen::ntp_monlist_request()));
                t.kinds.push_back(monlist_kind);
                break;
            case 6:
                t.frames.push_back(gen::ntp_client_request(ntp, 4, 1000u + i));
                t.kinds.push_back(ntp_client_kind);
                break;
            default:
                while (mix[m].cls == "ntp" || mix[m].cls == "snmp" || mix[m].cls == "snmp-trap") {
                    ++m;
                }
                t.frames.push_back(mix[m++].bytes);
                t.kinds.push_back(plain_kind);
                break;
        }
    }
    return t;
}

bool is_monlist(const rte_mbuf* m, const traffic& t) {
    for (std::size_t i = 0; i < t.frames.size(); ++i) {
        if (t.kinds[i] == monlist_kind && t.frames[i].size() == m->pkt_len &&
            std::memcmp(rte_pktmbuf_mtod(m, const void*), t.frames[i].data(), m->pkt_len) == 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST(RulesReload, HundredReloadsUnderLoadLoseNothing) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("ports-rules-reload-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string path_a = write_file(dir, "a.yaml", set_a);
    const std::string path_b = write_file(dir, "b.yaml", set_b);
    const std::string path_bad = write_file(dir, "bad.yaml", set_invalid);

    const traffic t = make_traffic();
    ring_port a("rl0", 8192);
    ring_port b("rl1", 8192);
    const unsigned free_before = rte_mempool_avail_count(eal_environment::pool());

    engine::runtime rt;
    engine::engine_config cfg;
    cfg.rules_path = path_a;
    rt.start(cfg, {port_of(a.id, "rl0", b.id), port_of(b.id, "rl1", a.id)});
    engine::rules_runtime& rules = *rt.rules();
    const auto first = rules.current_set();
    ASSERT_NE(first, nullptr);
    const std::uint32_t public_slot = *slot_of(*first, "snmp-public");
    const std::uint32_t monlist_slot = *slot_of(*first, "ntp-monlist");
    const std::uint32_t private_a_slot = *slot_of(*first, "snmp-private-a");

    // What the SNMP agent's trap will get: every alert let through the rate limit.
    std::uint64_t notified = 0;
    std::string notified_ids;
    rules.alert_notifier = [&](const rules::rule& r, std::uint64_t matches) {
        ++notified;
        if (r.id != "snmp-private-b" || matches == 0) {
            notified_ids += r.id + " ";
        }
    };

    std::atomic<bool> reloads_done{false};
    std::atomic<bool> injector_done{false};
    std::atomic<std::uint64_t> sent_total{0};
    std::uint64_t sent_by_kind[5] = {};
    std::uint64_t out = 0;
    std::uint64_t monlist_out = 0;
    std::uint64_t alloc_failures = 0;

    // Injector: keeps at most `window` frames in flight (so no ring overflows and a lost frame
    // is the engine's), and takes what the engine forwards out of rl1's TX ring.
    std::thread injector([&] {
        constexpr std::uint64_t window = 2048;
        constexpr std::uint64_t min_frames = 20000;
        const auto dropped = [&] { return rules.figures().dropped; };
        std::size_t next = 0;
        std::uint64_t sent = 0;
        std::array<rte_mbuf*, 32> burst{};
        const auto take_output = [&] {
            unsigned n = 0;
            while ((n = rte_ring_dequeue_burst(b.tx, reinterpret_cast<void**>(burst.data()),
                                               burst.size(), nullptr)) != 0) {
                for (unsigned i = 0; i < n; ++i) {
                    monlist_out += is_monlist(burst[i], t) ? 1 : 0;
                }
                out += n;
                rte_pktmbuf_free_bulk(burst.data(), n);
            }
        };
        while (!reloads_done.load() || sent < min_frames) {
            take_output();
            if (sent - out - dropped() >= window) {
                std::this_thread::yield();
                continue;
            }
            unsigned n = 0;
            for (; n < burst.size(); ++n) {
                const auto& f = t.frames[(next + n) % t.frames.size()];
                rte_mbuf* m = rte_pktmbuf_alloc(eal_environment::pool());
                if (m == nullptr) {
                    ++alloc_failures;
                    break;
                }
                std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(),
                            f.size());
                burst[n] = m;
            }
            const unsigned queued =
                rte_ring_enqueue_burst(a.rx, reinterpret_cast<void**>(burst.data()), n, nullptr);
            rte_pktmbuf_free_bulk(burst.data() + queued, n - queued);
            for (unsigned i = 0; i < queued; ++i) {
                ++sent_by_kind[t.kinds[(next + i) % t.frames.size()]];
            }
            next = (next + queued) % t.frames.size();
            sent += queued;
            sent_total.store(sent);
        }
        test::eventually(
            [&] {
                take_output();
                return out + dropped() >= sent;
            },
            std::chrono::seconds(20), std::chrono::microseconds(200));
        take_output();
        injector_done.store(true);
    });

    std::vector<engine::reload_result> results;
    std::vector<std::uint64_t> public_matches;
    std::uint64_t sent_at_first_reload = 0;
    std::uint64_t sent_at_last_reload = 0;
    std::thread reloader([&] {
        // Traffic first, then reloads while it flows.
        test::eventually([&] { return sent_total.load() >= 2000 || injector_done.load(); },
                         std::chrono::seconds(20), std::chrono::milliseconds(1));
        sent_at_first_reload = sent_total.load();
        for (int i = 1; i <= 100; ++i) {
            const std::string& path = i % 10 == 0 ? path_bad : (i % 2 == 1 ? path_b : path_a);
            const auto before = rules.current_set();
            results.push_back(rules.reload(path));
            if (i % 10 == 0) {
                EXPECT_EQ(rules.current_set(), before)
                    << "a bad file left the running set in place";
            }
            public_matches.push_back(rules.matches(public_slot));
            rules.drain_alerts();  // the control thread's job, here between reloads
            // Not a wait for something: the reloads are spread over the traffic (the
            // behaviour under test is a reload while frames flow).
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        sent_at_last_reload = sent_total.load();
        reloads_done.store(true);
        test::eventually(
            [&] {
                rules.drain_alerts();
                return injector_done.load();
            },
            std::chrono::seconds(30), std::chrono::milliseconds(1));
        rt.request_stop();
    });

    rt.run_workers();
    reloader.join();
    injector.join();
    rules.drain_alerts();

    // Every reload did what its file says, and traffic flowed all along.
    ASSERT_EQ(results.size(), 100u);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const bool bad = (i + 1) % 10 == 0;
        EXPECT_EQ(results[i].ok, !bad) << i << ": " << results[i].message;
        if (bad) {
            EXPECT_NE(results[i].message.find("bad.yaml:"), std::string::npos)
                << results[i].message;
            EXPECT_NE(results[i].message.find("broken"), std::string::npos) << results[i].message;
            EXPECT_EQ(results[i].generation, results[i - 1].generation);
        }
    }
    EXPECT_EQ(rules.last_reload().generation, 91u);  // the first set, then 90 good reloads
    EXPECT_EQ(rules.figures().reloads_ok, 91u);
    EXPECT_EQ(rules.figures().reloads_failed, 10u);
    EXPECT_GT(sent_at_last_reload, sent_at_first_reload) << "reloads happened under traffic";
    EXPECT_EQ(alloc_failures, 0u);

    // Nothing lost: rx == classified == forwarded + dropped by rule.
    const std::uint64_t sent = sent_total.load();
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
    std::uint64_t tx_dropped = 0;
    std::uint64_t forwarded = 0;
    std::uint64_t dropped_by_rule = 0;
    std::uint64_t other_fates = 0;
    for (auto* blk : rt.blocks()) {
        using w = pipelines::worker_stats;
        rx += w::load(blk->stats.rx_packets);
        tx += w::load(blk->stats.tx_packets);
        tx_dropped += w::load(blk->stats.tx_dropped);
        forwarded += w::load(blk->stats.forwarded);
        other_fates += w::load(blk->stats.replied) + w::load(blk->stats.to_kernel) +
                       w::load(blk->stats.released);
        for (std::size_t i = 0; i < pipelines::drop_reason_count; ++i) {
            const std::uint64_t d = w::load(blk->stats.dropped[i]);
            if (i == static_cast<std::size_t>(pipelines::drop_reason::rule)) {
                dropped_by_rule += d;
            } else {
                other_fates += d;
            }
        }
    }
    // The fate counters say the same: forwarded or dropped by a rule, nothing else.
    EXPECT_EQ(forwarded + dropped_by_rule, rx);
    EXPECT_EQ(other_fates, 0u);
    EXPECT_EQ(forwarded, tx);
    const auto f = rules.figures();
    EXPECT_EQ(rx, sent);
    EXPECT_EQ(engine::snapshot_of(rt.counters()).total_packets(), sent);
    EXPECT_EQ(tx + f.dropped, sent);
    EXPECT_EQ(tx_dropped, 0u);
    EXPECT_EQ(out, tx);

    // Dropped: exactly the monlist requests (a rule of both sets), none forwarded.
    EXPECT_GT(sent_by_kind[monlist_kind], 0u);
    EXPECT_EQ(f.dropped, sent_by_kind[monlist_kind]);
    EXPECT_EQ(dropped_by_rule, f.dropped);
    EXPECT_EQ(monlist_out, 0u);
    EXPECT_EQ(rules.matches(monlist_slot), sent_by_kind[monlist_kind]);

    // The surviving counter continued through 100 reloads: monotonic, and it counted every
    // frame it was meant to.
    for (std::size_t i = 1; i < public_matches.size(); ++i) {
        EXPECT_LE(public_matches[i - 1], public_matches[i]) << i;
    }
    EXPECT_EQ(rules.matches(public_slot), sent_by_kind[public_kind]);

    // Each private frame met exactly one generation: A's rule or B's, never none or both.
    const auto last = rules.current_set();
    const auto private_b_slot = slot_of(*last, "snmp-private-b");
    ASSERT_TRUE(private_b_slot.has_value()) << "the last good reload (99) was set B";
    const std::uint64_t private_a = rules.matches(private_a_slot);
    const std::uint64_t private_b = rules.matches(*private_b_slot);
    EXPECT_GT(private_a, 0u);
    EXPECT_GT(private_b, 0u);
    EXPECT_EQ(private_a + private_b, sent_by_kind[private_kind]);
    // Scanned: the frames of the classes with rules (snmp, ntp), and no other.
    EXPECT_EQ(f.scanned, sent_by_kind[public_kind] + sent_by_kind[private_kind] +
                             sent_by_kind[monlist_kind] + sent_by_kind[ntp_client_kind]);
    // B's alerts: every match became a record (queued, lost on a full ring, or held back by
    // the worker over the rule's rate), every record a line
    // or a suppression by the rule's rate.
    EXPECT_EQ(f.alerts_queued + f.alerts_ring_full + f.alerts_gated, private_b);
    EXPECT_EQ(f.alerts_emitted + f.alerts_suppressed, f.alerts_queued);
    EXPECT_GT(f.alerts_emitted, 0u);
    EXPECT_EQ(notified, f.alerts_emitted);
    EXPECT_EQ(notified_ids, "") << "only B's alert rule alerts, with its matches so far";

    // Figures (printed, not asserted): how long a reload takes and how long the old set lives.
    std::vector<double> compile_ms;
    std::vector<double> grace_ms;
    for (const auto& r : results) {
        if (r.ok) {
            compile_ms.push_back(r.compile_ms);
            grace_ms.push_back(r.grace_ms);
        }
    }
    std::sort(compile_ms.begin(), compile_ms.end());
    std::sort(grace_ms.begin(), grace_ms.end());
    std::printf(
        "rules reload: %llu frames, 100 reloads (10 invalid) in traffic; rx %llu, "
        "forwarded %llu, dropped by rule %llu\n",
        static_cast<unsigned long long>(sent), static_cast<unsigned long long>(rx),
        static_cast<unsigned long long>(tx), static_cast<unsigned long long>(f.dropped));
    std::printf(
        "reload (3 rules): load+compile+scratches median %.2f ms max %.2f ms; publication "
        "to old set freed (RCU grace) median %.3f ms max %.3f ms\n",
        compile_ms[compile_ms.size() / 2], compile_ms.back(), grace_ms[grace_ms.size() / 2],
        grace_ms.back());
    rt.release();
    EXPECT_EQ(rte_mempool_avail_count(eal_environment::pool()), free_before)
        << "every mbuf went back to its pool";
    std::filesystem::remove_all(dir);
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new eal_environment("ports-rules-reload", 256, 8192));
    return RUN_ALL_TESTS();
}
