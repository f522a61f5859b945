#include "ports/pipelines/worker.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "ports/pipelines/classify.hpp"
#include "ports/pipelines/rules_stage.hpp"
#include "ports/pipelines/service.hpp"
#include "ports/pipelines/tunnel_stage.hpp"

namespace ports::pipelines {

namespace {

// Packets ahead whose first cache line is prefetched (l3fwd uses 3 as well).
constexpr std::uint16_t prefetch_offset = 3;
// TX buffers are flushed at least this often when traffic is light.
constexpr std::uint64_t drain_interval_us = 100;

parsers::byte_span frame_of(const rte_mbuf* m) {
    // Only the first segment: RX scatter is not enabled, so a frame is one segment.
    return {rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len};
}

// The frames no stage took: out by the peer port (inline mode) or freed (monitor mode).
void pass_on(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf** pkts, std::uint16_t n) {
    if (n == 0) {
        return;
    }
    if (rx.peer == no_peer) {
        rte_pktmbuf_free_bulk(pkts, n);
        worker_stats::add(conf.stats->released, n);
        return;
    }
    const std::uint64_t sent =
        tx_buffer_bulk(rx.peer, conf.tx_queue[rx.peer], conf.tx_buffer[rx.peer], pkts, n);
    worker_stats::add(conf.stats->forwarded, n);
    worker_stats::add(conf.stats->tx_packets, sent);
}

// A burst's frames by destination MAC (worker_stats::rx_unicast...): one test of the group
// bit per frame, read where classify reads the frame anyway.
struct cast_count {
    std::uint64_t multicast = 0, broadcast = 0;

