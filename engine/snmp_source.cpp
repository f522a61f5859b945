#include "snmp_source.hpp"

#include <net/if.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "stats.hpp"

namespace ports::engine {

using pipelines::server_counter;

std::vector<telemetry::rule_row> rule_rows(const rules_runtime& rules) {
    std::vector<telemetry::rule_row> rows;
    const auto set = rules.current_set();
    if (set == nullptr) {
        return rows;
    }
    for (std::size_t i = 0; i < set->size(); ++i) {
        const auto& r = set->at(i);
        rows.push_back({r.id, r.name, r.cls,
                        std::string(rules::action_names[static_cast<std::size_t>(r.act)]),
                        rules.matches(set->slot(i))});
    }
    return rows;
}

std::uint32_t rule_row_index(const rules_runtime& rules, const std::string& id) {
    const auto set = rules.current_set();
    for (std::size_t i = 0; set != nullptr && i < set->size(); ++i) {
        if (set->at(i).id == id) {
            return static_cast<std::uint32_t>(i + 1);
        }
    }
    return 0;
}

snmp_source::snmp_source(runtime& rt, const snmp_config& cfg, std::string version,
                         rules_source rules)
    : rt_(rt),
      cfg_(cfg),
      version_(std::move(version)),
      rules_(std::move(rules)),
      started_(std::chrono::steady_clock::now()) {
    for (const auto& th : cfg_.thresholds) {
        threshold_state t;
        t.cfg = th;
        const auto dot = th.counter.find('.');
        const std::string cls = th.counter.substr(0, dot);
        const std::string key = th.counter.substr(dot + 1);
        if (cls == "ntp_server") {
            t.server = true;
            for (std::size_t i = 0; i < pipelines::server_counter_count; ++i) {
                if (pipelines::server_counter_names[i] == key) {
                    t.index = i;
                }
            }
        } else {
            for (std::size_t i = 0; i < pipelines::counter_count; ++i) {
                const auto& d = pipelines::counter_defs[i];
                if (pipelines::class_names[static_cast<std::size_t>(d.cls)] == cls &&
                    d.key == key) {
                    t.index = i;
                }
            }
        }
        thresholds_.push_back(std::move(t));
    }
    if (cfg_.trap_tunnels && rt_.tunnels().enabled) {
        tunnel_watch_.emplace(cfg_.trap_tunnel_rate);
    }
    for (const auto& p : rt_.ports()) {
        tx_cast_ids ids;
        const auto id_of = [&](const char* name) -> std::optional<std::uint64_t> {
            std::uint64_t id = 0;
            if (rte_eth_xstats_get_id_by_name(p.id, name, &id) != 0) {
                return std::nullopt;
            }
            return id;
        };
        ids.unicast = id_of("tx_unicast_packets");
        ids.multicast = id_of("tx_multicast_packets");
        ids.broadcast = id_of("tx_broadcast_packets");
        tx_casts_.push_back(ids);
        if_index_clash_.push_back(false);
        links_.push_back({read_port(p.id).link.link_status == RTE_ETH_LINK_UP, started_});
    }
    check_if_indexes();
}

// ifIndexes cannot be reserved against the kernel's (Linux numbers interfaces 1, 2, ... per
// network namespace, never reusing one until it wraps): a clash is only seen, and said, here.
// snmpd in this namespace would then answer that ifIndex's rows with the engine's port.
void snmp_source::check_if_indexes() {
    next_clash_check_ = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const auto& ports = rt_.ports();
    for (std::size_t i = 0; i < ports.size(); ++i) {
        const std::uint32_t index = cfg_.if_index_base + ports[i].id;
        char name[IF_NAMESIZE] = {};
        const bool clash = if_indextoname(index, name) != nullptr;
        if (clash && !if_index_clash_[i]) {
            spdlog::warn(
                "snmp: port {}'s IF-MIB ifIndex {} is also kernel interface {}'s: snmpd serves the "
                "port's row for it (set snmp.if_index_base above the host's interface indexes)",
                ports[i].cfg.name, index, name);
        }
        if_index_clash_[i] = clash;
    }
}

std::vector<telemetry::port_row> snmp_source::port_rows(
    const std::vector<lcore_figures>& lcores) const {
    std::vector<telemetry::port_row> rows;
    const auto now = std::chrono::steady_clock::now();
    std::size_t position = 0;
    // IF-MIB's fields of port p (position in rt_.ports()).
    const auto if_fields = [&](telemetry::port_row& r, const port_runtime& p, bool up) {
        const std::size_t at = position++;
        r.if_index = cfg_.if_index_base + p.id;
        r.alias = p.cfg.alias;
        // A ring, a null device or a capture file has no Ethernet link beneath.
        r.ethernet = p.driver != "net_ring" && p.driver != "net_null" && p.driver != "net_pcap";
        std::uint16_t mtu = 0;
        r.mtu = rte_eth_dev_get_mtu(p.id, &mtu) == 0 ? mtu : 0;
        rte_ether_addr mac{};
        if (rte_eth_macaddr_get(p.id, &mac) == 0) {
            r.mac.assign(reinterpret_cast<const char*>(mac.addr_bytes), RTE_ETHER_ADDR_LEN);
        }
        r.admin_up = p.started;
        r.promiscuous = rte_eth_promiscuous_get(p.id) == 1;
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(p.id, &info) == 0 && info.device != nullptr) {
            const rte_bus* bus = rte_dev_bus(info.device);
            r.connector = bus != nullptr && std::string_view(rte_bus_name(bus)) == "pci";
        }
        r.link_traps = cfg_.trap_link;
        if (at < links_.size()) {
            if (links_[at].up != up) {
                links_[at] = {up, now};
            }
            r.last_change = links_[at].since;
        }
        telemetry::cast_split in;
        for (const auto& l : lcores) {
            in.unicast += pipelines::worker_stats::load(l.stats->rx_unicast[p.id]);
            in.multicast += pipelines::worker_stats::load(l.stats->rx_multicast[p.id]);
            in.broadcast += pipelines::worker_stats::load(l.stats->rx_broadcast[p.id]);
        }
        r.rx_cast = in;
        if (at < tx_casts_.size()) {
            const auto& ids = tx_casts_[at];
            const auto value_of =
                [&](const std::optional<std::uint64_t>& id) -> std::optional<std::uint64_t> {
                std::uint64_t v = 0;
                if (!id || rte_eth_xstats_get_by_id(p.id, &*id, &v, 1) != 1) {
                    return std::nullopt;
                }
                return v;
            };
            r.tx_unicast = value_of(ids.unicast);
            r.tx_multicast = value_of(ids.multicast);
            r.tx_broadcast = value_of(ids.broadcast);
        }
    };
    for (const auto& p : rt_.ports()) {
        const auto [st, link] = read_port(p.id);
        telemetry::port_row r;
        r.port_id = p.id;
        r.name = p.cfg.name;
        r.driver = p.driver;
        r.link_up = link.link_status == RTE_ETH_LINK_UP;
        r.speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
        r.rx_packets = st.ipackets;
        r.tx_packets = st.opackets;
        r.rx_octets = st.ibytes;
        r.tx_octets = st.obytes;
        r.rx_errors = st.ierrors;
        r.rx_missed = st.imissed;
        r.rx_nombuf = st.rx_nombuf;
        r.tx_errors = st.oerrors;
        if (const auto* svc = rt_.service(); svc != nullptr && svc->port(p.id) != nullptr) {
            using kind = pipelines::rx_timestamp_kind;
            const pipelines::port_stamp_counters c = svc->port_stamps(p.id);
            auto of = [&c](kind k) { return c.stamped[static_cast<std::size_t>(k)]; };
            r.ntp = telemetry::port_row::ntp_stamps{
                pipelines::to_string(svc->port(p.id)->ts_kind), c.timestamp_error_drops,
                of(kind::software), of(kind::pcap_microseconds), of(kind::device_ticks)};
        }
        if_fields(r, p, link.link_status == RTE_ETH_LINK_UP);
        rows.push_back(std::move(r));
    }
    return rows;
}

