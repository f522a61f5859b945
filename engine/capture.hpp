#pragma once
// dpdk-dumpcap against the running engine: rte_pdump's server side (the capture callbacks are
// installed on a port's queues only when a dumpcap asks, and removed when it stops).

#include <cstdint>
#include <string>
#include <vector>

#include "config.hpp"

namespace ports::engine {

// What EAL's own arguments say about a secondary process attaching: dpdk-dumpcap maps the
// primary's shared config (not with --no-shconf or --in-memory) and its hugepages (not with
// --no-huge, whose memory is private to the process).
struct eal_sharing {
    bool shared_config = true;
    bool hugepages = true;
    std::string file_prefix = "rte";  // EAL's default
};
eal_sharing eal_sharing_of(const std::vector<std::string>& eal_args);

struct capture_plan {
    bool enable = false;
    std::string why;  // why not, when capture is off (for the log or the error)
};
// Throws config_error for `capture: true` when dumpcap could not attach (FILE:LINE: ...).
capture_plan plan_capture(const engine_config& cfg, const eal_sharing& eal);

// One warning per configured virtual device whose arguments dpdk-dumpcap cannot use: a secondary
// process of DPDK 22.11 gets a vdev's arguments (what follows "net_pcap0,") cut to 63
// characters and probes the device with them, e.g. opening a cut net_pcap path (measured:
// tests/integration/test_dumpcap.py keeps its paths short for this reason).
std::vector<std::string> capture_warnings(const engine_config& cfg);

// rte_pdump_init at construction, rte_pdump_uninit at destruction: after EAL, before any port
// starts, and released before rte_eal_cleanup.
class capture_server {
  public:
    // Throws init_error when rte_pdump cannot start (its statistics memzone).
    capture_server();
    ~capture_server();
    capture_server(const capture_server&) = delete;
    capture_server& operator=(const capture_server&) = delete;
};

// While one exists, removing a capture callback from a queue (rte_eth_remove_rx_callback and
// _tx_, which rte_pdump calls when a dumpcap stops) returns only after every worker in `loops`
// (each worker's loop counter, worker_stats::loops) has finished the loop it was in, so no
// worker is still inside the callback when dumpcap frees the ring and mempool it writes to.
// DPDK 22.11's rte_pdump answers dumpcap's disable at once; under load a preempted worker
// was caught inside the callback then (SIGSEGV in the dumpcap test). At most 200 ms a removal.
class capture_watch {
  public:
    explicit capture_watch(std::vector<const std::uint64_t*> loops);
    ~capture_watch();
    capture_watch(const capture_watch&) = delete;
    capture_watch& operator=(const capture_watch&) = delete;
};

}  // namespace ports::engine
