// Every Ethernet frame of the shared real captures (SHARED_DIR/pcaps, .pcap/.pcapng/.cap,
// recursively, in path order): the benchmarks' mix and the tests that run on real bytes.
#pragma once

#include <pcap/pcap.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <vector>

namespace ptest {

struct shared_captures {
    std::vector<std::vector<std::uint8_t>> frames;
    std::size_t files = 0;  // captures of Ethernet link type that gave the frames
};

// None when the folder is absent; captures libpcap cannot open or of another link type are
// passed over.
inline shared_captures load_shared_captures(const std::filesystem::path& pcaps) {
    shared_captures out;
    std::error_code ec;
    if (!std::filesystem::is_directory(pcaps, ec)) {
        return out;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(pcaps)) {
        const auto ext = e.path().extension().string();
        if (ext == ".pcap" || ext == ".pcapng" || ext == ".cap") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_t* pc = pcap_open_offline(f.c_str(), err);
        if (pc == nullptr) {
            continue;
        }
        if (pcap_datalink(pc) == DLT_EN10MB) {
            ++out.files;
            pcap_pkthdr* hdr = nullptr;
            const u_char* bytes = nullptr;
            while (pcap_next_ex(pc, &hdr, &bytes) == 1) {
                out.frames.emplace_back(bytes, bytes + hdr->caplen);
            }
        }
        pcap_close(pc);
    }
    return out;
}

}  // namespace ptest