telemetry::mib_snapshot snmp_source::snapshot() const {
    telemetry::mib_snapshot s;
    s.version = version_;
    s.uptime_ticks =
        static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started_)
                                       .count() /
                                   10);
    s.started = started_;
    s.taken = std::chrono::system_clock::now();
    // One reading of every lcore: within a walk, a class's packets equal the sum of its
    // details and an lcore's rx the sum of its fates, even while the counters move.
    const coherent_reading reading = rt_.read_coherent();
    const auto lcores = reading.lcores();
    s.ports = port_rows(lcores);
    s.classes = snapshot_of(reading.counter_ptrs());
    if (auto* svc = rt_.service(); svc != nullptr) {
        const auto cores = svc->counters();
        auto sum = [&](server_counter c) { return sum_over_lcores(cores, c); };
        auto& n = s.ntp;
        n.enabled = true;
        n.requests = sum(server_counter::requests);
        n.replies = sum(server_counter::replies);
        n.auth_ok = sum(server_counter::auth_ok);
        n.auth_fail = sum(server_counter::auth_fail);
        n.crypto_nak = sum(server_counter::crypto_nak);
        n.rate_limited = sum(server_counter::rate_limited);
        n.kod_sent = sum(server_counter::kod_sent);
        n.drop_mode6 = sum(server_counter::drop_mode6);
        n.drop_mode7 = sum(server_counter::drop_mode7);
        n.drop_other_mode = sum(server_counter::drop_other_mode);
        n.drop_access = sum(server_counter::drop_access);
        n.drop_malformed = sum(server_counter::drop_malformed);
        n.drop_auth_required = sum(server_counter::drop_auth_required);
        n.drop_unsupported_ip = sum(server_counter::drop_unsupported_ip);
        n.drop_sign_failed = sum(server_counter::drop_sign_failed);
        n.drop_timestamp_error = sum(server_counter::drop_timestamp_error);
        n.interleaved_replies = sum(server_counter::interleaved_replies);
        n.interleaved_misses = sum(server_counter::interleaved_misses);
        // Replies leave by the lcores' TX path with every other frame: its one count of
        // frames a full TX ring refused.
        n.tx_dropped = 0;
        for (const auto& l : lcores) {
            n.tx_dropped += pipelines::worker_stats::load(l.stats->tx_dropped);
        }
        // As the replies say it (ntp::make_reply_header): the configured stratum overrides the
        // clock's; an unsynchronized clock answers LI 3 and stratum 0, which the MIB says 16.
        const auto& shared = svc->shared();
        const auto clock = shared.clock.read();
        const std::uint8_t stratum =
            shared.config.stratum != 0 ? shared.config.stratum : clock.stratum;
        const bool synced = clock.synchronized && stratum >= 1 && stratum <= ntp::max_stratum;
        n.stratum = synced ? stratum : 16;
        n.leap = synced ? static_cast<std::uint8_t>(clock.leap & 0x03) : 3;
        // The NTS and exception path counters live with the NTP service's (a worker counts
        // them in its service stage); their groups say enabled only when configured.
        if (rt_.nts() != nullptr) {
            auto& t = s.nts;
            t.requests = sum(server_counter::nts_requests);
            t.replies = sum(server_counter::nts_replies);
            t.naks = sum(server_counter::nts_naks);
            t.auth_failed = sum(server_counter::nts_auth_failed);
            t.malformed = sum(server_counter::nts_malformed);
            t.cookies_issued = sum(server_counter::nts_cookies_issued);
            t.rate_limited = sum(server_counter::nts_rate_limited);
        }
        if (rt_.exceptions() != nullptr) {
            auto& x = s.exceptions;
            x.enabled = true;
            x.to_kernel = sum(server_counter::exception_to_kernel);
            x.from_kernel = sum(server_counter::exception_from_kernel);
            x.rate_dropped = sum(server_counter::exception_rate_dropped);
        }
    }
    if (auto* nts = rt_.nts(); nts != nullptr) {
        const auto f = nts->read();
        auto& t = s.nts;
        t.enabled = true;
        t.ke_accepted = f.ke_accepted;
        t.ke_sessions_ok = f.ke_sessions_ok;
        t.ke_tls_failed = f.ke_tls_failed;
        t.ke_bad_request = f.ke_bad_request;
        t.ke_timeouts = f.ke_timeouts;
        t.ke_rejected = f.ke_rejected;
        t.ke_cookies_issued = f.ke_cookies_issued;
        t.master_keys = f.master_keys;
        t.key_rotations = f.rotations;
        t.key_reloads = f.key_reloads;
        t.key_reload_failures = f.key_reload_failures;
    }
    for (const auto& l : lcores) {
        const lcore_reading reading = read_lcore(*l.stats);
        const std::uint64_t total = reading.total_cycles;
        const std::uint64_t busy = reading.busy_cycles;
        telemetry::lcore_row r;
        r.lcore = l.lcore;
        r.rx_packets = reading.rx_packets;
        r.tx_packets = reading.tx_packets;
        r.tx_dropped = reading.tx_dropped;
        r.forwarded = pipelines::worker_stats::load(l.stats->forwarded);
        r.replied = pipelines::worker_stats::load(l.stats->replied);
        r.to_kernel = pipelines::worker_stats::load(l.stats->to_kernel);
        r.released = pipelines::worker_stats::load(l.stats->released);
        for (const auto& d : l.stats->dropped) {
            r.dropped += pipelines::worker_stats::load(d);
        }
        r.busy_hundredths_percent =
            total == 0
                ? 0
                : static_cast<std::uint32_t>(std::min<double>(
                      10000.0, 10000.0 * static_cast<double>(busy) / static_cast<double>(total)));
        s.lcores.push_back(r);
    }
    if (rules_) {
        s.rules = rules_();
    }
    if (rt_.tunnels().enabled) {
        const tunnel_reading t = rt_.read_tunnels();
        s.tunnels =
            telemetry::tunnel_figures_of(t.rows, t.stats, t.capacity, rt_.tunnels().mib_rows);
        s.tunnels.notifications_suppressed = tunnel_watch_ ? tunnel_watch_->suppressed() : 0;
    }
    return s;
}