    void add(const rte_mbuf* m) {
        const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
        if ((d[0] & 1) != 0 && m->data_len >= RTE_ETHER_ADDR_LEN) [[unlikely]] {
            const bool all_ones = (d[0] & d[1] & d[2] & d[3] & d[4] & d[5]) == 0xFF;
            broadcast += all_ones ? 1 : 0;
            multicast += all_ones ? 0 : 1;
        }
    }
    void commit(worker_stats& s, std::uint16_t port, std::uint16_t n) const {
        worker_stats::add(s.rx_unicast[port], n - multicast - broadcast);
        if (multicast != 0) {
            worker_stats::add(s.rx_multicast[port], multicast);
        }
        if (broadcast != 0) {
            worker_stats::add(s.rx_broadcast[port], broadcast);
        }
    }
};

}  // namespace

// The stages: classify (+count, +record) -> rules -> service -> act. Only this function frees,
// forwards or hands a frame to TX, and it counts every frame's fate once (verdict.hpp).
//
// Cost (callgrind, see README "Performance"): parse+classify+count is the figure printed by
// tests/bench/callgrind_ipp.sh; a queue with later stages (rules, a service) also fills the
// frame records they read (its figure is printed beside it); the loop adds the PMD's rx/tx.
void process_burst(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf** pkts, std::uint16_t n) {
    core_counters& counters = *conf.counters;
    worker_stats::add(conf.stats->rx_packets, n);
    for (std::uint16_t i = 0; i < n && i < prefetch_offset; ++i) {
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    }
    // The rule generation of this burst (null: none published, or no rules file).
    rules_generation* const rules = current_rules(conf.rules);
    cast_count casts;
    if (rules == nullptr && rx.service == nullptr && conf.tunnels == nullptr) {
        // No stage after classify: no record is read, none is written.
        for (std::uint16_t i = 0; i < n; ++i) {
            if (i + prefetch_offset < n) {
                rte_prefetch0(rte_pktmbuf_mtod(pkts[i + prefetch_offset], void*));
            }
            classify_and_count(counters, frame_of(pkts[i]), pkts[i]->pkt_len);
            casts.add(pkts[i]);
        }
        casts.commit(*conf.stats, rx.port, n);
        pass_on(conf, rx, pkts, n);
        return;
    }
    if (rules == nullptr && rx.service == nullptr) {
        // Tunnel tracking alone: counted as above in the same walk that fills the records of
        // the tunnel frames (classify_count_tunnel_record); only those are tracked.
        frame_record* const records = conf.records.data();
        std::uint32_t classes = 0;
        for (std::uint16_t i = 0; i < n; ++i) {
            if (i + prefetch_offset < n) {
                rte_prefetch0(rte_pktmbuf_mtod(pkts[i + prefetch_offset], void*));
            }
            classify_count_tunnel_record(counters, frame_of(pkts[i]), pkts[i]->pkt_len, records[i]);
            classes |= 1u << static_cast<unsigned>(records[i].cls);
            casts.add(pkts[i]);
        }
        casts.commit(*conf.stats, rx.port, n);
        if ((classes & tunnel_classes) != 0) {
            track_tunnels(*conf.tunnels, counters, pkts, records, n);
        }
        pass_on(conf, rx, pkts, n);
        return;
    }
    // The burst's arrival window (poll_queue), for ports without a per-packet stamp.
    // A caller that polled by itself (not poll_queue) gives no window: arrival unknown.
    const rx_window window = rx.service == nullptr ? rx_window{}
                             : rx.latest_tsc != 0  ? rx_window{rx.earliest_tsc, rx.latest_tsc}
                                                   : rx_window{0, rte_rdtsc()};
    frame_record* const records = conf.records.data();
    std::array<verdict, burst_size> verdicts;  // written before read: no zeroing
    std::uint32_t classes = 0;
    // The NTP server's fast lane (serve_ntp_lane): the plain IPv4 client requests to us are
    // counted and answered first, without records, unless rules want to see NTP frames.
    constexpr std::uint32_t ntp_bit = 1u << static_cast<unsigned>(traffic_class::ntp);
    static_assert(burst_size <= 32, "a burst's frames are bits of one word");
    const lane_result lane =
        rx.service != nullptr && (rules == nullptr || (rules->class_mask & ntp_bit) == 0)
            ? serve_ntp_lane(conf, rx, pkts, n, verdicts.data(), window)
            : lane_result{};
    const std::uint32_t taken = lane.taken;
    if (taken != 0) {
        classes |= ntp_bit;
    }
    const std::uint32_t all = n == 32 ? ~0u : (1u << n) - 1;
    for (std::uint16_t i = 0; i < n && taken != all; ++i) {
        if (i + prefetch_offset < n) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + prefetch_offset], void*));
        }
        if (((taken >> i) & 1) != 0) {
            // Sent to this port's unicast MAC: nothing for casts to count. The later stages
            // skip it by class (no rules for ntp) or verdict.
            records[i].cls = traffic_class::ntp;
            continue;
        }
        classify_count_record(counters, frame_of(pkts[i]), pkts[i]->pkt_len, records[i]);
        casts.add(pkts[i]);
        classes |= 1u << static_cast<unsigned>(records[i].cls);
        verdicts[i] = verdict::pass();
    }
    casts.commit(*conf.stats, rx.port, n);
    // A frame of a class without rules pays nothing here: one test per burst.
    if (rules != nullptr && (rules->class_mask & classes) != 0) [[unlikely]] {
        apply_rules(*conf.rules, *rules, pkts, records, verdicts.data(), n, rx.port, conf.lcore_id);
    }
    // Before the service: a reply may reuse the request's mbuf.
    if (conf.tunnels != nullptr && (classes & tunnel_classes) != 0) [[unlikely]] {
        track_tunnels(*conf.tunnels, counters, pkts, records, n);
    }
    if (rx.service != nullptr) {
        for (std::uint32_t left = all & ~taken; left != 0; left &= left - 1) {
            const unsigned i = static_cast<unsigned>(__builtin_ctz(left));
            if (verdicts[i].passes()) {
                verdicts[i] = serve(conf, rx, pkts[i], records[i], window);
            }
        }
    }
    // Act on the verdicts. Written before read: no zeroing.
    std::array<rte_mbuf*, burst_size> kept;
    std::array<rte_mbuf*, burst_size> freed;
    std::uint16_t kept_count = 0;
    std::uint16_t freed_count = 0;
    // The lane's replies are staged already: counted here, nothing else to do for them.
    std::uint64_t replied = static_cast<std::uint64_t>(__builtin_popcount(lane.replied));
    std::uint64_t to_kernel = 0;
    std::uint64_t sent = 0;
    worker_stats& stats = *conf.stats;
    for (std::uint32_t left = all & ~lane.replied; left != 0; left &= left - 1) {
        const unsigned i = static_cast<unsigned>(__builtin_ctz(left));
        switch (verdicts[i].what) {
            case verdict::kind::pass:
                kept[kept_count++] = pkts[i];
                break;
            case verdict::kind::reply:
                ++replied;  // staged: the service's flush stamps it and hands it to TX
                break;
            case verdict::kind::kernel: {
                const std::uint16_t tap = rx.service->tap;
                sent += rte_eth_tx_buffer(tap, conf.tx_queue[tap], conf.tx_buffer[tap], pkts[i]);
                ++to_kernel;
                break;
            }
            case verdict::kind::drop:
                freed[freed_count++] = pkts[i];
                worker_stats::add(stats.dropped[static_cast<std::size_t>(verdicts[i].why)], 1);
                break;
        }
    }
    if (rx.service != nullptr) {
        // Replies leave here, by the same TX buffers as everything else; an NTS request that
        // failed at flush comes back as a drop.
        const flush_result f = flush_replies(conf, *rx.service, rx.port);
        sent += f.sent;
        for (std::uint16_t k = 0; k < f.dropped_count; ++k) {
            freed[freed_count++] = f.dropped[k].m;
            worker_stats::add(stats.dropped[static_cast<std::size_t>(f.dropped[k].why)], 1);
        }
        replied -= f.dropped_count;
    }
    if (freed_count != 0) {
        rte_pktmbuf_free_bulk(freed.data(), freed_count);
    }
    if (replied != 0) {
        worker_stats::add(stats.replied, replied);
    }
    if (to_kernel != 0) {
        worker_stats::add(stats.to_kernel, to_kernel);
    }
    if (sent != 0) {
        worker_stats::add(stats.tx_packets, sent);
    }
    pass_on(conf, rx, kept.data(), kept_count);
}

