#include "ports/telemetry/mib.hpp"

#include <algorithm>
#include <ctime>

namespace ports::telemetry {

using pipelines::class_base;
using pipelines::class_count;
using pipelines::class_names;
using pipelines::counter_count;
using pipelines::counter_defs;

namespace {

// Arcs under portsEngineObjects (root.1), as in the MIB.
constexpr std::uint32_t scalars_arc = 1;
constexpr std::uint32_t port_table_arc = 2;
constexpr std::uint32_t class_table_arc = 3;
constexpr std::uint32_t detail_table_arc = 4;
constexpr std::uint32_t ntp_arc = 5;
constexpr std::uint32_t lcore_table_arc = 6;
constexpr std::uint32_t rule_table_arc = 7;
constexpr std::uint32_t notify_objects_arc = 8;
constexpr std::uint32_t nts_arc = 9;
constexpr std::uint32_t exception_path_arc = 10;
constexpr std::uint32_t tunnels_arc = 11;
constexpr std::uint32_t pptp_call_table_arc = 12;
constexpr std::uint32_t l2tp_tunnel_table_arc = 13;
constexpr std::uint32_t l2tp_session_table_arc = 14;
constexpr std::uint32_t gre_tunnel_table_arc = 15;

// Base classification counters are the first four of each class; the rest are its details.
constexpr std::size_t base_counters = 4;

mib_value integer(std::int32_t v) {
    return {value_type::integer, static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)), {}};
}
mib_value gauge(std::uint64_t v) {
    return {value_type::gauge32, std::min<std::uint64_t>(v, 0xFFFFFFFFu), {}};
}
mib_value unsigned32(std::uint64_t v) {
    return {value_type::unsigned32, std::min<std::uint64_t>(v, 0xFFFFFFFFu), {}};
}
mib_value counter32(std::uint64_t v) {
    return {value_type::counter32, v & 0xFFFFFFFFu, {}};
}
mib_value timeticks(std::uint32_t v) {
    return {value_type::timeticks, v, {}};
}
mib_value counter64(std::uint64_t v) {
    return {value_type::counter64, v, {}};
}
mib_value octets(std::string s) {
    return {value_type::octets, 0, std::move(s)};
}

class view_builder {
  public:
    // root.1.<arc>.<n>.0
    void scalar(std::uint32_t arc, std::uint32_t n, mib_value v) { add({arc, n, 0}, std::move(v)); }
    // root.1.<arc>.1.<column>.<index...>
    void column(std::uint32_t arc, std::uint32_t col, std::initializer_list<std::uint32_t> index,
                mib_value v) {
        oid_vector path{arc, 1, col};
        path.insert(path.end(), index.begin(), index.end());
        add(path, std::move(v));
    }
    // An OID outside PORTS-ENGINE-MIB (IF-MIB): <prefix>.<column>.<index>.
    void absolute(std::span<const std::uint32_t> prefix, std::uint32_t col, std::uint32_t index,
                  mib_value v) {
        oid_vector oid(prefix.begin(), prefix.end());
        oid.push_back(col);
        oid.push_back(index);
        view_.push_back({std::move(oid), std::move(v)});
    }
    mib_view finish() {
        std::sort(view_.begin(), view_.end(), [](const mib_entry& a, const mib_entry& b) {
            return compare_oid(a.oid, b.oid) < 0;
        });
        return std::move(view_);
    }

  private:
    void add(const oid_vector& path, mib_value v) {
        oid_vector oid(std::begin(mib_root), std::end(mib_root));
        oid.push_back(1);
        oid.insert(oid.end(), path.begin(), path.end());
        view_.push_back({std::move(oid), std::move(v)});
    }
    mib_view view_;
};

// portsEngineRuleClass's any(8): a rule of every class.
constexpr std::uint32_t any_class = 8;

std::uint32_t class_index(pipelines::traffic_class c) {
    return static_cast<std::uint32_t>(c) + 1;
}

