// NTP replies per second of one core, in process: requests go in through a net_ring port, the
// engine's worker stage answers them, replies come out of the same port's TX ring and a "wire"
// turns each one back into its request (a copy of the request bytes) for the next round. The
// raw rx -> tx forward of the same PMD and wire, in the same run, is the baseline.
//   bench-ntp [--seconds S] [--rounds N] [--keys FILE]
//   bench-ntp --mode forward|plain|sha1|aes --packets N [--keys FILE]  (fixed work: callgrind)
#include <rte_eal.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "engine_port.hpp"
#include "ports/ntp/mac.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "reply_bench.hpp"
#include "runtime.hpp"
#include "test_eal.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using bench::working_set;

enum class mode { forward, plain, sha1, aes };

const char* name_of(mode m) {
    switch (m) {
        case mode::forward:
            return "raw forward (rx -> tx, no stage)";
        case mode::plain:
            return "NTP replies, unauthenticated";
        case mode::sha1:
            return "NTP replies, SHA1 MAC";
        case mode::aes:
            return "NTP replies, AES-128-CMAC";
    }
    return "?";
}

// The working set of one mode: plain requests, or signed with key 1 (SHA1) or 2 (AES-CMAC).
void load(bench::reply_bench& b, mode m, const ntp::key_table& keys) {
    b.clear();
    ntp::mac_engine signer(keys);
    for (std::size_t i = 0; i < working_set; ++i) {
        auto payload = gen::ntp_client_packet(4, gen::ntp_timestamp(1700000000000000ULL + i));
        if (m == mode::sha1 || m == mode::aes) {
            const ntp::key* k = keys.find(m == mode::sha1 ? 1 : 2);
            std::uint8_t digest[64];
            const std::size_t len = signer.sign(*k, payload, digest);
            payload = gen::ntp_with_mac(payload, k->id, {digest, len});
        }
        b.add(gen::udp_frame(b.client(i), payload));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string keys_path = "configs/ntp-test.keys";
    const auto opt = bench::parse_run_options(argc, argv, [&](const std::string& a, const char* v) {
        if (a == "--keys") {
            keys_path = v;
        }
    });
    const double seconds = opt.seconds;
    const int rounds = opt.rounds;
    const std::string& only = opt.mode;
    const std::uint64_t packets = opt.packets;
    if (test::init_test_eal("ports-bench-ntp", 512) < 0) {
        std::fprintf(stderr, "bench-ntp: EAL init failed\n");
        return 1;
    }
    bench::reply_bench b("bntp");

    engine::engine_config cfg;
    cfg.ntp.enabled = true;
    cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
    cfg.ntp.keys_path = keys_path;
    cfg.ntp.assume_synchronized = true;
    // Requests wait in the rings between rounds: their arrival is known only to the poll
    // window, which the limit would refuse; answered anyway, the window still computed.
    cfg.ntp.max_timestamp_error_us = 0;
    const engine::port_runtime port = test::port_of(b.port(), "bntp", pipelines::no_peer, 1024);
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
                load(b, modes[i], keys);
                best[i] =
                    std::max(best[i], b.run(conf, modes[i] == mode::forward, seconds, packets));
            }
        }
        const std::uint64_t replies =
            engine::sum_over_lcores(rt.service()->counters(), pipelines::server_counter::replies);
        if (only.empty()) {
            std::printf(
                "one core, net_ring, %zu requests of 90 bytes from as many sources, best of %d "
                "rounds of %.1f s\n",
                working_set, rounds, seconds);
            for (int i = 0; i < 4; ++i) {
                std::printf("%-36s %7.2f Mpps", name_of(modes[i]), best[i]);
                if (i > 0) {
                    std::printf("   ratio to raw forward %.3f", best[i] / best[0]);
                }
                std::printf("\n");
            }
            std::printf(
                "replies counted by the engine: %llu (target >= 12 Mpps/core "
                "unauthenticated)\n",
                static_cast<unsigned long long>(replies));
        } else {
            std::printf("mode %s: %llu packets, %.2f Mpps, %llu replies\n", only.c_str(),
                        static_cast<unsigned long long>(packets),
                        best[0] + best[1] + best[2] + best[3],
                        static_cast<unsigned long long>(replies));
        }
        rt.release();
    }
    rte_eal_cleanup();
    return 0;
}
