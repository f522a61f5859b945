// The rule stage of the worker loop: after classification, the frames of classes that have
// rules are matched against the published rule set (count / alert / drop).
//
// Publication (RCU, rte_rcu_qsbr): the control side builds a whole rules_generation (the
// compiled set and one Hyperscan scratch per worker, fitted to that set), stores its pointer,
// and frees the previous generation once every worker has reported a quiescent state after
// the store. A worker loads the pointer once per burst with acquire, pairing with the control
// side's release store after building it (a plain load on x86-64; the C++ model, not the
// CPU's dependency ordering, is what makes the generation's contents visible), and reports
// quiescent once per loop iteration,
// outside the burst processing, holding no pointer across it. A scratch belongs to exactly one
// (generation, worker): a reload never touches a scratch a worker may be scanning with.
//
// Cost per packet: a packet whose class has no rule pays one bit test of a mask loaded once
// per burst (a predictable branch); with rules, the field extraction and one Hyperscan scan
// per (class, field) the rules use, in rules_stage.cpp, out of the burst loop's hot code.
// The field values come from the classifier's frame records: nothing is parsed again.
#pragma once

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"
#include "ports/pipelines/verdict.hpp"
#include "ports/rules/rules.hpp"

namespace ports::pipelines {

// One alert as a worker hands it to the control thread: fixed size (an rte_ring element) and
// nothing that points into the rule set, which may be replaced before the record is read.
struct alert_record {
    std::uint64_t tsc = 0;   // rte_rdtsc() when the frame was matched
    std::uint32_t slot = 0;  // the rule's counter slot: stable for the process (slot_map)
    std::uint32_t frame_length = 0;
    std::uint16_t port = 0;
    std::uint16_t lcore = 0;
    std::uint8_t cls = 0;         // traffic_class
    std::uint8_t ip_version = 0;  // 4, 6, or 0 when the frame carries neither
    std::uint16_t reserved = 0;
    std::array<std::uint8_t, 16> src{};  // IPv4 addresses in the first 4 bytes
    std::array<std::uint8_t, 16> dst{};
    std::uint64_t reserved2 = 0;
};
static_assert(sizeof(alert_record) == 64 && sizeof(alert_record) % 4 == 0);

// What one generation of rules is: the set and each worker's scratch for it. Immutable once
// published but for the scratch contents, each written only by its own worker.
struct rules_generation {
    std::shared_ptr<const rules::rule_set> set;
    std::vector<rules::scratch> scratches;  // by worker index
    // By rule index: the alert rate as a GCRA (one word of state per rule and worker): TSC
    // cycles per alert, and the burst tolerance ((rate - 1) intervals). A worker hands the
    // control thread no more records of a rule than its rate lets through, so a flood of
    // matches costs a TSC read and a compare, not a ring operation each.
    struct alert_limit {
        std::uint64_t interval = 0;
        std::uint64_t tolerance = 0;
    };
    std::vector<alert_limit> alert_limits;
    std::uint32_t class_mask = 0;  // bit c: the set has rules for traffic_class c
    std::uint64_t number = 0;      // 1 for the first set published
};

// Shared by every worker of the engine.
struct rules_shared {
    std::atomic<rules_generation*> current{nullptr};
    rte_rcu_qsbr* qsbr = nullptr;
};

// One worker's rule figures (single writer, relaxed, as worker_stats).
struct alignas(64) rules_lcore_stats {
    std::uint64_t scanned = 0;           // frames matched against a set (their class had rules)
    std::uint64_t dropped = 0;           // frames a drop rule took out of their path
    std::uint64_t alerts_queued = 0;     // alert records handed to the control thread
    std::uint64_t alerts_ring_full = 0;  // alert records lost: the ring was full
    std::uint64_t alerts_gated = 0;      // alerts over the rule's rate, held back by the worker

    static void add(std::uint64_t& field, std::uint64_t n) { single_writer_add(field, n); }
    static std::uint64_t load(const std::uint64_t& field) {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(field))
            .load(std::memory_order_relaxed);
    }
};

// One worker's part of the rule stage (null in lcore_conf when the engine has no rules file).
struct rules_lcore {
    rules_shared* shared = nullptr;
    unsigned worker_index = 0;   // qsbr thread id and index of this worker's scratch
    rte_ring* alerts = nullptr;  // single producer (this worker), single consumer (control)
    rules::rule_counters* counters = nullptr;
    rules_lcore_stats stats;
    // By slot: when the rule's next alert is due (GCRA theoretical arrival time, TSC). Only
    // this worker reads and writes it.
    std::array<std::uint64_t, rules::max_rule_slots> alert_due{};
};

// The generation to use for one burst (null: no set published).
[[gnu::always_inline]] inline rules_generation* current_rules(const rules_lcore* r) {
    return r != nullptr ? r->shared->current.load(std::memory_order_acquire) : nullptr;
}

// The rule stage over a burst: every frame whose class the generation has rules for is
// matched from its record (no parsing), counted, its alerts queued; a drop rule's frames get
// verdict drop(rule). Frames are taken class by class, so that the scans of one database
// follow each other (its tables and the scratch stay in cache): the nearest Hyperscan's block
// mode comes to one scan per database per burst (its vectored mode would join the frames into
// one stream, across which patterns would match). Returns the frames scanned.
std::uint16_t apply_rules(rules_lcore& r, rules_generation& gen, rte_mbuf* const* pkts,
                          const frame_record* records, verdict* verdicts, std::uint16_t n,
                          std::uint16_t port, unsigned lcore);

// Worker start / loop / end: register with the qsbr variable and go online; report a quiescent
// state (the worker holds no generation pointer here); go offline so reloads never wait on
// a stopped worker.
void rules_worker_online(rules_lcore& r);
[[gnu::always_inline]] inline void rules_quiescent(rules_lcore* r) {
    if (r != nullptr) {
        rte_rcu_qsbr_quiescent(r->shared->qsbr, r->worker_index);
    }
}
void rules_worker_offline(rules_lcore& r);

}  // namespace ports::pipelines
