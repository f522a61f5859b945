// The engine's AgentX subagent: serves PORTS-ENGINE-MIB and the engine ports' IF-MIB rows
// (ifTable, ifXTable, beside snmpd's own for kernel interfaces) through the host's snmpd and
// sends the engine's notifications (and IF-MIB's linkDown/linkUp) through it to the master's
// trap sinks.
//
// One thread of its own owns every net-snmp call (net-snmp is not thread safe, and its headers
// stay inside snmp_agent.cpp). Nothing here is on the data path: the snapshot source reads the
// workers' counters with relaxed loads and workers never wait for the agent. Without snmpd the
// agent keeps retrying (every ping interval) and the engine runs on; when snmpd restarts the
// agent reconnects and registers again. One agent per process (net-snmp's state is global).
//
// Coherence: a walk reads one snapshot. The agent takes a new snapshot when a GETNEXT (or a
// GETBULK, which the master turns into GETNEXTs) asks for an OID at or before the first object
// of the MIB - the start of a walk - or when the snapshot held is older than
// snapshot_max_age (a stalled walk); a GET takes a new one when the held one is older than
// get_max_age.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ports/telemetry/mib.hpp"

namespace ports::telemetry {

struct snmp_agent_options {
    std::string agentx_socket;  // empty: net-snmp's default (/var/agentx/master or snmp.conf)
    std::chrono::seconds ping_interval{1};  // AgentX ping: how soon a lost master is noticed
    std::chrono::milliseconds get_max_age{1000};
    std::chrono::milliseconds snapshot_max_age{10000};
    bool start_stop_traps = true;  // portsEngineStarted at the first connection, Stopping at stop
    // CPUs the agent's thread may run on; empty: those of the thread that calls start(). (The
    // engine passes the CPUs no worker lcore uses: a walk then never takes a worker's core.)
    std::vector<unsigned> cpus;
};

class snmp_agent {
  public:
    using snapshot_source = std::function<mib_snapshot()>;
    // Called on the agent's thread about once a second: notifications to send (link changes,
    // thresholds). May be empty.
    using watcher = std::function<std::vector<notification>()>;

    snmp_agent(snmp_agent_options options, snapshot_source source, watcher watch = {});
    ~snmp_agent();
    snmp_agent(const snmp_agent&) = delete;
    snmp_agent& operator=(const snmp_agent&) = delete;

    // Starts the agent's thread; returns at once (the connection is made on that thread).
    void start();
    // Sends portsEngineStopping when connected (and start/stop traps are on), closes the
    // session and joins the thread. Idempotent.
    void stop();

    // Thread safe: queues a notification for the agent's thread. Dropped (and logged) when the
    // master is not connected at the time it is sent.
    void post(notification n);
    // portsEngineLinkDown/Up and IF-MIB's linkDown/linkUp.
    void post_link(const port_row& port, bool up) {
        post(link_notification(port, up));
        post(if_link_notification(port, up));
    }
    void post_threshold(const std::string& counter, std::uint64_t rate_per_s,
                        std::uint64_t limit_per_s) {
        post(threshold_notification(counter, rate_per_s, limit_per_s));
    }
    // rule_index: the rule's row in portsEngineRuleTable (1-based, the snapshot's order).
    void post_rule_alert(const rule_row& rule, std::uint32_t rule_index) {
        post(rule_alert_notification(rule, rule_index));
    }

    bool connected() const;
    // Notifications handed to the master so far (for logs and tests).
    std::uint64_t sent() const;

    struct state;  // defined in snmp_agent.cpp, with net-snmp

  private:
    std::unique_ptr<state> state_;
};

}  // namespace ports::telemetry
