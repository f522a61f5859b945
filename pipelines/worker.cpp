#include "ports/pipelines/worker.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "ports/pipelines/classify.hpp"
#include "ports/pipelines/rules_stage.hpp"
#include "ports/pipelines/service.hpp"

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

// classify_and_count's walk (counting_sink: counters bumped at each terminal point, no
// classification built) that also hands the class to the service stage, which needs nothing
// else of it.
struct counting_class_sink {
    counting_sink counting;
    traffic_class* cls;

    [[gnu::always_inline]] void packet(traffic_class c, bool malformed, bool fragment) const {
        counting.packet(c, malformed, fragment);
        *cls = c;
    }
    [[gnu::always_inline]] void detail(std::uint16_t index) const { counting.detail(index); }
};

}  // namespace

// Cost (callgrind, see README "Performance"): parse+classify+count is the figure printed by
// tests/bench/callgrind_ipp.sh; the loop adds the PMD's rx/tx and the free/forward.
void process_burst(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf** pkts, std::uint16_t n) {
    core_counters& counters = *conf.counters;
    // The software receive time of the burst, for ports without a hardware stamp.
    const std::uint64_t rx_tsc = rx.service != nullptr ? rte_rdtsc() : 0;
    for (std::uint16_t i = 0; i < n && i < prefetch_offset; ++i) {
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    }
    // The rule generation of this burst, and the classes it has rules for: a frame of any
    // other class pays one bit test (rules_stage.hpp). bench-forward, same run, mix of the
    // shared captures, a rule set on snmp-trap only (0.24% of frames scanned) vs no rules file:
    // ratio 0.994 and 1.062 in two runs (~58 Mpps/core): below run-to-run noise.
    rules_generation* const rules = current_rules(conf.rules);
    const std::uint32_t rule_classes = rules != nullptr ? rules->class_mask : 0;
    std::uint16_t kept = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        if (i + prefetch_offset < n) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + prefetch_offset], void*));
        }
        traffic_class cls = traffic_class::other;
        classify_frame_into(frame_of(pkts[i]),
                            counting_class_sink{{&counters, pkts[i]->pkt_len}, &cls});
        if ((rule_classes >> static_cast<unsigned>(cls) & 1u) != 0) [[unlikely]] {
            if (apply_rules(*conf.rules, *rules, pkts[i], cls, rx.port, conf.lcore_id)) {
                // A drop rule: neither forwarded nor answered.
                rte_pktmbuf_free(pkts[i]);
                continue;
            }
        }
        if (rx.service != nullptr && serve(conf, rx, pkts[i], cls, rx_tsc)) {
            continue;
        }
        pkts[kept++] = pkts[i];
    }
    if (rx.service != nullptr) {
        flush_replies(conf);
    }
    if (rx.peer == no_peer) {
        rte_pktmbuf_free_bulk(pkts, kept);
        return;
    }
    rte_eth_dev_tx_buffer* buffer = conf.tx_buffer[rx.peer];
    std::uint64_t sent = 0;
    for (std::uint16_t i = 0; i < kept; ++i) {
        sent += rte_eth_tx_buffer(rx.peer, conf.tx_queue[rx.peer], buffer, pkts[i]);
    }
    worker_stats::add(conf.stats->tx_packets, sent);
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

    while (!conf.stop->load(std::memory_order_relaxed)) {
        bool busy = false;
        for (std::uint16_t q = 0; q < conf.rx_count; ++q) {
            const rx_queue_conf& rx = conf.rx[q];
            const std::uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, pkts.data(), burst_size);
            if (n == 0) {
                continue;
            }
            busy = true;
            if (rx.from_kernel) [[unlikely]] {
                forward_from_kernel(conf, rx, pkts.data(), n);  // counted by the service
                continue;
            }
            worker_stats::add(conf.stats->rx_packets, n);
            process_burst(conf, rx, pkts.data(), n);
        }
        // No rule generation is held here: reloads wait for every worker to pass this point.
        rules_quiescent(conf.rules);
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
    }
    drain_tx(conf);
    if (conf.rules != nullptr) {
        rules_worker_offline(*conf.rules);
    }
    return 0;
}

}  // namespace ports::pipelines
