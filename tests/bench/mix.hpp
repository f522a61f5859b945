// The benchmarks' traffic: every Ethernet frame of the shared real captures (a realistic edge
// mix: NTP, SNMP, tunnels, DNS, HTTP, TLS...), or the generator's mix where they are absent.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "shared_captures.hpp"
#include "trafficgen.hpp"

namespace ports::bench {

// The mix benchmarks' command line: --reps N (default 20), --shared DIR (default ../shared).
struct mix_options {
    int reps = 20;
    std::string shared = "../shared";
};

inline mix_options parse_mix_options(int argc, char** argv) {
    mix_options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--reps") {
            o.reps = std::atoi(argv[i + 1]);
        } else if (a == "--shared") {
            o.shared = argv[i + 1];
        }
    }
    return o;
}

struct traffic {
    std::vector<std::vector<std::uint8_t>> frames;
    std::string source;
};

inline traffic load_mix(const std::string& shared_dir) {
    traffic t;
    const std::filesystem::path pcaps = std::filesystem::path(shared_dir) / "pcaps";
    auto shared = ptest::load_shared_captures(pcaps);
    if (!shared.frames.empty()) {
        t.frames = std::move(shared.frames);
        t.source = std::to_string(t.frames.size()) + " frames of " + std::to_string(shared.files) +
                   " Ethernet captures in " + pcaps.string();
    }
    if (t.frames.empty()) {
        for (auto& f : gen::make_mix({.count = 20000, .seed = 7})) {
            t.frames.push_back(std::move(f.bytes));
        }
        t.source = "20000 frames of the ports-gen mix (no shared captures found)";
    }
    return t;
}

}  // namespace ports::bench