oid_vector notification_oid(notification_kind k) {
    oid_vector oid(std::begin(mib_root), std::end(mib_root));
    oid.push_back(0);
    oid.push_back(static_cast<std::uint32_t>(k));
    return oid;
}

mib_entry entry(std::initializer_list<std::uint32_t> path, mib_value v) {
    return {object_oid(path), std::move(v)};
}

mib_entry if_entry(std::uint32_t col, std::uint32_t index, mib_value v) {
    oid_vector oid(std::begin(if_entry_oid), std::end(if_entry_oid));
    oid.push_back(col);
    oid.push_back(index);
    return {std::move(oid), std::move(v)};
}

// IF-MIB's enumerations and TruthValue.
constexpr std::int32_t if_type_other = 1;
constexpr std::int32_t if_type_ethernet_csmacd = 6;
constexpr std::int32_t status_up = 1, status_down = 2;
constexpr std::int32_t truth_true = 1, truth_false = 2;

// ifTable's and ifXTable's columns of one port (RFC 2863). Columns the engine cannot fill
// truthfully are not instantiated: ifInNUcastPkts/ifOutNUcastPkts, ifOutQLen and ifSpecific
// (deprecated), ifInUnknownProtos (the engine forwards or counts every frame it parses: none
// is refused for its protocol), ifOutDiscards (the TX path counts refusals per lcore, not per
// port), and the Out casts the PMD does not name.
void if_rows(view_builder& b, const mib_snapshot& s, const port_row& p) {
    const std::uint32_t i = p.if_index;
    const std::span<const std::uint32_t> e(if_entry_oid);
    const std::span<const std::uint32_t> x(if_x_entry_oid);
    const std::uint64_t speed_bps = static_cast<std::uint64_t>(p.speed_mbps) * 1000000u;
    b.absolute(e, 1, i, integer(static_cast<std::int32_t>(i)));
    b.absolute(e, 2, i, octets(p.name));
    b.absolute(e, 3, i, integer(p.ethernet ? if_type_ethernet_csmacd : if_type_other));
    b.absolute(e, 4, i,
               integer(static_cast<std::int32_t>(std::min<std::uint32_t>(p.mtu, 0x7FFFFFFF))));
    b.absolute(e, 5, i, gauge(speed_bps));
    b.absolute(e, 6, i, octets(p.mac));
    b.absolute(e, 7, i, integer(p.admin_up ? status_up : status_down));
    b.absolute(e, 8, i, integer(p.link_up ? status_up : status_down));
    b.absolute(e, 9, i, timeticks(master_ticks(s, p.last_change)));
    b.absolute(e, 10, i, counter32(p.rx_octets));
    b.absolute(e, 13, i, counter32(p.rx_missed + p.rx_nombuf));
    b.absolute(e, 14, i, counter32(p.rx_errors));
    b.absolute(e, 16, i, counter32(p.tx_octets));
    b.absolute(e, 20, i, counter32(p.tx_errors));
    if (p.rx_cast) {
        b.absolute(e, 11, i, counter32(p.rx_cast->unicast));
        b.absolute(x, 2, i, counter32(p.rx_cast->multicast));
        b.absolute(x, 3, i, counter32(p.rx_cast->broadcast));
        b.absolute(x, 7, i, counter64(p.rx_cast->unicast));
        b.absolute(x, 8, i, counter64(p.rx_cast->multicast));
        b.absolute(x, 9, i, counter64(p.rx_cast->broadcast));
    }
    if (p.tx_unicast) {
        b.absolute(e, 17, i, counter32(*p.tx_unicast));
        b.absolute(x, 11, i, counter64(*p.tx_unicast));
    }
    if (p.tx_multicast) {
        b.absolute(x, 4, i, counter32(*p.tx_multicast));
        b.absolute(x, 12, i, counter64(*p.tx_multicast));
    }
    if (p.tx_broadcast) {
        b.absolute(x, 5, i, counter32(*p.tx_broadcast));
        b.absolute(x, 13, i, counter64(*p.tx_broadcast));
    }
    b.absolute(x, 1, i, octets(p.name));
    b.absolute(x, 6, i, counter64(p.rx_octets));
    b.absolute(x, 10, i, counter64(p.tx_octets));
    b.absolute(x, 14, i, integer(p.link_traps ? 1 : 2));  // enabled(1), disabled(2)
    b.absolute(x, 15, i, gauge(p.speed_mbps));
    b.absolute(x, 16, i, integer(p.promiscuous ? truth_true : truth_false));
    b.absolute(x, 17, i, integer(p.connector ? truth_true : truth_false));
    b.absolute(x, 18, i, octets(p.alias));
    b.absolute(x, 19, i, timeticks(master_ticks(s, s.started)));
}

