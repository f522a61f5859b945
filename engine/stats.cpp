#include "stats.hpp"

#include <rte_ethdev.h>
#include <spdlog/fmt/fmt.h>

#include <nlohmann/json.hpp>

#include "ntp_service.hpp"

namespace ports::engine {

using pipelines::class_base;
using pipelines::class_count;
using pipelines::class_names;

pipelines::counter_snapshot snapshot_of(const std::vector<const pipelines::core_counters*>& cores) {
    pipelines::counter_snapshot s;
    for (const auto* c : cores) {
        s.accumulate(*c);
    }
    return s;
}

port_reading read_port(std::uint16_t port_id) {
    port_reading r;
    rte_eth_stats_get(port_id, &r.stats);
    rte_eth_link_get_nowait(port_id, &r.link);
    return r;
}

lcore_reading read_lcore(const pipelines::worker_stats& stats) {
    using w = pipelines::worker_stats;
    lcore_reading r;
    r.rx_packets = w::load(stats.rx_packets);
    r.tx_packets = w::load(stats.tx_packets);
    r.tx_dropped = w::load(stats.tx_dropped);
    r.busy_cycles = w::load(stats.busy_cycles);
    r.total_cycles = w::load(stats.total_cycles);
    return r;
}

nlohmann::ordered_json ports_json(const std::vector<port_runtime>& ports,
                                  const std::vector<lcore_figures>& lcores,
                                  const ntp_service* ntp) {
    using w = pipelines::worker_stats;
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& p : ports) {
        const auto [st, link] = read_port(p.id);
        // The workers' split of what they received from the port, by destination MAC.
        std::uint64_t unicast = 0, multicast = 0, broadcast = 0;
        for (const auto& l : lcores) {
            unicast += w::load(l.stats->rx_unicast[p.id]);
            multicast += w::load(l.stats->rx_multicast[p.id]);
            broadcast += w::load(l.stats->rx_broadcast[p.id]);
        }
        rte_ether_addr mac{};
        rte_eth_macaddr_get(p.id, &mac);
        std::uint16_t mtu = 0;
        rte_eth_dev_get_mtu(p.id, &mtu);
        out.push_back(
            {{"name", p.cfg.name},
             {"port_id", p.id},
             {"device", p.cfg.device},
             {"driver", p.driver},
             {"link_up", link.link_status == RTE_ETH_LINK_UP},
             {"speed_mbps", link.link_speed},
             {"rx_packets", st.ipackets},
             {"rx_bytes", st.ibytes},
             {"tx_packets", st.opackets},
             {"tx_bytes", st.obytes},
             {"rx_errors", st.ierrors},
             {"tx_errors", st.oerrors},
             {"rx_missed", st.imissed},
             {"rx_nombuf", st.rx_nombuf},
             {"rx_unicast", unicast},
             {"rx_multicast", multicast},
             {"rx_broadcast", broadcast},
             {"mac", fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac.addr_bytes[0],
                                 mac.addr_bytes[1], mac.addr_bytes[2], mac.addr_bytes[3],
                                 mac.addr_bytes[4], mac.addr_bytes[5])},
             {"mtu", mtu}});
        if (ntp != nullptr && ntp->port(p.id) != nullptr) {
            const pipelines::port_stamp_counters c = ntp->port_stamps(p.id);
            nlohmann::ordered_json by_source = nlohmann::ordered_json::object();
            for (std::size_t k = 0; k < c.stamped.size(); ++k) {
                by_source[pipelines::to_string(static_cast<pipelines::rx_timestamp_kind>(k))] =
                    c.stamped[k];
            }
            out.back()["ntp_receive_stamps"] = {
                {"source", pipelines::to_string(ntp->port(p.id)->ts_kind)},
                {"replies_by_source", by_source},
                {"timestamp_error_drops", c.timestamp_error_drops}};
        }
    }
    return out;
}

