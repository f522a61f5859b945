// The engine's YAML configuration (reference: configs/README.md). Loading refuses unknown keys
// and bad values with "FILE:LINE: message" so the engine never starts on a config it misread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ports::engine {

class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class port_mode : std::uint8_t { monitor, inline_ };

struct port_config {
    std::string name;
    std::string device;  // PCI address (0000:03:00.0) or vdev devargs (net_pcap0,rx_pcap=...)
    std::uint16_t queues = 1;
    std::uint16_t rx_descriptors = 1024;
    std::uint16_t tx_descriptors = 1024;
    port_mode mode = port_mode::monitor;
    std::string peer;  // inline mode: the port frames are forwarded to
    bool promiscuous = true;
    int line = 0;
};

struct lcore_assignment {
    unsigned lcore = 0;
    std::string port;
    std::uint16_t queue = 0;
    int line = 0;
};

struct engine_config {
    std::string file;  // where it was read from, for messages
    std::vector<port_config> ports;
    std::vector<lcore_assignment> lcores;  // empty: automatic
    std::optional<std::uint32_t> mbufs;    // per socket; default sized from descriptors
};

// Throws config_error.
engine_config load_config(const std::string& path);
engine_config parse_config(const std::string& text, const std::string& file_name);

bool is_pci_address(const std::string& device);

}  // namespace ports::engine