// INET-ADDRESS-MIB's InetAddressType and InetAddress of an address.
mib_value inet_type(const tunnels::ip_address& a) {
    return integer(a.v6 ? 2 : 1);  // ipv6(2), ipv4(1)
}
mib_value inet_address(const tunnels::ip_address& a) {
    return octets(std::string(reinterpret_cast<const char*>(a.bytes.data()), a.v6 ? 16 : 4));
}

// PortsEngineTunnelState: requested(1) .. data(6), tunnels::state's order; none (never
// served: every tracked object has a state) as requested.
mib_value tunnel_state(tunnels::state st) {
    return integer(std::max(1, static_cast<int>(st)));
}

// One of the four tunnel tables: the columns every table has (2-12), then the table's own.
void tunnel_rows(view_builder& b, std::uint32_t arc, const std::vector<tunnels::entry>& rows) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const tunnels::entry& e = rows[r];
        const std::uint32_t i = static_cast<std::uint32_t>(r) + 1;
        b.column(arc, 2, {i}, inet_type(e.client));
        b.column(arc, 3, {i}, inet_address(e.client));
        b.column(arc, 4, {i}, inet_type(e.server));
        b.column(arc, 5, {i}, inet_address(e.server));
        if (e.has_client_id) {
            b.column(arc, 6, {i}, unsigned32(e.client_id));
        }
        if (e.has_server_id) {
            b.column(arc, 7, {i}, unsigned32(e.server_id));
        }
        b.column(arc, 8, {i}, tunnel_state(e.st));
        b.column(arc, 9, {i}, counter64(e.packets[0]));
        b.column(arc, 10, {i}, counter64(e.packets[1]));
        b.column(arc, 11, {i}, counter64(e.bytes[0]));
        b.column(arc, 12, {i}, counter64(e.bytes[1]));
        if (arc == l2tp_tunnel_table_arc) {
            b.column(arc, 13, {i}, octets(std::string(e.client_host())));
            b.column(arc, 14, {i}, octets(std::string(e.server_host())));
            b.column(arc, 15, {i}, unsigned32(e.l2tp_version));
        } else if (arc == l2tp_session_table_arc) {
            b.column(arc, 13, {i}, unsigned32(e.tunnel_client_id));
            b.column(arc, 14, {i}, unsigned32(e.tunnel_server_id));
            b.column(arc, 15, {i}, unsigned32(e.l2tp_version));
        } else if (arc == gre_tunnel_table_arc) {
            b.column(arc, 13, {i}, integer(e.gre_key_present ? truth_true : truth_false));
        }
    }
}

// The objects of portsEngineTunnelUp/Down (portsEngineNotificationObjects 4-10).
std::vector<mib_entry> tunnel_varbinds(const tunnels::entry& e) {
    return {entry({notify_objects_arc, 4, 0}, integer(e.k == tunnels::kind::pptp_call ? 1 : 2)),
            entry({notify_objects_arc, 5, 0}, inet_type(e.client)),
            entry({notify_objects_arc, 6, 0}, inet_address(e.client)),
            entry({notify_objects_arc, 7, 0}, inet_type(e.server)),
            entry({notify_objects_arc, 8, 0}, inet_address(e.server)),
            entry({notify_objects_arc, 9, 0}, unsigned32(e.client_id)),
            entry({notify_objects_arc, 10, 0}, unsigned32(e.has_server_id ? e.server_id : 0))};
}

