// PORTS-ENGINE-MIB (telemetry/PORTS-ENGINE-MIB.txt) and the engine ports' rows of IF-MIB's
// ifTable and ifXTable (RFC 2863) as plain data, free of DPDK and net-snmp: a snapshot of
// everything the subagent serves, and its flat view - every instance as (OID, typed value),
// sorted by OID - on which GET and GETNEXT are binary searches. The subagent (snmp_agent.cpp)
// only converts between this view and net-snmp's types.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ports/pipelines/counters.hpp"
#include "ports/tunnels/table.hpp"

namespace ports::telemetry {

using oid_vector = std::vector<std::uint32_t>;

// 1.3.6.1.4.1.8072.9999.9999.4700: NET-SNMP-MIB::netSnmpPlaypen.4700 (see the MIB's header:
// the project owns no enterprise number).
inline constexpr std::uint32_t mib_root[] = {1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 4700};

// IF-MIB's ifEntry (mib-2.2.2.1) and ifXEntry (ifMIB.1.1.1): an engine port's row is
// <entry>.<column>.<ifIndex>. The subagent registers exactly those rows with snmpd, which keeps
// serving its own (kernel interfaces) around them.
inline constexpr std::uint32_t if_entry_oid[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};
inline constexpr std::uint32_t if_x_entry_oid[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1};
inline constexpr std::uint32_t if_entry_columns = 22;    // ifIndex .. ifSpecific
inline constexpr std::uint32_t if_x_entry_columns = 19;  // ifName .. ifCounterDiscontinuityTime

enum class value_type : std::uint8_t {
    integer,
    gauge32,
    unsigned32,
    timeticks,
    counter32,  // number modulo 2^32, as Counter32 wraps
    counter64,
    octets
};

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

using steady_time = std::chrono::steady_clock::time_point;

// What a port's frames are, by destination MAC: rx_packets of the split are the frames the
// workers took from the port's queues (the engine counts them), tx from the PMD's xstats.
struct cast_split {
    std::uint64_t unicast = 0, multicast = 0, broadcast = 0;
};

struct port_row {
    std::uint16_t port_id = 0;  // portsEnginePortTable's index is port_id + 1
    std::string name;
    std::string driver;
    bool link_up = false;
    std::uint32_t speed_mbps = 0;
    std::uint64_t rx_packets = 0, tx_packets = 0, rx_octets = 0, tx_octets = 0;
    std::uint64_t rx_errors = 0, rx_missed = 0, rx_nombuf = 0, tx_errors = 0;
    // NTP receive timestamps (columns 14-18), for a port that serves NTP only.
    struct ntp_stamps {
        std::string source;  // software, pcap_microseconds, device_ticks
        std::uint64_t error_drops = 0;
        std::uint64_t software = 0, pcap = 0, device = 0;  // replies by stamp source
    };
    std::optional<ntp_stamps> ntp;

