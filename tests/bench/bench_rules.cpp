// Rules cost, printed next to a baseline measured in the same run (never asserted):
//  1. Mpps per core on the realistic mix (bench::load_mix) for 0, 10, 100 and 1000 rules -
//     half on snmp.community, half on payloads of the service classes - each next to the
//     classify-only rate, with the ratio; then the same with the payload rules on class any
//     (every packet scanned: the worst case).
//  2. Raw payload scanning, Gbps per core, 1500-byte payloads, 10/100/1000 patterns.
//  3. Compile time of the 1000-rule set, serial vs parallel (TBB).
//   bench-rules [--reps N] [--shared DIR]
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mix.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/rules.hpp"

using namespace ports;
using clock_type = std::chrono::steady_clock;

namespace {

std::uint64_t next_random(std::uint64_t& s) {
    s += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// n rules: even ones on snmp.community, odd ones on payload; a mix of literals, classes and
// alternations, as operators write them. payload_class: nullopt = any.
std::vector<rules::rule> make_rules(std::size_t n, bool payload_any) {
    static const pipelines::traffic_class service[] = {
        pipelines::traffic_class::ntp, pipelines::traffic_class::snmp,
        pipelines::traffic_class::l2tp, pipelines::traffic_class::pptp,
        pipelines::traffic_class::gre};
    std::vector<rules::rule> out;
    for (std::size_t i = 0; i < n; ++i) {
        rules::rule r;
        r.id = "r" + std::to_string(i);
        r.act = rules::action::count;
        const std::string k = std::to_string(i);
        const char* only = std::getenv("BENCH_RULES_ONLY");
        const bool community = only == nullptr ? i % 2 == 0 : std::string(only) == "community";
        if (community) {
            r.cls = pipelines::traffic_class::snmp;
            r.fld = rules::field::snmp_community;
            switch (i / 2 % 3) {
                case 0:
                    r.regex = "^comm" + k + "$";
                    break;
                case 1:
                    r.regex = "^(ro|rw)-site" + k + "-[a-z]{2,8}$";
                    break;
                default:
                    r.regex = "secret" + k;
                    r.hs_flags = HS_FLAG_CASELESS;
                    break;
            }
        } else {
            if (!payload_any) {
                r.cls = service[i / 2 % 5];
            }
            r.fld = rules::field::payload;
            switch (i / 2 % 4) {
                case 0:
                    r.regex = "attack-" + k + "-payload";
                    break;
                case 1:
                    r.regex = "user=adm" + k + "[0-9]+";
                    break;
                case 2:
                    r.regex = "(GET|POST) /x" + k + "/[a-z]+\\.php";
                    break;
                default:
                    r.regex = "token" + k + ".{0,16}end";
                    r.hs_flags = HS_FLAG_DOTALL;
                    break;
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

struct run_result {
    double mpps;
    std::uint64_t matches;
};

// What the worker does: with rules, classify + count + record, then the rules of each frame's
// class from its record (nothing parsed twice); without (set == nullptr), classify + count,
// the worker's path when no stage follows classify.
__attribute__((noinline)) run_result run(const bench::traffic& t, int reps,
                                         const rules::rule_set* set, rules::scratch* s) {
    pipelines::core_counters counters;
    auto rc = std::make_unique<rules::rule_counters>();
    std::uint64_t matches = 0;
    pipelines::frame_record rec;
    const auto start = clock_type::now();
    for (int r = 0; r < reps; ++r) {
        for (const auto& f : t.frames) {
            const parsers::byte_span frame(f.data(), f.size());
            if (set == nullptr) {
                pipelines::classify_and_count(counters, frame,
                                              static_cast<std::uint32_t>(f.size()));
                continue;
            }
            pipelines::classify_count_record(counters, frame, static_cast<std::uint32_t>(f.size()),
                                             rec);
            rules::match_record(*set, *s, rec, frame, [&](std::uint32_t i) {
                rc->add(set->slot(i));
                ++matches;
            });
        }
    }
    const double sec = std::chrono::duration<double>(clock_type::now() - start).count();
    return {static_cast<double>(t.frames.size()) * reps / sec / 1e6, matches};
}

void mix_table(const bench::traffic& t, int reps, bool payload_any) {
    std::printf("\n%s\n", payload_any
                              ? "payload rules on class any (every packet scanned):"
                              : "payload rules on the service classes, community rules on snmp:");
    std::printf("  %6s  %12s  %12s  %6s  %10s  %4s   (best of 5 interleaved trials)\n", "rules",
                "Mpps rules", "Mpps none", "ratio", "matches", "dbs");
    for (const std::size_t n : {0, 10, 100, 1000}) {
        rules::slot_map slots;
        const auto set = rules::rule_set::compile(make_rules(n, payload_any), slots);
        rules::scratch s(*set);
        run(t, 1, set.get(), &s);  // warm up caches and the scratch
        // Best of interleaved trials: on a shared machine the slow readings are other
        // processes', not ours.
        run_result base{0, 0};
        run_result with{0, 0};
        for (int trial = 0; trial < 5; ++trial) {
            const run_result b = run(t, reps, nullptr, nullptr);
            const run_result w = run(t, reps, set.get(), &s);
            base.mpps = std::max(base.mpps, b.mpps);
            if (w.mpps > with.mpps) {
                with = w;
            }
        }
        std::printf("  %6zu  %12.2f  %12.2f  %6.2f  %10llu  %4zu\n", n, with.mpps, base.mpps,
                    with.mpps / base.mpps, static_cast<unsigned long long>(with.matches),
                    set->database_count());
    }
}

void scan_table() {
    std::printf("\nraw payload scanning, 1500-byte payloads, one core:\n");
    std::printf("  %8s  %8s  %10s\n", "patterns", "Gbps", "matches");
    // Text-like payloads (printable bytes, spaces), in which the patterns' prefixes do occur.
    constexpr std::size_t payload_size = 1500;
    constexpr std::size_t payloads = 2048;
    std::vector<std::uint8_t> data(payload_size * payloads);
    std::uint64_t seed = 42;
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 =-/.?&GETPOST";
    for (auto& b : data) {
        b = static_cast<std::uint8_t>(alphabet[next_random(seed) % (sizeof(alphabet) - 1)]);
    }
    for (const std::size_t n : {10, 100, 1000}) {
        // Every rule on the payload of one class: one database.
        std::vector<rules::rule> rs = make_rules(2 * n, false);
        std::vector<rules::rule> payload_rules;
        for (auto& r : rs) {
            if (r.fld == rules::field::payload) {
                r.cls = pipelines::traffic_class::other;
                payload_rules.push_back(std::move(r));
            }
        }
        if (payload_rules.empty()) {
            return;
        }
        rules::slot_map slots;
        const auto set = rules::rule_set::compile(std::move(payload_rules), slots);
        rules::scratch s(*set);
        const auto& group = *set->class_rules_of(pipelines::traffic_class::other)
                                 .groups[static_cast<std::size_t>(rules::field::payload)];
        std::uint64_t matches = 0;
        auto on_match = [&](std::uint32_t) { ++matches; };
        rules::detail::scan_context<decltype(on_match)> ctx{&group, &on_match};
        const int reps = 10;
        double sec = 1e9;
        for (int trial = 0; trial < 4; ++trial) {
            const auto start = clock_type::now();
            for (int r = 0; r < reps; ++r) {
                for (std::size_t p = 0; p < payloads; ++p) {
                    rules::detail::scan(
                        group.db.get(),
                        parsers::byte_span(data.data() + p * payload_size, payload_size), s.get(),
                        &rules::detail::on_hs_match<decltype(on_match)>, &ctx);
                }
            }
            sec = std::min(sec, std::chrono::duration<double>(clock_type::now() - start).count());
        }
        const double bits = static_cast<double>(data.size()) * reps * 8;
        std::printf("  %8zu  %8.2f  %10llu\n", n, bits / sec / 1e9,
                    static_cast<unsigned long long>(matches));
    }
}

void compile_table() {
    std::printf(
        "\ncompile time of 1000 rules (%zu databases, TBB concurrency %d):\n",
        [] {
            rules::slot_map slots;
            return rules::rule_set::compile(make_rules(1000, false), slots)->database_count();
        }(),
        tbb::this_task_arena::max_concurrency());
    for (const bool parallel : {false, true}) {
        double best = 1e9;
        for (int r = 0; r < 3; ++r) {
            rules::slot_map slots;
            auto rs = make_rules(1000, false);
            const auto start = clock_type::now();
            const auto set = rules::rule_set::compile(std::move(rs), slots, {parallel});
            best = std::min(best, std::chrono::duration<double>(clock_type::now() - start).count());
        }
        std::printf("  %-8s  %8.1f ms (best of 3)\n", parallel ? "parallel" : "serial", best * 1e3);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto [reps, shared] = bench::parse_mix_options(argc, argv);
    const auto t = bench::load_mix(shared);
    std::printf("traffic: %s; %d reps per figure\n", t.source.c_str(), reps);
    mix_table(t, reps, false);
    mix_table(t, reps, true);
    scan_table();
    compile_table();
    return 0;
}
