// What the SNMP subagent serves and sends, read from the running engine: the MIB snapshot
// (rte_eth_stats, link status, the per-core counters with relaxed loads, the NTP service and
// the lcores) and, once a second, the notifications to send (link changes, thresholds).
// Runs on the subagent's thread; never touches the workers' state but to read it.
//
// Tunnels: the snapshot has the merged tunnel tables (runtime::read_tunnels: each worker
// copies its table a few entries per loop iteration) and their largest objects by kind
// (tunnels.mib_rows); with snmp.traps.tunnels, watch() reads them once a second for
// portsEngineTunnelUp/Down (telemetry::tunnel_watch), which costs each worker one copy of its
// table a second.
//
// IF-MIB: each port's ifIndex is snmp.if_index_base + its port id; In{Ucast,Multicast,
// Broadcast} are the workers' counts by destination MAC, Out's the PMD's xstats where it names
// them (tx_unicast_packets, tx_multicast_packets, tx_broadcast_packets), absent otherwise.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "ports/telemetry/mib.hpp"
#include "runtime.hpp"

namespace ports::engine {

// Rows of portsEngineRuleTable from the running rule set: position, id, name, class, action
// and matches summed over the workers.
std::vector<telemetry::rule_row> rule_rows(const rules_runtime& rules);

// The row index (from 1) of rule `id` in the running set; 0 when it is no longer there.
std::uint32_t rule_row_index(const rules_runtime& rules, const std::string& id);

class snmp_source {
  public:
    // Issue 5's classification rules: rows of portsEngineRuleTable (none while empty).
    using rules_source = std::function<std::vector<telemetry::rule_row>()>;

    snmp_source(runtime& rt, const snmp_config& cfg, std::string version, rules_source rules = {});

    telemetry::mib_snapshot snapshot() const;

    // Once a second: link changes since the last call (when link traps are on) and thresholds
    // whose rate went above their limit (at most once per hold-down each).
    std::vector<telemetry::notification> watch();

  private:
    struct threshold_state {
        snmp_threshold cfg;
        bool server = false;    // ntp_server.<key>, else a classification counter
        std::size_t index = 0;  // into server counters or counter_defs
        std::vector<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> samples;
        std::chrono::steady_clock::time_point last_sent{};
        bool ever_sent = false;
    };

    // The IF-MIB's Out casts a port's PMD names in its xstats (ids; none: not named).
    struct tx_cast_ids {
        std::optional<std::uint64_t> unicast, multicast, broadcast;
    };
    // A port's link as the IF-MIB's ifOperStatus/ifLastChange see it.
    struct link_track {
        bool up = false;
        std::chrono::steady_clock::time_point since{};
    };

    std::vector<telemetry::port_row> port_rows(const std::vector<lcore_figures>& lcores) const;
    void check_if_indexes();
    std::uint64_t value_of(const threshold_state& t) const;

    runtime& rt_;
    snmp_config cfg_;
    std::string version_;
    rules_source rules_;
    std::chrono::steady_clock::time_point started_;
    std::vector<bool> link_up_;              // by position in rt_.ports()
    std::vector<tx_cast_ids> tx_casts_;      // by position in rt_.ports()
    mutable std::vector<link_track> links_;  // by position; updated by every reader of links
    std::vector<bool> if_index_clash_;       // by position: a kernel interface has its ifIndex
    std::chrono::steady_clock::time_point next_clash_check_{};
    bool first_watch_ = true;
    std::vector<threshold_state> thresholds_;
    // snmp.traps.tunnels: the tunnel tables looked at once a second (watch()).
    std::optional<telemetry::tunnel_watch> tunnel_watch_;
};

}  // namespace ports::engine