bool has_prefix(std::span<const std::uint32_t> oid, std::span<const std::uint32_t> prefix) {
    return oid.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), oid.begin());
}

}  // namespace

int compare_oid(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b) {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    if (a.size() == b.size()) {
        return 0;
    }
    return a.size() < b.size() ? -1 : 1;
}

oid_vector object_oid(std::initializer_list<std::uint32_t> path) {
    oid_vector oid(std::begin(mib_root), std::end(mib_root));
    oid.push_back(1);
    oid.insert(oid.end(), path.begin(), path.end());
    return oid;
}

mib_view build_view(const mib_snapshot& s) {
    view_builder b;

    b.scalar(scalars_arc, 1, octets(s.version));
    b.scalar(scalars_arc, 2, {value_type::timeticks, s.uptime_ticks, {}});
    b.scalar(scalars_arc, 3, unsigned32(s.lcores.size()));
    b.scalar(scalars_arc, 4, unsigned32(s.ports.size()));
    b.scalar(scalars_arc, 5, octets(date_and_time(s.taken)));
    b.scalar(scalars_arc, 6, counter64(s.classes.total_packets()));
    b.scalar(scalars_arc, 7, counter64(s.classes.total_bytes()));

    for (const auto& p : s.ports) {
        const std::uint32_t i = static_cast<std::uint32_t>(p.port_id) + 1;
        b.column(port_table_arc, 2, {i}, octets(p.name));
        b.column(port_table_arc, 3, {i}, octets(p.driver));
        b.column(port_table_arc, 4, {i}, integer(p.link_up ? 1 : 2));
        b.column(port_table_arc, 5, {i}, gauge(p.speed_mbps));
        b.column(port_table_arc, 6, {i}, counter64(p.rx_packets));
        b.column(port_table_arc, 7, {i}, counter64(p.tx_packets));
        b.column(port_table_arc, 8, {i}, counter64(p.rx_octets));
        b.column(port_table_arc, 9, {i}, counter64(p.tx_octets));
        b.column(port_table_arc, 10, {i}, counter64(p.rx_errors));
        b.column(port_table_arc, 11, {i}, counter64(p.rx_missed));
        b.column(port_table_arc, 12, {i}, counter64(p.rx_nombuf));
        b.column(port_table_arc, 13, {i}, counter64(p.tx_errors));
        if (p.ntp) {
            b.column(port_table_arc, 14, {i}, octets(p.ntp->source));
            b.column(port_table_arc, 15, {i}, counter64(p.ntp->error_drops));
            b.column(port_table_arc, 16, {i}, counter64(p.ntp->software));
            b.column(port_table_arc, 17, {i}, counter64(p.ntp->pcap));
            b.column(port_table_arc, 18, {i}, counter64(p.ntp->device));
        }
    }

    for (std::size_t c = 0; c < class_count; ++c) {
        const std::uint32_t i = static_cast<std::uint32_t>(c) + 1;
        const auto base = class_base[c];
        b.column(class_table_arc, 2, {i}, octets(std::string(class_names[c])));
        b.column(class_table_arc, 3, {i}, counter64(s.classes.values[base]));
        b.column(class_table_arc, 4, {i},
                 counter64(s.classes.values[base + pipelines::offset_bytes]));
        b.column(class_table_arc, 5, {i},
                 counter64(s.classes.values[base + pipelines::offset_malformed]));
        b.column(class_table_arc, 6, {i},
                 counter64(s.classes.values[base + pipelines::offset_fragments]));
    }

    // Detail rows straight from the X-macro: a counter added to PORTS_COUNTERS appears here
    // with its --stats-json name, numbered in the order of its class's list.
    for (std::size_t k = 0; k < counter_count; ++k) {
        const auto cls = static_cast<std::size_t>(counter_defs[k].cls);
        if (k < class_base[cls] + base_counters) {
            continue;
        }
        const std::uint32_t ci = static_cast<std::uint32_t>(cls) + 1;
        const std::uint32_t di =
            static_cast<std::uint32_t>(k - class_base[cls] - base_counters) + 1;
        b.column(detail_table_arc, 2, {ci, di}, octets(std::string(counter_defs[k].key)));
        b.column(detail_table_arc, 3, {ci, di}, counter64(s.classes.values[k]));
    }

    const auto& n = s.ntp;
    b.scalar(ntp_arc, 1, integer(n.enabled ? 1 : 2));
    const std::uint64_t ntp_counters[] = {n.requests,
                                          n.replies,
                                          n.auth_ok,
                                          n.auth_fail,
                                          n.crypto_nak,
                                          n.rate_limited,
                                          n.kod_sent,
                                          n.drop_mode6,
                                          n.drop_mode7,
                                          n.drop_other_mode,
                                          n.drop_access,
                                          n.drop_malformed,
                                          n.drop_auth_required,
                                          n.drop_unsupported_ip,
                                          n.drop_sign_failed,
                                          n.tx_dropped};
    std::uint32_t arc = 2;
    for (auto v : ntp_counters) {
        b.scalar(ntp_arc, arc++, counter64(v));
    }
    b.scalar(ntp_arc, arc++, unsigned32(n.stratum));
    b.scalar(ntp_arc, arc++, integer(n.leap));
    b.scalar(ntp_arc, arc++, counter64(n.drop_timestamp_error));
    b.scalar(ntp_arc, arc++, counter64(n.interleaved_replies));
    b.scalar(ntp_arc, arc++, counter64(n.interleaved_misses));

    for (const auto& l : s.lcores) {
        const std::uint32_t i = l.lcore + 1;
        b.column(lcore_table_arc, 2, {i}, unsigned32(l.lcore));
        b.column(lcore_table_arc, 3, {i}, counter64(l.rx_packets));
        b.column(lcore_table_arc, 4, {i}, counter64(l.tx_packets));
        b.column(lcore_table_arc, 5, {i}, counter64(l.tx_dropped));
        b.column(lcore_table_arc, 6, {i},
                 gauge(std::min<std::uint32_t>(l.busy_hundredths_percent, 10000)));
        b.column(lcore_table_arc, 7, {i}, counter64(l.forwarded));
        b.column(lcore_table_arc, 8, {i}, counter64(l.replied));
        b.column(lcore_table_arc, 9, {i}, counter64(l.to_kernel));
        b.column(lcore_table_arc, 10, {i}, counter64(l.released));
        b.column(lcore_table_arc, 11, {i}, counter64(l.dropped));
    }

    for (std::size_t r = 0; r < s.rules.size(); ++r) {
        const auto& rule = s.rules[r];
        const std::uint32_t i = static_cast<std::uint32_t>(r) + 1;
        b.column(rule_table_arc, 2, {i}, octets(rule.id));
        b.column(rule_table_arc, 3, {i}, octets(rule.name));
        b.column(rule_table_arc, 4, {i},
                 integer(static_cast<std::int32_t>(rule.cls ? class_index(*rule.cls) : any_class)));
        b.column(rule_table_arc, 5, {i}, octets(rule.action));
        b.column(rule_table_arc, 6, {i}, counter64(rule.matches));
    }

    // notify_objects_arc has no instances in the view: accessible-for-notify only.

    // Served with NTS off too (enabled false, zeros), as the NTP group is: a walk sees the
    // same objects whatever the configuration.
    const auto& t = s.nts;
    b.scalar(nts_arc, 1, integer(t.enabled ? 1 : 2));
    const std::uint64_t nts_counters[] = {
        t.requests,       t.replies,      t.naks,        t.auth_failed,      t.malformed,
        t.cookies_issued, t.rate_limited, t.ke_accepted, t.ke_sessions_ok,   t.ke_tls_failed,
        t.ke_bad_request, t.ke_timeouts,  t.ke_rejected, t.ke_cookies_issued};
    arc = 2;
    for (auto v : nts_counters) {
        b.scalar(nts_arc, arc++, counter64(v));
    }
    b.scalar(nts_arc, arc++, gauge(t.master_keys));
    b.scalar(nts_arc, arc++, counter64(t.key_rotations));
    b.scalar(nts_arc, arc++, counter64(t.key_reloads));
    b.scalar(nts_arc, arc++, counter64(t.key_reload_failures));

    const auto& x = s.exceptions;
    b.scalar(exception_path_arc, 1, integer(x.enabled ? 1 : 2));
    b.scalar(exception_path_arc, 2, counter64(x.to_kernel));
    b.scalar(exception_path_arc, 3, counter64(x.from_kernel));
    b.scalar(exception_path_arc, 4, counter64(x.rate_dropped));

    // Served without tunnel tracking too (enabled false, zeros, empty tables).
    const auto& tn = s.tunnels;
    b.scalar(tunnels_arc, 1, integer(tn.enabled ? 1 : 2));
    b.scalar(tunnels_arc, 2, unsigned32(tn.capacity));
    b.scalar(tunnels_arc, 3, gauge(tn.objects));
    b.scalar(tunnels_arc, 4, counter64(tn.stats.frames));
    b.scalar(tunnels_arc, 5, counter64(tn.stats.table_full));
    b.scalar(tunnels_arc, 6, counter64(tn.stats.expired));
    b.scalar(tunnels_arc, 7, counter64(tn.stats.reused));
    b.scalar(tunnels_arc, 8, counter64(tn.stats.unknown));
    b.scalar(tunnels_arc, 9, unsigned32(tn.row_limit));
    b.scalar(tunnels_arc, 10, counter64(tn.notifications_suppressed));
    tunnel_rows(b, pptp_call_table_arc, tn.pptp_calls);
    tunnel_rows(b, l2tp_tunnel_table_arc, tn.l2tp_tunnels);
    tunnel_rows(b, l2tp_session_table_arc, tn.l2tp_sessions);
    tunnel_rows(b, gre_tunnel_table_arc, tn.gre_tunnels);

    for (const auto& p : s.ports) {
        if (p.if_index != 0) {
            if_rows(b, s, p);
        }
    }
    return b.finish();
}