void drain_tx(lcore_conf& conf) {
    std::uint64_t sent = 0;
    for (std::uint16_t port = 0; port < RTE_MAX_ETHPORTS; ++port) {
        if (conf.tx_buffer[port] != nullptr) {
            sent += rte_eth_tx_buffer_flush(port, conf.tx_queue[port], conf.tx_buffer[port]);
        }
    }
    if (sent != 0) {
        worker_stats::add(conf.stats->tx_packets, sent);
    }
}

int worker_main(void* arg) {
    lcore_conf& conf = *static_cast<lcore_conf*>(arg);
    if (conf.rx_count == 0) {
        return 0;
    }
    const std::uint64_t drain_cycles =
        (rte_get_tsc_hz() + US_PER_S - 1) / US_PER_S * drain_interval_us;
    std::uint64_t last_drain = rte_rdtsc();
    std::uint64_t loop_start = last_drain;
    std::array<rte_mbuf*, burst_size> pkts{};
    if (conf.rules != nullptr) {
        rules_worker_online(*conf.rules);
    }
    if (conf.service != nullptr) {
        service_worker_online(*conf.service);
    }
    if (conf.mirror != nullptr) {
        mirror_online(*conf.mirror, true);
    }

    while (!conf.stop->load(std::memory_order_relaxed)) {
        bool busy = false;
        for (std::uint16_t q = 0; q < conf.rx_count; ++q) {
            rx_queue_conf& rx = conf.rx[q];
            const std::uint16_t n = poll_queue(rx, pkts.data());
            if (n == 0) {
                continue;
            }
            busy = true;
            if (rx.from_kernel) [[unlikely]] {
                forward_from_kernel(conf, rx, pkts.data(), n);  // counted by the service
                continue;
            }
            process_burst(conf, rx, pkts.data(), n);
        }
        // No rule generation is held here: reloads wait for every worker to pass this point.
        rules_quiescent(conf.rules);
        service_quiescent(conf.service);  // nor an ntp_policy (flush_replies dropped it)
        const std::uint64_t now = rte_rdtsc();
        if (now - last_drain > drain_cycles) {
            drain_tx(conf);
            last_drain = now;
        }
        const std::uint64_t spent = now - loop_start;
        loop_start = now;
        worker_stats::add(conf.stats->total_cycles, spent);
        worker_stats::add(conf.stats->loops, 1);
        if (busy) {
            worker_stats::add(conf.stats->busy_cycles, spent);
        }
        // Between two iterations: every frame so far counted whole, in counters and fates.
        if (conf.mirror != nullptr) {
            publish_if_asked(*conf.mirror, *conf.counters, *conf.stats);
        }
        if (conf.tunnels != nullptr) {
            tunnel_housekeeping(*conf.tunnels, now);
        }
    }
    drain_tx(conf);
    if (conf.mirror != nullptr) {
        mirror_online(*conf.mirror, false);  // after the last count: readers read directly
    }
    if (conf.rules != nullptr) {
        rules_worker_offline(*conf.rules);
    }
    if (conf.service != nullptr) {
        service_worker_offline(*conf.service);
    }
    return 0;
}

}  // namespace ports::pipelines