std::uint64_t snmp_source::value_of(const threshold_state& t) const {
    if (t.server) {
        auto* svc = rt_.service();
        return svc != nullptr ? sum_over_lcores(svc->counters(), t.index) : 0;
    }
    return sum_over_lcores(rt_.counters(), t.index);
}

std::vector<telemetry::notification> snmp_source::watch() {
    std::vector<telemetry::notification> out;
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_clash_check_) {
        check_if_indexes();
    }
    // ifLastChange: a link change is timed here (to the second) when no walk saw it first.
    for (std::size_t i = 0; i < rt_.ports().size() && i < links_.size(); ++i) {
        const bool up = read_port(rt_.ports()[i].id).link.link_status == RTE_ETH_LINK_UP;
        if (links_[i].up != up) {
            links_[i] = {up, now};
        }
    }

    if (cfg_.trap_link) {
        const auto rows = port_rows(rt_.lcores());
        if (first_watch_) {
            for (const auto& r : rows) {
                link_up_.push_back(r.link_up);
            }
        } else {
            for (std::size_t i = 0; i < rows.size() && i < link_up_.size(); ++i) {
                if (rows[i].link_up != link_up_[i]) {
                    link_up_[i] = rows[i].link_up;
                    spdlog::info("snmp: port {} link {}", rows[i].name,
                                 rows[i].link_up ? "up" : "down");
                    out.push_back(telemetry::link_notification(rows[i], rows[i].link_up));
                    out.push_back(telemetry::if_link_notification(rows[i], rows[i].link_up));
                }
            }
        }
    }
    first_watch_ = false;

    if (tunnel_watch_) {
        const tunnel_reading t = rt_.read_tunnels();
        for (auto& n : tunnel_watch_->look(t.rows, now)) {
            out.push_back(std::move(n));
        }
    }

    for (auto& t : thresholds_) {
        t.samples.emplace_back(now, value_of(t));
        const auto interval = std::chrono::seconds(t.cfg.interval_s);
        // Keep the newest sample at least an interval old, and drop the older ones.
        while (t.samples.size() > 2 && now - t.samples[1].first >= interval) {
            t.samples.erase(t.samples.begin());
        }
        const auto& [then, before] = t.samples.front();
        const double span = std::chrono::duration<double>(now - then).count();
        // A sample a tick late or early still covers the interval (ticks are ~1 s apart).
        if (span + 0.5 < static_cast<double>(t.cfg.interval_s)) {
            continue;
        }
        const double rate = static_cast<double>(t.samples.back().second - before) / span;
        if (rate <= t.cfg.rate_above) {
            continue;
        }
        if (t.ever_sent && now - t.last_sent < std::chrono::seconds(t.cfg.holddown_s)) {
            continue;
        }
        t.ever_sent = true;
        t.last_sent = now;
        spdlog::warn("snmp: threshold {}: {:.1f}/s above {}/s over {} s", t.cfg.counter, rate,
                     t.cfg.rate_above, t.cfg.interval_s);
        out.push_back(telemetry::threshold_notification(
            t.cfg.counter, static_cast<std::uint64_t>(std::floor(rate)),
            static_cast<std::uint64_t>(std::floor(t.cfg.rate_above))));
    }
    return out;
}

}  // namespace ports::engine
