// What a running engine owns between EAL init and cleanup: ports, pools, per-lcore state and
// the stop flag, released in order (ports stopped and closed before their pools are freed).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "config.hpp"
#include "exception_path.hpp"
#include "ntp_service.hpp"
#include "nts_service.hpp"
#include "ports.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/rules_stage.hpp"
#include "ports/pipelines/tunnel_stage.hpp"
#include "ports/pipelines/worker.hpp"
#include "rules_runtime.hpp"
#include "socket_memory.hpp"
#include "stats.hpp"

namespace ports::engine {

// One worker lcore's state, allocated on its NUMA socket.
struct lcore_block {
    pipelines::lcore_conf conf;
    pipelines::core_counters counters;
    pipelines::worker_stats stats;
    pipelines::counter_mirror<pipelines::worker_stats> mirror;  // coherent copies for readers
    pipelines::rules_lcore rules;        // used when the engine has a rules file
    rules::rule_counters rule_counters;  // per-rule matches of this core, by slot
    // With a tunnels: section: the table and its reader copy, on the lcore's socket (the
    // resource first: it outlives what it allocated).
    std::optional<socket_memory_resource> tunnel_memory;
    socket_ptr<pipelines::tunnel_lcore> tunnels;
};

// Every lcore's tunnel table, merged (tunnels::merge): the objects and the tables' figures.
struct tunnel_reading {
    bool enabled = false;
    std::vector<tunnels::row> rows;
    tunnels::table_stats stats;
    std::uint64_t capacity = 0;      // entries over all lcores
    std::size_t lcores_missing = 0;  // workers that did not copy their table in time
};

// Every worker's counters and loop figures, each lcore's copied between two of its loop
// iterations (counter_mirror.hpp): the relations between counters hold in it.
struct coherent_reading {
    std::vector<unsigned> lcore_ids;
    std::vector<pipelines::core_counters> counters;  // parallel to lcore_ids
    std::vector<pipelines::worker_stats> stats;
    std::size_t incoherent = 0;  // lcores that did not answer in time: read live

    // Pointers into this reading: valid while it lives.
    std::vector<const pipelines::core_counters*> counter_ptrs() const;
    std::vector<lcore_figures> lcores() const;
};

class runtime {
  public:
    runtime() = default;
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    ~runtime() { release(); }

    // Plans lcores, creates pools, starts the ports and builds every lcore's conf. Throws
    // init_error.
    void start(const engine_config& cfg, std::vector<port_runtime> ports);

    // Runs every planned worker (the main lcore's on the calling thread) until stop is set.
    void run_workers();

    // True once every worker lcore was launched (the main lcore's starts right after): what
    // systemd's READY=1 waits for.
    bool workers_launched() const { return launched_.load(std::memory_order_acquire); }

    void request_stop() { stop_.store(true, std::memory_order_relaxed); }
    bool stopping() const { return stop_.load(std::memory_order_relaxed); }

    // Live counters, each loaded on its own (a frame being counted may show in some of its
    // counters and not yet in others): for one counter at a time, or once workers stopped.
    std::vector<const pipelines::core_counters*> counters() const;
    // One coherent reading of every lcore (waits a loop iteration of each worker; control
    // threads only, never a worker). What the MIB's walks and telemetry's tables read.
    coherent_reading read_coherent() const;
    // The tunnel tables, each copied by its worker between loop iterations (a table_mirror
    // pass) or read directly when the worker is not looping. Control threads only.
    tunnel_reading read_tunnels() const;
    const tunnels_config& tunnels() const { return tunnels_cfg_; }
    // Null without an ntp: section.
    ntp_service* service() { return service_.get(); }
    std::vector<lcore_figures> lcores() const;
    const std::vector<port_runtime>& ports() const { return ports_; }
    const std::vector<lcore_block*>& blocks() const { return blocks_; }
    // Null without a rules: key.
    rules_runtime* rules() { return rules_.get(); }
    // Null without ntp.nts.
    nts_service* nts() { return nts_.get(); }
    const exception_path* exceptions() const { return exception_.get(); }
    // The reload entry point for SIGHUP and the telemetry command: the control loop reloads
    // (rules()->poll()); rules()->last_reload() says how it went. False without a rules file.
    bool request_rules_reload() {
        if (!rules_) {
            return false;
        }
        rules_->request_reload();
        return true;
    }

    // NTP keys and access list, re-read from the config file the engine started with (SIGHUP,
    // /ports_engine/ntp_reload); synchronous, on the caller's thread (never a worker's).
    // Without an ntp: section: not ok, nothing done.
    ntp_reload_result reload_ntp() {
        if (!service_) {
            return {false, "no ntp: section: nothing to reload"};
        }
        return service_->reload_from(config_file_);
    }

    void release();

  private:
    void build_lcores();
    void start_rules(const std::string& path, const std::string& alerts_path);
    void start_tunnels(const tunnels_config& cfg);

    std::string config_file_;  // what reload_ntp() reads again; empty: the running config
    std::atomic<bool> stop_{false};
    std::atomic<bool> launched_{false};
    std::vector<port_runtime> ports_;
    lcore_plan plan_;
    std::vector<rte_mempool*> pools_;
    std::vector<lcore_block*> blocks_;  // parallel to plan_.lcores
    mutable std::mutex read_mutex_;     // one coherent reading in flight (readers only)
    mutable std::atomic<bool> warned_incoherent_{false};
    tunnels_config tunnels_cfg_;       // enabled: every block has its tunnel table
    mutable std::mutex tunnels_mutex_;  // one tunnel reading in flight
    std::vector<void*> tx_buffers_;
    std::unique_ptr<ntp_service> service_;
    std::unique_ptr<exception_path> exception_;
    std::unique_ptr<nts_service> nts_;
    std::unique_ptr<rules_runtime> rules_;
};

}  // namespace ports::engine