    // IF-MIB (ifTable, ifXTable). if_index 0: the port has no IF-MIB rows.
    std::uint32_t if_index = 0;
    std::string alias;                  // ifAlias (the config's `alias`, may be empty)
    bool ethernet = true;               // ifType ethernetCsmacd(6), else other(1)
    std::uint32_t mtu = 0;              // ifMtu
    std::string mac;                    // ifPhysAddress: 6 octets, or empty
    bool admin_up = true;               // ifAdminStatus
    bool promiscuous = false;           // ifPromiscuousMode
    bool connector = false;             // ifConnectorPresent: a physical port (PCI)
    bool link_traps = true;             // ifLinkUpDownTrapEnable
    steady_time last_change{};          // when the port entered its link state (or started)
    std::optional<cast_split> rx_cast;  // none: the row has no In{Ucast,Multicast,Broadcast}
    // Out: each part the PMD names (rte_eth_xstats); a part it does not name is absent.
    std::optional<std::uint64_t> tx_unicast, tx_multicast, tx_broadcast;
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

// The tunnel tables (portsEngineTunnels and the four tunnel tables): the tables' figures and,
// per kind, the row_limit largest objects by octets, largest first (a row's index is its
// rank). All 0 and empty while tunnels are not tracked.
struct tunnel_figures {
    bool enabled = false;
    std::uint32_t capacity = 0;
    std::uint64_t objects = 0;  // every merged object, of every kind
    tunnels::table_stats stats;
    std::uint32_t row_limit = 0;
    std::uint64_t notifications_suppressed = 0;
    std::vector<tunnels::entry> pptp_calls, l2tp_tunnels, l2tp_sessions, gre_tunnels;
};

// The figures of merged rows (tunnels::merge): the row_limit largest of each kind.
tunnel_figures tunnel_figures_of(const std::vector<tunnels::row>& rows,
                                 const tunnels::table_stats& stats, std::uint64_t capacity,
                                 std::uint32_t row_limit);

struct mib_snapshot {
    std::string version;
    std::uint32_t uptime_ticks = 0;  // hundredths of a second since the engine started
    steady_time started{};           // when the engine's counters started (from zero)
    // When snmpd's sysUpTime was 0 (as the subagent learnt it from the master's AgentX
    // responses); none: unknown, and IF-MIB's TimeStamps (ifLastChange,
    // ifCounterDiscontinuityTime) read 0.
    std::optional<steady_time> master_epoch;
    std::chrono::system_clock::time_point taken{};
    std::vector<port_row> ports;
    pipelines::counter_snapshot classes;
    ntp_server_figures ntp;
    std::vector<lcore_row> lcores;
    std::vector<rule_row> rules;
    nts_figures nts;
    exception_path_figures exceptions;
    tunnel_figures tunnels;
};

// Every instance of the MIB and of the ports' IF-MIB rows, sorted by OID.
mib_view build_view(const mib_snapshot& s);

// sysUpTime (of snmpd, the master) at t: 0 when t is before snmpd started or its start is
// unknown - IF-MIB's TimeStamp for "before the management system was last initialized".
std::uint32_t master_ticks(const mib_snapshot& s, steady_time t);

// Whether e (an entry of view) is the first instance of its part of the view: the first
// object of PORTS-ENGINE-MIB, of the IF-MIB ifTable or of ifXTable - where a walk starts.
bool starts_walk(const mib_view& view, const mib_entry* e);

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
    tunnel_up = 7,
    tunnel_down = 8,
};

notification started_notification(const mib_snapshot& s);
notification stopping_notification(const mib_snapshot& s);
notification link_notification(const port_row& port, bool up);
// IF-MIB's linkDown (snmpTraps.3) / linkUp (snmpTraps.4): ifIndex, ifAdminStatus, ifOperStatus.
notification if_link_notification(const port_row& port, bool up);
notification threshold_notification(const std::string& counter, std::uint64_t rate_per_s,
                                    std::uint64_t limit_per_s);
// rule_index: the rule's row index (1-based) in portsEngineRuleTable.
notification rule_alert_notification(const rule_row& rule, std::uint32_t rule_index);

// portsEngineTunnelDownReason.
enum class tunnel_down_reason : std::uint32_t { closed = 1, expired = 2 };
// A PPTP call or an L2TP tunnel (e.k pptp_call or l2tp_tunnel).
notification tunnel_up_notification(const tunnels::entry& e);
notification tunnel_down_notification(const tunnels::entry& e, tunnel_down_reason why);

// portsEngineTunnelUp/Down from successive looks at the merged tunnel tables (the engine looks
// once a second): a PPTP call or an L2TP tunnel is sent up once its control messages said
// established (entry::was_up, which stays set: one that came up and closed between two looks
// is sent up, then down), and down when it is closed or gone from the tables (expired, or its
// ID taken by a new one) - down only for one that was sent up. At most rate_per_s
// notifications a second (a token bucket of that many, at least 1); an up over the rate is
// suppressed, and so is then its down; suppressed() counts both.
class tunnel_watch {
  public:
    explicit tunnel_watch(double rate_per_s);

    std::vector<notification> look(const std::vector<tunnels::row>& rows, steady_time now);
    std::uint64_t suppressed() const { return suppressed_; }

  private:
    enum class sent : std::uint8_t { nothing, up, down, suppressed };
    struct known {
        sent what = sent::nothing;
        bool seen = false;
        tunnels::entry last;  // for the down of one that is gone
    };
    bool take_token();

    std::unordered_map<std::string, known> objects_;
    double rate_;
    double tokens_;
    std::optional<steady_time> last_;
    std::uint64_t suppressed_ = 0;
};

}  // namespace ports::telemetry
