// The benchmarks' traffic: every Ethernet frame of the shared real captures (a realistic edge
// mix: NTP, SNMP, tunnels, DNS, HTTP, TLS...), or the generator's mix where they are absent.
#pragma once

#include <pcap/pcap.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

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
    std::error_code ec;
    if (std::filesystem::is_directory(pcaps, ec)) {
        std::vector<std::filesystem::path> files;
        for (const auto& e : std::filesystem::recursive_directory_iterator(pcaps)) {
            const auto ext = e.path().extension().string();
            if (ext == ".pcap" || ext == ".pcapng" || ext == ".cap") {
                files.push_back(e.path());
            }
        }
        std::sort(files.begin(), files.end());
        std::size_t used = 0;
        for (const auto& f : files) {
            char err[PCAP_ERRBUF_SIZE] = {};
            pcap_t* pc = pcap_open_offline(f.c_str(), err);
            if (pc == nullptr) {
                continue;
            }
            if (pcap_datalink(pc) == DLT_EN10MB) {
                ++used;
                pcap_pkthdr* hdr = nullptr;
                const u_char* bytes = nullptr;
                while (pcap_next_ex(pc, &hdr, &bytes) == 1) {
                    t.frames.emplace_back(bytes, bytes + hdr->caplen);
                }
            }
            pcap_close(pc);
        }
        t.source = std::to_string(t.frames.size()) + " frames of " + std::to_string(used) +
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
