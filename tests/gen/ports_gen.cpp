// ports-gen: writes the generator's traffic mix to a pcap and, optionally, the tally the
// engine is expected to report for it.
//
//   ports-gen --out FILE.pcap [--count N] [--seed S] [--malformed-share X] [--expect FILE.json]

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "pcap_writer.hpp"
#include "trafficgen.hpp"

namespace {

constexpr int exit_usage = 2;

struct usage_error {
    std::string message;
};

void print_usage(std::ostream& os) {
    os << "usage: ports-gen --out FILE.pcap [--count N] [--seed S] [--malformed-share X] [--expect FILE.json]\n"
          "  --out FILE              pcap to write (Ethernet link type)\n"
          "  --count N               number of frames (default 1000)\n"
          "  --seed S                seed of the deterministic mix (default 1)\n"
          "  --malformed-share X     share of malformed frames, 0..1 (default 0.05)\n"
          "  --expect FILE           also write the expected per-class tally as JSON\n"
          "  --ntp-clients N         append N NTP client requests (distinct sources in\n"
          "                          198.18.0.0/15) to 192.0.2.1 at 02:70:63:61:70:00, the MAC\n"
          "                          of DPDK's net_pcap0: the engine's demo NTP service answers\n"
          "                          them\n";
}

std::uint64_t parse_u64(std::string_view flag, std::string_view text) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
        throw usage_error{std::string(flag) + " needs a non-negative integer, got '" + std::string(text) + "'"};
    }
    return v;
}

double parse_share(std::string_view flag, const std::string& text) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(v >= 0.0 && v <= 1.0)) {
        throw usage_error{std::string(flag) + " needs a number in 0..1, got '" + text + "'"};
    }
    return v;
}

struct arguments {
    std::string out;
    std::optional<std::string> expect;
    ports::gen::mix_options mix;
    std::uint64_t ntp_clients = 0;
    bool help = false;
};

arguments parse(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "-h" || flag == "--help") {
            a.help = true;
            return a;
        }
        if (i + 1 >= argc) {
            throw usage_error{flag.starts_with("--") ? std::string(flag) + " needs a value"
                                                     : "unexpected argument '" + std::string(flag) + "'"};
        }
        const std::string value = argv[++i];
        if (flag == "--out") {
            a.out = value;
        } else if (flag == "--expect") {
            a.expect = value;
        } else if (flag == "--count") {
            a.mix.count = static_cast<std::size_t>(parse_u64(flag, value));
        } else if (flag == "--seed") {
            a.mix.seed = parse_u64(flag, value);
        } else if (flag == "--ntp-clients") {
            a.ntp_clients = parse_u64(flag, value);
        } else if (flag == "--malformed-share") {
            a.mix.malformed_share = parse_share(flag, value);
        } else {
            throw usage_error{"unknown option '" + std::string(flag) + "'"};
        }
    }
    if (a.out.empty()) {
        throw usage_error{"--out is required"};
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    arguments args;
    try {
        args = parse(argc, argv);
    } catch (const usage_error& e) {
        std::cerr << "ports-gen: " << e.message << "\n";
        print_usage(std::cerr);
        return exit_usage;
    }
    if (args.help) {
        print_usage(std::cout);
        return 0;
    }
    try {
        auto frames = ports::gen::make_mix(args.mix);
        std::uint64_t ts = frames.empty() ? args.mix.start_us : frames.back().timestamp_us;
        for (std::uint64_t i = 0; i < args.ntp_clients; ++i) {
            ports::gen::endpoint_options ep;
            ep.dst_mac = {0x02, 0x70, 0x63, 0x61, 0x70, 0x00};
            ep.src_ip4 = {198, static_cast<std::uint8_t>(18 + ((i >> 16) & 1)),
                          static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
            ep.dst_ip4 = {192, 0, 2, 1};
            ep.src_port = static_cast<std::uint16_t>(1024 + i % 60000);
            ts += args.mix.gap_us;
            frames.push_back({ports::gen::ntp_client_request(ep, 4, ports::gen::ntp_timestamp(ts)),
                              ts, "ntp", false, "ntp-client-to-demo-service"});
        }
        ports::gen::write_pcap(args.out, frames);
        if (args.expect) {
            std::ofstream js(*args.expect, std::ios::trunc);
            js << ports::gen::tally_json(ports::gen::tally(frames));
            js.close();
            if (!js) {
                throw std::runtime_error("cannot write " + *args.expect);
            }
        }
    } catch (const std::exception& e) {
        std::cerr << "ports-gen: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
