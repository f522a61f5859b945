// Ports and queues: resolving configured devices to DPDK port ids, the lcore plan, mempools,
// port configuration (RSS masked by the PMD's capabilities) and orderly stop/close.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config.hpp"
#include "ports/pipelines/worker.hpp"

namespace ports::engine {

class init_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct port_runtime {
    std::uint16_t id = 0;
    port_config cfg;
    std::uint16_t peer_id = pipelines::no_peer;
    std::uint16_t tx_queues = 1;
    std::string driver;
    bool started = false;
    bool serves_ntp = false;        // has NTP service addresses: answers on its own TX queues
    bool rx_timestamp = false;      // the RX timestamp offload was enabled at configure
    // With several queues: ask RSS for one queue for both directions of a flow (the tunnel
    // tables: tunnels.symmetric_rss); symmetric_key: the PMD took the key that does it.
    bool symmetric_rss = false;
    bool symmetric_key = false;
};

// Which lcore polls which (port, queue), and which TX queue each lcore uses on each port.
struct lcore_plan {
    std::vector<unsigned> lcores;  // lcores with at least one RX queue, main lcore included
    std::vector<std::vector<pipelines::rx_queue_conf>> rx;  // parallel to lcores
};

// Probes configured devices (or takes every probed port when cfg has none). Throws init_error.
std::vector<port_runtime> resolve_ports(const engine_config& cfg);

lcore_plan plan_lcores(const engine_config& cfg, const std::vector<port_runtime>& ports);

// One mbuf pool per NUMA socket in use. Throws init_error.
std::vector<rte_mempool*> create_pools(const engine_config& cfg,
                                       const std::vector<port_runtime>& ports,
                                       const lcore_plan& plan);

// Sets tx_queues of each port from the plan, configures and starts it. Throws init_error.
void start_ports(std::vector<port_runtime>& ports, const lcore_plan& plan,
                 const std::vector<rte_mempool*>& pools);

void log_link_status(const std::vector<port_runtime>& ports);

// Lcores that transmit on a port: those forwarding into it (inline peers) and, on a port with
// an NTP service, those polling it (replies leave by the port they came in).
std::vector<unsigned> senders_of(const port_runtime& port, const lcore_plan& plan);

void stop_ports(std::vector<port_runtime>& ports);

}  // namespace ports::engine
