#include "ports/pipelines/rules_stage.hpp"

#include <rte_cycles.h>

#include <algorithm>
#include <cstring>

namespace ports::pipelines {

namespace {

// The IP addresses of an alerting frame (Ethernet, up to two VLAN tags). Only on the alert
// path: a frame that alerts is rare, and the record is what the operator reads.
void fill_addresses(alert_record& a, const std::uint8_t* f, std::uint32_t len) {
    std::uint32_t off = 12;
    for (int tags = 0; tags < 3 && off + 2 <= len; ++tags) {
        const std::uint16_t type = static_cast<std::uint16_t>(f[off] << 8 | f[off + 1]);
        if (type == 0x8100 || type == 0x88A8) {
            off += 4;
            continue;
        }
        const std::uint32_t l3 = off + 2;
        if (type == 0x0800 && l3 + 20 <= len && (f[l3] >> 4) == 4) {
            a.ip_version = 4;
            std::memcpy(a.src.data(), f + l3 + 12, 4);
            std::memcpy(a.dst.data(), f + l3 + 16, 4);
        } else if (type == 0x86DD && l3 + 40 <= len && (f[l3] >> 4) == 6) {
            a.ip_version = 6;
            std::memcpy(a.src.data(), f + l3 + 8, 16);
            std::memcpy(a.dst.data(), f + l3 + 24, 16);
        }
        return;
    }
}

// Queues one alert record for the control thread, unless the rule's rate says it would only
// be suppressed there.
void queue_alert(rules_lcore& r, const rules_generation::alert_limit& limit, std::uint32_t slot,
                 const rte_mbuf* m, const std::uint8_t* data, traffic_class cls, std::uint16_t port,
                 unsigned lcore) {
    const std::uint64_t now = rte_rdtsc();
    std::uint64_t& due = r.alert_due[slot];
    if (due > now + limit.tolerance) {
        rules_lcore_stats::add(r.stats.alerts_gated, 1);
        return;
    }
    due = std::max(due, now) + limit.interval;
    alert_record a;
    a.tsc = now;
    a.slot = slot;
    a.frame_length = m->pkt_len;
    a.port = port;
    a.lcore = static_cast<std::uint16_t>(lcore);
    a.cls = static_cast<std::uint8_t>(cls);
    fill_addresses(a, data, m->data_len);
    // Never waits: a full ring loses the record, counted.
    if (rte_ring_sp_enqueue_elem(r.alerts, &a, sizeof(a)) == 0) {
        rules_lcore_stats::add(r.stats.alerts_queued, 1);
    } else {
        rules_lcore_stats::add(r.stats.alerts_ring_full, 1);
    }
}

}  // namespace

std::uint16_t apply_rules(rules_lcore& r, rules_generation& gen, rte_mbuf* const* pkts,
                          const frame_record* records, verdict* verdicts, std::uint16_t n,
                          std::uint16_t port, unsigned lcore) {
    const rules::rule_set& set = *gen.set;
    rules::scratch& scratch = gen.scratches[r.worker_index];
    std::uint16_t scanned = 0;
    std::uint16_t dropped = 0;
    std::uint32_t classes = gen.class_mask;
    while (classes != 0) {
        const auto cls = static_cast<traffic_class>(__builtin_ctz(classes));
        classes &= classes - 1;
        for (std::uint16_t i = 0; i < n; ++i) {
            const frame_record& rec = records[i];
            if (rec.cls != cls) {
                continue;
            }
            rte_mbuf* m = pkts[i];
            const auto* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
            bool drop = false;
            rules::match_record(
                set, scratch, rec, parsers::byte_span{data, m->data_len}, [&](std::uint32_t k) {
                    const std::uint32_t slot = set.slot(k);
                    r.counters->add(slot);
                    const rules::action act = set.at(k).act;
                    if (act == rules::action::drop) {
                        drop = true;
                    } else if (act == rules::action::alert) {
                        queue_alert(r, gen.alert_limits[k], slot, m, data, cls, port, lcore);
                    }
                });
            ++scanned;
            if (drop) {
                verdicts[i] = verdict::drop(drop_reason::rule);
                ++dropped;
            }
        }
    }
    rules_lcore_stats::add(r.stats.scanned, scanned);
    if (dropped != 0) {
        rules_lcore_stats::add(r.stats.dropped, dropped);
    }
    return scanned;
}

void rules_worker_online(rules_lcore& r) {
    rte_rcu_qsbr_thread_register(r.shared->qsbr, r.worker_index);
    rte_rcu_qsbr_thread_online(r.shared->qsbr, r.worker_index);
}

void rules_worker_offline(rules_lcore& r) {
    rte_rcu_qsbr_thread_offline(r.shared->qsbr, r.worker_index);
    rte_rcu_qsbr_thread_unregister(r.shared->qsbr, r.worker_index);
}

}  // namespace ports::pipelines
