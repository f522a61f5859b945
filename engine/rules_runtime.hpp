// The control side of the rule stage: loads and compiles rules files, publishes each compiled
// set to the workers with RCU and frees the one it replaces when every worker has passed,
// drains the workers' alert rings into an asynchronous logger (rate limited per rule), and
// reads the per-rule counters for the outputs. Workers never wait on any of it.
//
// Reload (reload(), on whichever control-side thread calls it; reloads are serialized):
//   1. load + compile the file (rules_error: the running set stays, the result says why);
//   2. one new Hyperscan scratch per worker for the new set (the workers keep scanning with
//      their old scratch, which belongs to the old generation: no scratch in use is resized);
//   3. store the new generation's pointer (release), start a qsbr grace period and wait until
//      every online worker reported quiescent state (rte_rcu_qsbr_check, polled with sleeps);
//   4. free the old generation (set and scratches).
// Counters live by slot outside the sets (slot_map): a rule kept by id keeps counting.
#pragma once

#include <spdlog/async_logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <string>
#include <unordered_map>
#include <vector>

#include "ports/pipelines/rules_stage.hpp"
#include "ports/rules/rules.hpp"

namespace ports::engine {

struct reload_result {
    bool ok = false;
    std::string path;
    std::string message;  // why it failed, or "N rules" on success
    std::size_t rules = 0;
    double compile_ms = 0;         // load + compile + scratches
    double grace_ms = 0;           // publication to the last worker's quiescent state
    std::uint64_t generation = 0;  // the generation running after this reload
};

struct rules_figures {
    std::uint64_t scanned = 0;
    std::uint64_t dropped = 0;
    std::uint64_t alerts_queued = 0;
    std::uint64_t alerts_ring_full = 0;
    std::uint64_t alerts_emitted = 0;
    std::uint64_t alerts_suppressed = 0;  // over the rule's alert rate, at the control thread
    std::uint64_t alerts_gated = 0;       // over the rule's alert rate, at the worker
    std::uint64_t reloads_ok = 0;
    std::uint64_t reloads_failed = 0;
};

class rules_runtime {
  public:
    // Alerts per second of a rule whose file sets none.
    static constexpr std::uint32_t default_alerts_per_second = 10;
    // Records per worker ring (a power of two); a full ring loses records, counted.
    static constexpr unsigned alert_ring_size = 4096;

    // path: the configured rules file. workers: every worker's rules_lcore (in its lcore
    // block, with its rule_counters); their index is their qsbr thread id. alerts_path: the
    // file alert lines are appended to; empty: the engine's log.
    rules_runtime(std::string path, std::vector<pipelines::rules_lcore*> workers,
                  std::vector<rules::rule_counters*> counters, const std::string& alerts_path = {});
    ~rules_runtime();
    rules_runtime(const rules_runtime&) = delete;
    rules_runtime& operator=(const rules_runtime&) = delete;

    // Loads, compiles and publishes `path` (the configured file when empty); blocks the caller
    // (never a worker) until the old set is freed. Failure leaves the running set in place.
    reload_result reload(const std::string& path = {});

    // Control loop side: a reload requested (SIGHUP, telemetry) runs on a thread of its own so
    // the control loop keeps ticking through a long compile; poll() starts and reaps it and
    // drains the alert rings.
    void request_reload() { reload_requested_.store(true, std::memory_order_relaxed); }
    void poll();
    // Waits for a reload in flight (stop).
    void finish();

    // Writes one log line per alert record (rate limited per rule) and calls alert_notifier.
    // Returns the records read.
    std::size_t drain_alerts();

    reload_result last_reload() const;
    rules_figures figures() const;
    // "rules": {"<id>": {"matches": N, "name": ..., "action": ...}} of the running set.
    nlohmann::ordered_json rules_json() const;
    // Figures of the stage: drops, alerts, reloads.
    nlohmann::ordered_json engine_json() const;
    // One line for the exit summary.
    std::string summary_line() const;
    // Sum over workers of a slot's matches.
    std::uint64_t matches(std::uint32_t slot) const;
    // The running set (null before the first successful reload).
    std::shared_ptr<const rules::rule_set> current_set() const;

    // Called on the control thread for every alert let through the rate limit (the SNMP
    // agent's rule-alert trap); empty by default. matches: the rule's total so far.
    std::function<void(const rules::rule&, std::uint64_t matches)> alert_notifier;

  private:
    struct rule_info {
        rules::rule rule;
        double tokens = 0;
        std::chrono::steady_clock::time_point refilled{};
        bool known = false;
    };

    void publish(std::unique_ptr<pipelines::rules_generation> next);

    std::string path_;
    std::vector<pipelines::rules_lcore*> workers_;
    std::vector<rules::rule_counters*> counters_;
    pipelines::rules_shared shared_;
    void* qsbr_mem_ = nullptr;
    std::vector<rte_ring*> rings_;

    std::mutex reload_mu_;   // one reload at a time
    rules::slot_map slots_;  // written by compile() under reload_mu_
    mutable std::mutex mu_;  // what follows: read by the control thread, written by reloads
    std::unique_ptr<pipelines::rules_generation> current_;
    std::unordered_map<std::uint32_t, rule_info> info_;  // by slot; kept when a rule goes away
    reload_result last_;
    std::uint64_t reloads_ok_ = 0;
    std::uint64_t reloads_failed_ = 0;
    std::uint64_t generation_ = 0;

    std::atomic<bool> reload_requested_{false};
    std::future<reload_result> in_flight_;

    // The logger holds its thread pool weakly: the pool lives here, past the logger's flush.
    std::shared_ptr<spdlog::details::thread_pool> alert_pool_;
    std::shared_ptr<spdlog::async_logger> alert_log_;
    std::atomic<std::uint64_t> alerts_emitted_{0};  // written by the draining thread only
    std::atomic<std::uint64_t> alerts_suppressed_{0};
    std::uint64_t tsc_hz_ = 0;
};

}  // namespace ports::engine