// Every received frame's fate, once (pipelines/verdict.hpp): rx_packets == forwarded + replied
// + to_kernel + released + the drops.
nlohmann::ordered_json fates_json(const pipelines::worker_stats& s) {
    using w = pipelines::worker_stats;
    nlohmann::ordered_json dropped = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < pipelines::drop_reason_count; ++i) {
        dropped[std::string(pipelines::drop_reason_names[i])] = w::load(s.dropped[i]);
    }
    return {{"forwarded", w::load(s.forwarded)},
            {"replied", w::load(s.replied)},
            {"to_kernel", w::load(s.to_kernel)},
            {"released", w::load(s.released)},
            {"dropped", dropped}};
}

nlohmann::ordered_json lcores_json(const std::vector<lcore_figures>& lcores) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& l : lcores) {
        const lcore_reading r = read_lcore(*l.stats);
        const std::uint64_t total = r.total_cycles;
        const std::uint64_t busy = r.busy_cycles;
        out.push_back({{"lcore", l.lcore},
                       {"rx_packets", r.rx_packets},
                       {"tx_packets", r.tx_packets},
                       {"tx_dropped", r.tx_dropped},
                       {"busy_ratio", total == 0 ? 0.0 : static_cast<double>(busy) / total},
                       {"fates", fates_json(*l.stats)}});
    }
    return out;
}

nlohmann::ordered_json server_json(const std::vector<const pipelines::server_counters*>& cores) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < pipelines::server_counter_count; ++i) {
        out[std::string(pipelines::server_counter_names[i])] = sum_over_lcores(cores, i);
    }
    return out;
}

interval_meter::interval_meter(const std::vector<port_runtime>& ports,
                               std::vector<const pipelines::core_counters*> cores,
                               std::vector<const pipelines::server_counters*> server)
    : ports_(ports),
      cores_(std::move(cores)),
      server_(std::move(server)),
      last_(snapshot_of(cores_)),
      last_ports_(read_ports()),
      last_time_(std::chrono::steady_clock::now()) {}

interval_meter::port_totals interval_meter::read_ports() const {
    port_totals t;
    for (const auto& p : ports_) {
        rte_eth_stats st{};
        rte_eth_stats_get(p.id, &st);
        t.ipackets += st.ipackets;
        t.ibytes += st.ibytes;
        t.imissed += st.imissed;
        t.nombuf += st.rx_nombuf;
    }
    return t;
}

std::string interval_meter::line() {
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last_time_).count();
    const auto snap = snapshot_of(cores_);
    const auto pt = read_ports();
    auto rate = [dt](std::uint64_t now_v, std::uint64_t before) {
        return dt > 0 ? static_cast<double>(now_v - before) / dt : 0.0;
    };
    std::string out =
        fmt::format("rx {:.0f} pps {:.3f} Gbps |", rate(pt.ipackets, last_ports_.ipackets),
                    rate(pt.ibytes, last_ports_.ibytes) * 8e-9);
    std::uint64_t malformed = 0;
    for (std::size_t c = 0; c < class_count; ++c) {
        const auto b = class_base[c];
        out += fmt::format(" {} {:.0f}", class_names[c], rate(snap.values[b], last_.values[b]));
        malformed += snap.values[b + pipelines::offset_malformed] -
                     last_.values[b + pipelines::offset_malformed];
    }
    out += fmt::format(" pps | malformed {:.0f}/s | missed {} nombuf {}",
                       dt > 0 ? malformed / dt : 0.0, pt.imissed - last_ports_.imissed,
                       pt.nombuf - last_ports_.nombuf);
    if (!server_.empty()) {
        const std::uint64_t requests =
            sum_over_lcores(server_, pipelines::server_counter::requests);
        const std::uint64_t replies = sum_over_lcores(server_, pipelines::server_counter::replies);
        out += fmt::format(" | ntp requests {:.0f}/s replies {:.0f}/s",
                           rate(requests, last_requests_), rate(replies, last_replies_));
        last_requests_ = requests;
        last_replies_ = replies;
    }
    last_ = snap;
    last_ports_ = pt;
    last_time_ = now;
    return out;
}

}  // namespace ports::engine
