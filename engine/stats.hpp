// Readers of the per-core figures for the engine's outputs: final JSON and interval log lines.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
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

pipelines::counter_snapshot snapshot_of(const std::vector<const pipelines::core_counters*>& cores);

nlohmann::ordered_json ports_json(const std::vector<port_runtime>& ports);
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
    std::uint64_t server_total(pipelines::server_counter c) const;
    std::uint64_t last_requests_ = 0;
    std::uint64_t last_replies_ = 0;
    pipelines::counter_snapshot last_;
    port_totals last_ports_;
    std::chrono::steady_clock::time_point last_time_;
};

}  // namespace ports::engine