tunnel_figures tunnel_figures_of(const std::vector<tunnels::row>& rows,
                                 const tunnels::table_stats& stats, std::uint64_t capacity,
                                 std::uint32_t row_limit) {
    tunnel_figures f;
    f.enabled = true;
    f.capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(capacity, 0xFFFFFFFFu));
    f.objects = rows.size();
    f.stats = stats;
    f.row_limit = row_limit;
    // Each kind's rows in order of octets, largest first (the stable order of merge() among
    // equals).
    std::vector<const tunnels::row*> sorted;
    for (const auto& r : rows) {
        sorted.push_back(&r);
    }
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
        return a->e.total_bytes() > b->e.total_bytes();
    });
    for (const auto* r : sorted) {
        std::vector<tunnels::entry>* to = nullptr;
        switch (r->e.k) {
            case tunnels::kind::pptp_call:
                to = &f.pptp_calls;
                break;
            case tunnels::kind::l2tp_tunnel:
                to = &f.l2tp_tunnels;
                break;
            case tunnels::kind::l2tp_session:
                to = &f.l2tp_sessions;
                break;
            case tunnels::kind::gre_tunnel:
                to = &f.gre_tunnels;
                break;
            default:
                break;
        }
        if (to != nullptr && to->size() < row_limit) {
            to->push_back(r->e);
        }
    }
    return f;
}

