// The tunnel stage of a worker: its lcore's tunnel table (pipelines/tunnels), fed with the
// burst's frame records, aged and copied for readers between loop iterations.
//
// Cost per packet: frames of other classes pay one test per burst (the burst's class mask);
// a PPTP, L2TP or GRE frame pays one table update (a hash of its key, one probe or two). Per
// loop iteration: one load (a reader's request), and while a copy is asked for, copy_step slots.
#pragma once

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"
#include "ports/tunnels/table.hpp"

namespace ports::pipelines {

inline constexpr std::uint32_t tunnel_classes =
    (1u << static_cast<unsigned>(traffic_class::pptp)) |
    (1u << static_cast<unsigned>(traffic_class::gre)) |
    (1u << static_cast<unsigned>(traffic_class::l2tp));

struct tunnel_lcore {
    // entries: the table's capacity; idle_timeout_s: how long an entry lives without frames.
    tunnel_lcore(std::uint32_t entries, std::uint32_t idle_timeout_s)
        : table(entries, std::uint64_t{idle_timeout_s} * 1000000000u),
          mirror(entries),
          ns_per_cycle(1e9 / static_cast<double>(rte_get_tsc_hz())),
          expire_interval_tsc(rte_get_tsc_hz() / 10) {}

    tunnels::table table;
    tunnels::table_mirror mirror;
    double ns_per_cycle;
    std::uint64_t expire_interval_tsc;  // aging looks at expire_scan entries this often
    std::uint64_t next_expire_tsc = 0;

    // A reader's copy takes capacity / copy_step iterations; each costs up to copy_step
    // entry copies (~300 B each): about 20 KiB, a few microseconds.
    static constexpr std::uint32_t copy_step = 64;
    static constexpr std::uint32_t expire_scan = 256;

    std::uint64_t now_ns(std::uint64_t tsc) const {
        return static_cast<std::uint64_t>(static_cast<double>(tsc) * ns_per_cycle);
    }
};

// The burst's tunnel frames into the table (records as classify wrote them).
inline void track_tunnels(tunnel_lcore& t, rte_mbuf* const* pkts, const frame_record* records,
                          std::uint16_t n) {
    const std::uint64_t now = t.now_ns(rte_rdtsc());
    for (std::uint16_t i = 0; i < n; ++i) {
        if (((1u << static_cast<unsigned>(records[i].cls)) & tunnel_classes) == 0) {
            continue;
        }
        const rte_mbuf* m = pkts[i];
        t.table.update(records[i], {rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len},
                       m->pkt_len, now);
    }
}

// Once per loop iteration: a step of a reader's copy, and aging every expire_interval.
inline void tunnel_housekeeping(tunnel_lcore& t, std::uint64_t now_tsc) {
    t.mirror.step(t.table, tunnel_lcore::copy_step);
    if (now_tsc >= t.next_expire_tsc) [[unlikely]] {
        t.table.expire(t.now_ns(now_tsc), tunnel_lcore::expire_scan);
        t.next_expire_tsc = now_tsc + t.expire_interval_tsc;
    }
}

}  // namespace ports::pipelines
