// What the SNMP subagent serves and sends, read from the running engine: the MIB snapshot
// (rte_eth_stats, link status, the per-core counters with relaxed loads, the NTP service and
// the lcores) and, once a second, the notifications to send (link changes, thresholds).
// Runs on the subagent's thread; never touches the workers' state but to read it.
#pragma once

#include <chrono>
#include <functional>
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

    std::vector<telemetry::port_row> port_rows() const;
    std::uint64_t value_of(const threshold_state& t) const;

    runtime& rt_;
    snmp_config cfg_;
    std::string version_;
    rules_source rules_;
    std::chrono::steady_clock::time_point started_;
    std::vector<bool> link_up_;  // by position in rt_.ports()
    bool first_watch_ = true;
    std::vector<threshold_state> thresholds_;
};

}  // namespace ports::engine
