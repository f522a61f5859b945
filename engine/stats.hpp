// Readers of the per-core figures for the engine's outputs: final JSON and interval log lines.
#pragma once

#include <rte_ethdev.h>

#include <chrono>
#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <string>
#include <vector>

#include "ports.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/service.hpp"
#include "ports/pipelines/worker.hpp"

namespace ports::engine {

struct lcore_figures {
    unsigned lcore;
    const pipelines::worker_stats* stats;
};

// One counter summed over the lcores (class, NTP service and rule counters alike: each lcore
// writes its own copy, readers add them up without locks).
template <class Lcores>
std::uint64_t sum_over_lcores(const Lcores& lcores, std::size_t index) {
    std::uint64_t sum = 0;
    for (const auto* c : lcores) {
        sum += c->load(index);
    }
    return sum;
}

inline std::uint64_t sum_over_lcores(const std::vector<const pipelines::server_counters*>& lcores,
                                     pipelines::server_counter c) {
    return sum_over_lcores(lcores, static_cast<std::size_t>(c));
}

// What the outputs (JSON, telemetry, SNMP) report of a port: DPDK's basic stats and the link,
// read without waiting.
struct port_reading {
    rte_eth_stats stats{};
    rte_eth_link link{};
};
port_reading read_port(std::uint16_t port_id);

// What they report of a worker lcore, each figure loaded once.
struct lcore_reading {
    std::uint64_t rx_packets = 0, tx_packets = 0, tx_dropped = 0;
    std::uint64_t busy_cycles = 0, total_cycles = 0;
};
lcore_reading read_lcore(const pipelines::worker_stats& stats);

pipelines::counter_snapshot snapshot_of(const std::vector<const pipelines::core_counters*>& cores);

class ntp_service;
// lcores: for the workers' split of each port's received frames by destination MAC.
// ntp: the NTP service, when there is one: the ports that serve also show their receive
// stamps (replies by stamp source, requests refused for their stamp's bound).
nlohmann::ordered_json ports_json(const std::vector<port_runtime>& ports,
                                  const std::vector<lcore_figures>& lcores,
                                  const ntp_service* ntp = nullptr);
nlohmann::ordered_json lcores_json(const std::vector<lcore_figures>& lcores);
nlohmann::ordered_json server_json(const std::vector<const pipelines::server_counters*>& cores);

// Rates since the previous call, as one log line.
class interval_meter {
  public:
    // server: the NTP service's per-lcore counters (empty without an ntp: section).
    interval_meter(const std::vector<port_runtime>& ports,
                   std::vector<const pipelines::core_counters*> cores,
                   std::vector<const pipelines::server_counters*> server = {});
    std::string line();

  private:
    struct port_totals {
        std::uint64_t ipackets = 0, ibytes = 0, imissed = 0, nombuf = 0;
    };
    port_totals read_ports() const;

    const std::vector<port_runtime>& ports_;
    std::vector<const pipelines::core_counters*> cores_;
    std::vector<const pipelines::server_counters*> server_;
    std::uint64_t last_requests_ = 0;
    std::uint64_t last_replies_ = 0;
    pipelines::counter_snapshot last_;
    port_totals last_ports_;
    std::chrono::steady_clock::time_point last_time_;
};

}  // namespace ports::engine
