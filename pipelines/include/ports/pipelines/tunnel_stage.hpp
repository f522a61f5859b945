// The tunnel stage of a worker: its lcore's tunnel table (pipelines/tunnels), fed with the
// burst's tunnel frames (tunnels/track.hpp), aged and copied for readers between loop
// iterations.
//
// Cost per packet (track.hpp): with the burst's records, frames of other classes pay one test
// per burst (the burst's class mask); without, one store of their class. A PPTP, L2TP or GRE
// frame pays one table update (a hash of its key, one probe or two) and the classification of
// what it carries, and without records a second walk for its record. Per loop iteration: one
// load (a reader's request), and while a copy is asked for, copy_step slots.
#pragma once

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <memory_resource>

#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"
#include "ports/tunnels/table.hpp"
#include "ports/tunnels/track.hpp"

namespace ports::pipelines {

inline constexpr std::uint32_t tunnel_classes = tunnels::tunnel_classes;

struct tunnel_lcore {
    // entries: the table's capacity; idle_timeout_s: how long an entry lives without frames;
    // memory: where the table and its reader copy live (the engine: the lcore's NUMA socket).
    tunnel_lcore(std::uint32_t entries, std::uint32_t idle_timeout_s,
                 std::pmr::memory_resource* memory = std::pmr::get_default_resource())
        : table(entries, std::uint64_t{idle_timeout_s} * 1000000000u, memory),
          mirror(entries, memory),
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

// The burst's tunnel frames into the table (records as classify wrote them); what they carry
// into the lcore's counters (inner_packets, inner_bytes of its class).
inline void track_tunnels(tunnel_lcore& t, core_counters& counters, rte_mbuf* const* pkts,
                          const frame_record* records, std::uint16_t n) {
    const std::uint64_t now = t.now_ns(rte_rdtsc());
    for (std::uint16_t i = 0; i < n; ++i) {
        if (!tunnels::is_tunnel_class(records[i].cls)) {
            continue;
        }
        const rte_mbuf* m = pkts[i];
        tunnels::track(t.table, counters, records[i],
                       {rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len}, m->pkt_len, now);
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