std::uint32_t master_ticks(const mib_snapshot& s, steady_time t) {
    if (!s.master_epoch || t <= *s.master_epoch) {
        return 0;
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t - *s.master_epoch).count();
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ms / 10));  // TimeTicks wrap
}

bool starts_walk(const mib_view& view, const mib_entry* e) {
    if (e == nullptr || view.empty()) {
        return false;
    }
    if (e == &view.front()) {
        return true;
    }
    const mib_entry& before = *(e - 1);
    for (std::span<const std::uint32_t> part :
         {std::span<const std::uint32_t>(mib_root), std::span<const std::uint32_t>(if_entry_oid),
          std::span<const std::uint32_t>(if_x_entry_oid)}) {
        if (has_prefix(e->oid, part)) {
            return !has_prefix(before.oid, part);
        }
    }
    return false;
}

const mib_entry* find_exact(const mib_view& view, std::span<const std::uint32_t> oid) {
    const auto it = std::lower_bound(view.begin(), view.end(), oid,
                                     [](const mib_entry& e, std::span<const std::uint32_t> o) {
                                         return compare_oid(e.oid, o) < 0;
                                     });
    if (it == view.end() || compare_oid(it->oid, oid) != 0) {
        return nullptr;
    }
    return &*it;
}

const mib_entry* find_next(const mib_view& view, std::span<const std::uint32_t> oid) {
    const auto it = std::upper_bound(view.begin(), view.end(), oid,
                                     [](std::span<const std::uint32_t> o, const mib_entry& e) {
                                         return compare_oid(o, e.oid) < 0;
                                     });
    return it == view.end() ? nullptr : &*it;
}

