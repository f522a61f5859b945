// PORTS-ENGINE-MIB (telemetry/PORTS-ENGINE-MIB.txt) as plain data, free of DPDK and net-snmp:
// a snapshot of everything the MIB serves, and its flat view - every instance of the MIB as
// (OID, typed value), sorted by OID - on which GET and GETNEXT are binary searches. The
// subagent (snmp_agent.cpp) only converts between this view and net-snmp's types.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ports/pipelines/counters.hpp"

namespace ports::telemetry {

using oid_vector = std::vector<std::uint32_t>;

// 1.3.6.1.4.1.8072.9999.9999.4700: NET-SNMP-MIB::netSnmpPlaypen.4700 (see the MIB's header:
// the project owns no enterprise number).
inline constexpr std::uint32_t mib_root[] = {1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 4700};

enum class value_type : std::uint8_t { integer, gauge32, unsigned32, timeticks, counter64, octets };

struct mib_value {
    value_type type = value_type::integer;
    std::uint64_t number = 0;  // integer (as int32), gauge32, unsigned32, timeticks, counter64
    std::string text;          // octets
};

struct mib_entry {
    oid_vector oid;
    mib_value value;
};

using mib_view = std::vector<mib_entry>;

struct port_row {
    std::uint16_t port_id = 0;  // the row's index is port_id + 1
    std::string name;
    std::string driver;
    bool link_up = false;
    std::uint32_t speed_mbps = 0;
    std::uint64_t rx_packets = 0, tx_packets = 0, rx_octets = 0, tx_octets = 0;
    std::uint64_t rx_errors = 0, rx_missed = 0, rx_nombuf = 0, tx_errors = 0;
};

struct lcore_row {
    unsigned lcore = 0;  // the row's index is lcore + 1
    std::uint64_t rx_packets = 0, tx_packets = 0, tx_dropped = 0;
    std::uint32_t busy_hundredths_percent = 0;  // 0..10000
    // Fates (pipelines/verdict.hpp): rx_packets == forwarded + replied + to_kernel + released +
    // dropped.
    std::uint64_t forwarded = 0, replied = 0, to_kernel = 0, released = 0, dropped = 0;
};

// Issue 5's classification rules: rows come from the snapshot source, none without rules.
struct rule_row {
    std::string id;
    std::string name;
    std::optional<pipelines::traffic_class> cls;  // none: `any` (portsEngineRuleClass any(8))
    std::string action;
    std::uint64_t matches = 0;
};

// The NTP server's figures (PORTS_SERVER_COUNTERS, summed over lcores) that the MIB names.
struct ntp_server_figures {
    bool enabled = false;
    std::uint64_t requests = 0, replies = 0, auth_ok = 0, auth_fail = 0, crypto_nak = 0;
    std::uint64_t rate_limited = 0, kod_sent = 0;
    std::uint64_t drop_mode6 = 0, drop_mode7 = 0, drop_other_mode = 0, drop_access = 0;
    std::uint64_t drop_malformed = 0, drop_auth_required = 0, drop_unsupported_ip = 0;
    std::uint64_t drop_sign_failed = 0, tx_dropped = 0;
    // Receive stamps (issue 11): refused for their bound; interleaved answers and misses.
    std::uint64_t drop_timestamp_error = 0, interleaved_replies = 0, interleaved_misses = 0;
    std::uint32_t stratum = 16;
    std::uint8_t leap = 3;  // 0..3
};

// NTS (portsEngineNts): the fast path's figures (PORTS_SERVER_COUNTERS, summed over lcores),
// the NTS-KE server's and the master keys'. All 0 while disabled.
struct nts_figures {
    bool enabled = false;
    std::uint64_t requests = 0, replies = 0, naks = 0, auth_failed = 0, malformed = 0;
    std::uint64_t cookies_issued = 0, rate_limited = 0;
    std::uint64_t ke_accepted = 0, ke_sessions_ok = 0, ke_tls_failed = 0, ke_bad_request = 0;
    std::uint64_t ke_timeouts = 0, ke_rejected = 0, ke_cookies_issued = 0;
    std::uint32_t master_keys = 0;
    std::uint64_t key_rotations = 0, key_reloads = 0, key_reload_failures = 0;
};

// The exception path (portsEngineExceptionPath), summed over lcores. All 0 while disabled.
struct exception_path_figures {
    bool enabled = false;
    std::uint64_t to_kernel = 0, from_kernel = 0, rate_dropped = 0;
};

struct mib_snapshot {
    std::string version;
    std::uint32_t uptime_ticks = 0;  // hundredths of a second since the engine started
    std::chrono::system_clock::time_point taken{};
    std::vector<port_row> ports;
    pipelines::counter_snapshot classes;
    ntp_server_figures ntp;
    std::vector<lcore_row> lcores;
    std::vector<rule_row> rules;
    nts_figures nts;
    exception_path_figures exceptions;
};

// Every instance of the MIB, sorted by OID.
mib_view build_view(const mib_snapshot& s);

// <0, 0, >0 as a is before, equal to or after b in OID (lexicographic) order.
int compare_oid(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b);

// The entry whose OID is exactly oid, or null.
const mib_entry* find_exact(const mib_view& view, std::span<const std::uint32_t> oid);
// The first entry after oid (GETNEXT), or null past the end.
const mib_entry* find_next(const mib_view& view, std::span<const std::uint32_t> oid);

// SNMPv2-TC DateAndTime in UTC (11 octets: year, month, day, hour, minute, second,
// deci-second, '+', 0, 0).
std::string date_and_time(std::chrono::system_clock::time_point t);

// The OID of an object (root.1.<path...>) and of a column instance.
oid_vector object_oid(std::initializer_list<std::uint32_t> path);

// A notification as the master agent sends it: snmpTrapOID.0's value and the varbinds after it.
struct notification {
    oid_vector trap_oid;
    std::vector<mib_entry> varbinds;
};

// 1-based positions under portsEngineNotifications (root.0).
enum class notification_kind : std::uint32_t {
    started = 1,
    stopping = 2,
    link_down = 3,
    link_up = 4,
    threshold = 5,
    rule_alert = 6,
};

notification started_notification(const mib_snapshot& s);
notification stopping_notification(const mib_snapshot& s);
notification link_notification(const port_row& port, bool up);
notification threshold_notification(const std::string& counter, std::uint64_t rate_per_s,
                                    std::uint64_t limit_per_s);
// rule_index: the rule's row index (1-based) in portsEngineRuleTable.
notification rule_alert_notification(const rule_row& rule, std::uint32_t rule_index);

}  // namespace ports::telemetry
