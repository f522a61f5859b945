// NTS replies per second of one core, in process, next to plain NTP replies and the raw
// forward of the same PMD in the same run: requests go in through a net_ring port, the
// engine's worker stage answers them (cookie opened under the master key, request verified
// with C2S, fresh cookies sealed under the master key, the reply sealed with S2C), replies come
// out of the TX ring and a "wire" turns each back into its request for the next round.
//   bench-nts [--seconds S] [--rounds N]
//   bench-nts --mode forward|plain|nts|nts8 --packets N   (fixed work: callgrind)
#include <rte_eal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine_port.hpp"
#include "nts_request.hpp"
#include "reply_bench.hpp"
#include "runtime.hpp"
#include "test_certs.hpp"
#include "test_eal.hpp"
#include "trafficgen.hpp"

using namespace ports;
namespace ts = ports::nts::test_support;

namespace {

using bench::working_set;

enum class mode { forward, plain, nts, nts8 };
constexpr mode modes[] = {mode::forward, mode::plain, mode::nts, mode::nts8};
constexpr const char* mode_names[] = {"forward", "plain", "nts", "nts8"};

const char* name_of(mode m) {
    switch (m) {
        case mode::forward:
            return "raw forward (rx -> tx, no stage)";
        case mode::plain:
            return "NTP replies, unauthenticated";
        case mode::nts:
            return "NTS replies, 1 cookie (chrony's usual)";
        case mode::nts8:
            return "NTS replies, 1 cookie + 7 placeholders";
    }
    return "?";
}

// The working set of one mode; returns the size of its requests (frames).
std::size_t load(bench::reply_bench& b, mode m, const nts::key_ring& ring) {
    b.clear();
    std::size_t request_bytes = 0;
    for (std::size_t i = 0; i < working_set; ++i) {
        std::vector<std::uint8_t> payload;
        if (m == mode::nts || m == mode::nts8) {
            // One NTS-KE session per client: its own C2S/S2C and a cookie under the
            // engine's current master key.
            const nts::session_keys keys = ts::random_session();
            ts::request_options o;
            o.transmit_ts = gen::ntp_timestamp(1700000000000000ULL + i);
            o.cookie = ts::cookie_for(*ring.current(), keys);
            o.placeholders = m == mode::nts8 ? 7 : 0;
            payload = ts::build_request(nts::aes_siv(keys.c2s), o).packet;
        } else {
            payload = gen::ntp_client_packet(4, gen::ntp_timestamp(1700000000000000ULL + i));
        }
        auto frame = gen::udp_frame(b.client(i), payload);
        request_bytes = frame.size();
        b.add(std::move(frame));
    }
    return request_bytes;
}

std::uint64_t counter(engine::runtime& rt, pipelines::server_counter c) {
    return engine::sum_over_lcores(rt.service()->counters(), c);
}

}  // namespace

int main(int argc, char** argv) {
    const auto opt = bench::parse_run_options(argc, argv);
    const double seconds = opt.seconds;
    const int rounds = opt.rounds;
    const std::string& only = opt.mode;
    const std::uint64_t packets = opt.packets;
    const auto dir =
        std::filesystem::temp_directory_path() / ("pe-bench-nts-" + std::to_string(getpid()));
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
    bench::reply_bench b("bnts");

    engine::engine_config cfg;
    cfg.ntp.enabled = true;
    cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
    cfg.ntp.assume_synchronized = true;
    // Requests wait in the rings between rounds: their arrival is known only to the poll
    // window, which the limit would refuse; answered anyway, the window still computed.
    cfg.ntp.max_timestamp_error_us = 0;
    cfg.ntp.nts.enabled = true;
    cfg.ntp.nts.certificate = certs.certificate;
    cfg.ntp.nts.key = certs.key;
    cfg.ntp.nts.ke_listen = {"127.0.0.1:0"};
    const engine::port_runtime port = test::port_of(b.port(), "bnts", pipelines::no_peer, 1024);
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
                bytes[i] = load(b, modes[i], ring);
                best[i] =
                    std::max(best[i], b.run(conf, modes[i] == mode::forward, seconds, packets));
            }
        }
        const auto nts_replies = counter(rt, pipelines::server_counter::nts_replies);
        const auto nts_failed = counter(rt, pipelines::server_counter::nts_auth_failed) +
                                counter(rt, pipelines::server_counter::nts_naks) +
                                counter(rt, pipelines::server_counter::nts_malformed);
        if (only.empty()) {
            std::printf(
                "one core, net_ring, %zu requests from as many sources (each its own NTS "
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