std::string date_and_time(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const int year = tm.tm_year + 1900;
    std::string out;
    out += static_cast<char>((year >> 8) & 0xFF);
    out += static_cast<char>(year & 0xFF);
    out += static_cast<char>(tm.tm_mon + 1);
    out += static_cast<char>(tm.tm_mday);
    out += static_cast<char>(tm.tm_hour);
    out += static_cast<char>(tm.tm_min);
    out += static_cast<char>(std::min(tm.tm_sec, 60));
    out += static_cast<char>((ms % 1000) / 100);
    out += '+';
    out += '\0';
    out += '\0';
    return out;
}

notification started_notification(const mib_snapshot& s) {
    return {notification_oid(notification_kind::started),
            {entry({scalars_arc, 1, 0}, octets(s.version)),
             entry({scalars_arc, 4, 0}, unsigned32(s.ports.size())),
             entry({scalars_arc, 3, 0}, unsigned32(s.lcores.size()))}};
}

notification stopping_notification(const mib_snapshot& s) {
    return {notification_oid(notification_kind::stopping),
            {entry({scalars_arc, 1, 0}, octets(s.version)),
             entry({scalars_arc, 2, 0}, {value_type::timeticks, s.uptime_ticks, {}})}};
}

notification link_notification(const port_row& port, bool up) {
    const std::uint32_t i = static_cast<std::uint32_t>(port.port_id) + 1;
    return {notification_oid(up ? notification_kind::link_up : notification_kind::link_down),
            {entry({port_table_arc, 1, 2, i}, octets(port.name)),
             entry({port_table_arc, 1, 4, i}, integer(up ? 1 : 2))}};
}

notification if_link_notification(const port_row& port, bool up) {
    // SNMPv2-MIB snmpTraps (1.3.6.1.6.3.1.1.5): linkDown(3), linkUp(4).
    oid_vector trap{1, 3, 6, 1, 6, 3, 1, 1, 5, up ? 4u : 3u};
    const std::uint32_t i = port.if_index;
    return {std::move(trap),
            {if_entry(1, i, integer(static_cast<std::int32_t>(i))),
             if_entry(7, i, integer(port.admin_up ? status_up : status_down)),
             if_entry(8, i, integer(up ? status_up : status_down))}};
}

notification threshold_notification(const std::string& counter, std::uint64_t rate_per_s,
                                    std::uint64_t limit_per_s) {
    return {notification_oid(notification_kind::threshold),
            {entry({notify_objects_arc, 1, 0}, octets(counter)),
             entry({notify_objects_arc, 2, 0}, gauge(rate_per_s)),
             entry({notify_objects_arc, 3, 0}, gauge(limit_per_s))}};
}

