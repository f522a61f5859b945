#include "pcap_writer.hpp"

#include <pcap/pcap.h>

#include <stdexcept>

namespace ports::gen {

pcap_writer::pcap_writer(const std::string& path) : path_(path) {
    // 65535: the snap length every generated frame fits, as tcpdump writes by default.
    handle_ = pcap_open_dead(DLT_EN10MB, 65535);
    if (handle_ == nullptr) {
        throw std::runtime_error("pcap_open_dead failed for " + path);
    }
    dumper_ = pcap_dump_open(handle_, path.c_str());
    if (dumper_ == nullptr) {
        const std::string why = pcap_geterr(handle_);
        pcap_close(handle_);
        handle_ = nullptr;
        throw std::runtime_error("cannot open " + path + " for writing: " + why);
    }
}

pcap_writer::~pcap_writer() {
    // No throwing from a destructor: an explicit close() reports errors, this only releases.
    if (dumper_ != nullptr) {
        pcap_dump_close(dumper_);
    }
    if (handle_ != nullptr) {
        pcap_close(handle_);
    }
}

void pcap_writer::write(const frame& f) {
    if (dumper_ == nullptr) {
        throw std::logic_error("pcap_writer: write after close on " + path_);
    }
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(f.timestamp_us / 1000000);
    header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(f.timestamp_us % 1000000);
    header.caplen = static_cast<bpf_u_int32>(f.bytes.size());
    header.len = static_cast<bpf_u_int32>(f.bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, f.bytes.data());
}

void pcap_writer::close() {
    if (dumper_ == nullptr) {
        return;
    }
    // pcap_dump() itself reports nothing: a full disk only shows at the flush.
    const int flushed = pcap_dump_flush(dumper_);
    pcap_dump_close(dumper_);
    dumper_ = nullptr;
    pcap_close(handle_);
    handle_ = nullptr;
    if (flushed != 0) {
        throw std::runtime_error("error writing " + path_);
    }
}

void write_pcap(const std::string& path, std::span<const frame> frames) {
    pcap_writer w(path);
    for (const auto& f : frames) {
        w.write(f);
    }
    w.close();
}

}  // namespace ports::gen
