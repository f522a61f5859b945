// The exception path (the DPDK way to share an address with the kernel): one TAP interface
// (net_tap) per serving port, with the port's MAC and its service addresses. Frames for a
// service address that the fast path does not answer (NTS-KE on TCP/4460, anything else sent
// to the address, the neighbour replies the kernel waits for) are sent into the TAP by the
// worker that received them, rate limited; what the kernel sends on the TAP is polled by the
// same workers and leaves by the port. The fast path keeps answering ARP/ND, NTP and echo.
//
// Queues: the k-th lcore polling a port owns queue pair k of its TAP (a multi-queue TAP hands
// the kernel's frames to any of its queues, so every queue must be polled).
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config.hpp"
#include "ports.hpp"

namespace ports::engine {

struct exception_port {
    std::uint16_t port = 0;  // the serving port
    std::uint16_t tap = 0;   // its TAP's port id
    std::string ifname;
    std::string vdev;
    std::uint16_t queues = 0;
    rte_mempool* pool = nullptr;
    bool started = false;
    std::vector<ip_address> addresses;
};

class exception_path {
  public:
    // Creates the TAPs (MAC = the port's) for the serving ports; ports must be probed. Throws
    // init_error (no /dev/net/tun, not root, a name in use...).
    exception_path(const ntp_config& cfg, const std::vector<port_runtime>& ports);
    ~exception_path();
    exception_path(const exception_path&) = delete;
    exception_path& operator=(const exception_path&) = delete;

    // Adds each TAP queue to the plan (rx: from_kernel, peer = the port) and starts the TAPs
    // with one queue pair per lcore polling the port, then gives the kernel interfaces their
    // addresses. Throws init_error.
    void start(lcore_plan& plan);

    // The TAP of a port (pipelines::no_peer when it has none) and the TX queue of the TAP
    // that the given lcore uses (its index among the port's pollers).
    std::uint16_t tap_of(std::uint16_t port) const;
    const std::vector<exception_port>& ports() const { return ports_; }
    std::uint32_t rate() const { return cfg_.rate; }
    std::uint32_t burst() const { return cfg_.burst; }

  private:
    exception_config cfg_;
    std::vector<exception_port> ports_;
};

}  // namespace ports::engine
