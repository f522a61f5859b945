// parse + classify + count over frames in memory, no PMD: the figure callgrind_ipp.sh turns
// into instructions per packet, and a quick ns/packet reading.
//   bench-classify [--reps N] [--shared DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mix.hpp"
#include "ports/pipelines/classify.hpp"

using namespace ports;

// Kept out of line so callgrind can also attribute cost to it by name.
__attribute__((noinline)) void classify_all(const bench::traffic& t,
                                            pipelines::core_counters& counters) {
    for (const auto& f : t.frames) {
        pipelines::classify_and_count(counters, {f.data(), f.size()},
                                      static_cast<std::uint32_t>(f.size()));
    }
}

int main(int argc, char** argv) {
    const auto [reps, shared] = bench::parse_mix_options(argc, argv);
    const auto t = bench::load_mix(shared);
    pipelines::core_counters counters;
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) {
        classify_all(t, counters);
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    pipelines::counter_snapshot snap;
    snap.accumulate(counters);
    const double pkts = static_cast<double>(t.frames.size()) * reps;
    std::printf("traffic: %s\n", t.source.c_str());
    std::printf("frames %zu x %d reps: %.1f ns/packet, %.1f Mpps (parse+classify+count, no PMD)\n",
                t.frames.size(), reps, s * 1e9 / pkts, pkts / s / 1e6);
    return snap.total_packets() == static_cast<std::uint64_t>(pkts) ? 0 : 1;
}
