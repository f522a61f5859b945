// Writes generated frames to a classic pcap file (Ethernet link type) through libpcap.
// A tool, not the data path: failures throw std::runtime_error with the file name and cause.
#pragma once

#include <span>
#include <string>

#include "trafficgen.hpp"

struct pcap;
struct pcap_dumper;

namespace ports::gen {

class pcap_writer {
public:
    explicit pcap_writer(const std::string& path);
    ~pcap_writer();
    pcap_writer(const pcap_writer&) = delete;
    pcap_writer& operator=(const pcap_writer&) = delete;

    void write(const frame& f);
    // Flushes and closes; errors surface here rather than being lost in the destructor.
    void close();

private:
    std::string path_;
    pcap* handle_ = nullptr;
    pcap_dumper* dumper_ = nullptr;
};

// Writes all frames to path, replacing the file.
void write_pcap(const std::string& path, std::span<const frame> frames);

}  // namespace ports::gen