notification rule_alert_notification(const rule_row& rule, std::uint32_t rule_index) {
    return {
        notification_oid(notification_kind::rule_alert),
        {entry({rule_table_arc, 1, 2, rule_index}, octets(rule.id)),
         entry({rule_table_arc, 1, 3, rule_index}, octets(rule.name)),
         entry({rule_table_arc, 1, 4, rule_index},
               integer(static_cast<std::int32_t>(rule.cls ? class_index(*rule.cls) : any_class))),
         entry({rule_table_arc, 1, 6, rule_index}, counter64(rule.matches))}};
}

notification tunnel_up_notification(const tunnels::entry& e) {
    return {notification_oid(notification_kind::tunnel_up), tunnel_varbinds(e)};
}

notification tunnel_down_notification(const tunnels::entry& e, tunnel_down_reason why) {
    auto varbinds = tunnel_varbinds(e);
    varbinds.push_back(entry({notify_objects_arc, 11, 0}, integer(static_cast<std::int32_t>(why))));
    return {notification_oid(notification_kind::tunnel_down), std::move(varbinds)};
}

tunnel_watch::tunnel_watch(double rate_per_s)
    : rate_(std::max(rate_per_s, 0.0)), tokens_(std::max(rate_per_s, 1.0)) {}

bool tunnel_watch::take_token() {
    if (tokens_ < 1.0) {
        return false;
    }
    tokens_ -= 1.0;
    return true;
}

std::vector<notification> tunnel_watch::look(const std::vector<tunnels::row>& rows,
                                             steady_time now) {
    if (last_) {
        const double dt = std::chrono::duration<double>(now - *last_).count();
        tokens_ = std::min(std::max(rate_, 1.0), tokens_ + rate_ * std::max(dt, 0.0));
    }
    last_ = now;
    for (auto& [key, o] : objects_) {
        o.seen = false;
    }
    std::vector<notification> out;
    for (const auto& r : rows) {
        const tunnels::entry& e = r.e;
        if (e.k != tunnels::kind::pptp_call && e.k != tunnels::kind::l2tp_tunnel) {
            continue;
        }
        // Who it is: kind, endpoints and the client's ID (a call or tunnel is created by its
        // request, which names the client's ID).
        std::string key(1, static_cast<char>(e.k));
        key.append(reinterpret_cast<const char*>(e.client.bytes.data()), 16);
        key.append(reinterpret_cast<const char*>(e.server.bytes.data()), 16);
        key.append(reinterpret_cast<const char*>(&e.client_id), sizeof e.client_id);
        known& o = objects_[key];
        o.seen = true;
        // The same key, and never up: a new call or tunnel took the ID of the one sent.
        if ((o.what == sent::up || o.what == sent::suppressed) && !e.was_up) {
            if (o.what == sent::up) {
                out.push_back(tunnel_down_notification(o.last, tunnel_down_reason::expired));
            }
            o.what = sent::nothing;
        } else if (o.what == sent::down && e.st != tunnels::state::closed) {
            o.what = sent::nothing;
        }
        if (o.what == sent::nothing && e.was_up) {
            if (take_token()) {
                out.push_back(tunnel_up_notification(e));
                o.what = sent::up;
            } else {
                ++suppressed_;
                o.what = sent::suppressed;
            }
        }
        // A down over the rate waits for a later look: an operator told of an up is told of
        // its down.
        if (o.what == sent::up && e.st == tunnels::state::closed && take_token()) {
            out.push_back(tunnel_down_notification(e, tunnel_down_reason::closed));
            o.what = sent::down;
        }
        o.last = e;
    }
    for (auto it = objects_.begin(); it != objects_.end();) {
        known& o = it->second;
        if (o.seen) {
            ++it;
            continue;
        }
        if (o.what == sent::up) {
            if (!take_token()) {
                ++it;  // gone: its down at a later look
                continue;
            }
            out.push_back(tunnel_down_notification(o.last, tunnel_down_reason::expired));
        }
        it = objects_.erase(it);
    }
    return out;
}

}  // namespace ports::telemetry
