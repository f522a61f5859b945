// The engine's YAML configuration (reference: configs/README.md). Loading refuses unknown keys
// and bad values with "FILE:LINE: message" so the engine never starts on a config it misread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ports/neighbour/addresses.hpp"

namespace ports::engine {

class config_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class port_mode : std::uint8_t { monitor, inline_ };

// An IPv4 or IPv6 address as configured: the neighbour responder's type, so service addresses
// go to the workers as they are.
using neighbour::ip_address;
using neighbour::parse_ip_address;

// An allow or deny prefix of the NTP service's access list.
struct ip_prefix {
    ip_address address;
    std::uint8_t length = 0;
    bool allow = true;
};

struct ratelimit_config {
    bool enabled = false;
    std::int8_t interval = 3;  // log2 seconds between responses on average (chrony: -4..12)
    std::uint8_t burst = 8;    // responses allowed in a burst
    std::uint8_t leak = 2;     // 1 in 2^leak limited requests answered anyway
    bool kod = false;          // answer limited requests with a RATE kiss-o'-death
};

// NTS (RFC 8915): the NTS-KE server and NTS-protected NTP in the fast path.
struct nts_config {
    bool enabled = false;
    std::string certificate;  // PEM chain, resolved against the config's directory
    std::string key;          // PEM private key
    int certificate_line = 0;
    int key_line = 0;
    // Where NTS-KE listens ("ADDR", "ADDR:PORT", "[ADDR6]:PORT"); empty: ke_port of every
    // service address (reached through the exception path).
    std::vector<std::string> ke_listen;
    std::uint16_t ke_port = 4460;
    std::string ntp_server;      // NTPv4 Server Negotiation record; empty: none
    std::uint16_t ntp_port = 0;  // NTPv4 Port Negotiation record; 0: none
    unsigned cookies = 8;
    unsigned max_connections = 1024;
    unsigned timeout_ms = 5000;
    unsigned ke_threads = 1;
    // Master keys: empty key_file keeps them in memory only. rotate_interval_s == 0: never
    // rotate here (another engine of the fleet rotates the shared key file; SIGHUP reloads it).
    std::string key_file;
    std::uint32_t rotate_interval_s = 7 * 24 * 3600;
    int line = 0;
};

// Frames for a service address that the fast path does not answer go to the kernel through a
// TAP interface per serving port (net_tap), and what the kernel sends there leaves by the port.
struct exception_config {
    bool enabled = false;        // default: on when NTS-KE listens on the service addresses
    bool configured = false;     // the config said enabled: explicitly
    std::uint32_t rate = 20000;  // frames per second per lcore to the kernel
    std::uint32_t burst = 512;
    std::uint8_t prefix_v4 = 24;  // prefix lengths of the service addresses on the TAP
    std::uint8_t prefix_v6 = 64;
};

struct ntp_config {
    bool enabled = false;
    std::vector<ip_address> addresses;  // served on every port without its own list
    std::string keys_path;
    int keys_line = 0;
    bool require_auth = false;
    std::uint8_t stratum = 1;
    std::string refid = "GPS";  // up to 4 ASCII characters (stratum 1) or an IPv4 address
    bool assume_synchronized = false;
    // A request whose receive stamp may be off by more than this is not answered; 0: no limit.
    std::uint32_t max_timestamp_error_us = 10;
    bool interleaved = true;                    // RFC 9769 interleaved mode
    std::uint32_t interleaved_entries = 16384;  // per lcore: replies remembered (RX->TX map)
    ratelimit_config ratelimit;
    std::vector<ip_prefix> access;
    nts_config nts;
    exception_config exception_path;
};

struct port_config {
    std::string name;
    std::string device;  // PCI address (0000:03:00.0) or vdev devargs (net_pcap0,rx_pcap=...)
    std::uint16_t queues = 1;
    std::uint16_t rx_descriptors = 1024;
    std::uint16_t tx_descriptors = 1024;
    port_mode mode = port_mode::monitor;
    std::string peer;  // inline mode: the port frames are forwarded to
    bool promiscuous = true;
    std::optional<std::vector<ip_address>> ntp_addresses;  // overrides ntp.addresses
    std::string exception_interface;  // the exception path's TAP name; empty: pe-<name>
    std::string alias;                // IF-MIB ifAlias; empty: none
    int line = 0;
};

struct lcore_assignment {
    unsigned lcore = 0;
    std::string port;
    std::uint16_t queue = 0;
    int line = 0;
};

// A threshold notification: portsEngineThreshold when the counter's rate over `interval_s`
// goes above `rate_above` per second, then not again for `holddown_s`.
struct snmp_threshold {
    std::string counter;  // <class>.<counter> (ntp.malformed) or ntp_server.<counter>
    double rate_above = 0;
    std::uint32_t interval_s = 10;
    std::uint32_t holddown_s = 60;
    int line = 0;
};

struct snmp_config {
    bool enabled = false;
    std::string agentx_socket;          // empty: net-snmp's default
    std::uint32_t ping_interval_s = 1;  // AgentX ping: reconnect delay after snmpd restarts
    bool trap_link = true;              // portsEngineLinkDown/Up and IF-MIB's linkDown/linkUp
    bool trap_start_stop = true;
    // portsEngineTunnelUp/Down (PPTP calls, L2TP tunnels; needs tunnels:), at most
    // trap_tunnel_rate a second. Off by default: a busy concentrator sets up calls by the
    // thousand.
    bool trap_tunnels = false;
    double trap_tunnel_rate = 10;
    // IF-MIB ifIndex of port id N: if_index_base + N (see configs/README.md for why so high).
    std::uint32_t if_index_base = 1000000;
    std::vector<snmp_threshold> thresholds;
};

// capture: whether the engine answers dpdk-dumpcap (rte_pdump). automatic: when dumpcap could
// attach at all, i.e. EAL shares its config (no --no-shconf / --in-memory) and runs on
// hugepages, which a secondary process maps.
enum class capture_mode { automatic, on, off };

// tunnels: per-lcore tunnel tables (PPTP calls with their GRE, L2TP tunnels and sessions, GRE
// tunnels; pipelines/tunnels). Off unless configured: tracking needs each frame's record, which a
// monitor-only engine otherwise never writes.
struct tunnels_config {
    bool enabled = false;
    std::uint32_t entries = 16384;  // per worker lcore
    std::uint32_t idle_timeout_s = 300;
    // Objects /ports_engine/tunnels shows, the largest by bytes: at most 100 (DPDK
    // telemetry's reply is 16 KiB).
    std::uint32_t top = 100;
    // Rows of each MIB tunnel table (PPTP calls, L2TP tunnels, L2TP sessions, GRE tunnels):
    // the largest of the kind by bytes.
    std::uint32_t mib_rows = 100;
    // Ports with several queues get the symmetric RSS key (engine/ports.cpp) where the PMD
    // takes one: both directions of a tunnel on one lcore.
    bool symmetric_rss = true;
};

struct engine_config {
    std::string file;  // where it was read from, for messages
    std::vector<port_config> ports;
    std::vector<lcore_assignment> lcores;  // empty: automatic
    std::optional<std::uint32_t> mbufs;    // per socket; default sized from descriptors
    int mbufs_line = 0;
    ntp_config ntp;
    snmp_config snmp;
    // rules: the rules file (payload and field rules), resolved against the config's directory;
    // empty: no rule stage.
    std::string rules_path;
    int rules_line = 0;
    // alerts: the file rule alerts are appended to, resolved against the config's directory;
    // empty: the engine's log. --alerts FILE replaces it.
    std::string alerts_path;
    capture_mode capture = capture_mode::automatic;
    int capture_line = 0;
    tunnels_config tunnels;
};

// Throws config_error. The file must be a regular file (a FIFO would block, a directory
// reads as nothing) and hold a config (an empty one is refused: leave --config out instead).
engine_config load_config(const std::string& path);
// The files a loaded config names, checked before EAL touches a device: the NTP key file, the
// rules file (read and parsed; compiled later) and the NTS certificate and key, each a
// readable regular file. Throws config_error: "CONFIG:LINE: 'keys' FILE: errno text".
void check_config_files(const engine_config& cfg);
engine_config parse_config(const std::string& text, const std::string& file_name);

bool is_pci_address(const std::string& device);

}  // namespace ports::engine
