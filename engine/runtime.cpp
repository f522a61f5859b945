#include "runtime.hpp"

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <new>
#include <thread>

#include "threads.hpp"

namespace ports::engine {

namespace {

void unsent_callback(rte_mbuf** pkts, std::uint16_t unsent, void* userdata) {
    rte_pktmbuf_free_bulk(pkts, unsent);
    pipelines::worker_stats::add(*static_cast<std::uint64_t*>(userdata), unsent);
}

// A TX buffer on the lcore's socket whose unsent frames count as its tx_dropped; `owned`
// keeps it for release().
rte_eth_dev_tx_buffer* make_tx_buffer(lcore_block& b, std::vector<void*>& owned) {
    const int socket = static_cast<int>(rte_lcore_to_socket_id(b.conf.lcore_id));
    auto* buf = static_cast<rte_eth_dev_tx_buffer*>(
        rte_zmalloc_socket("tx_buffer", RTE_ETH_TX_BUFFER_SIZE(pipelines::burst_size), 0, socket));
    if (buf == nullptr) {
        throw init_error("cannot allocate a tx buffer");
    }
    owned.push_back(buf);
    rte_eth_tx_buffer_init(buf, pipelines::burst_size);
    rte_eth_tx_buffer_set_err_callback(buf, unsent_callback, &b.stats.tx_dropped);
    return buf;
}

int launch_worker(void* arg) {
    threads::register_worker(rte_lcore_id());
    return pipelines::worker_main(arg);
}

}  // namespace

void runtime::start(const engine_config& cfg, std::vector<port_runtime> ports) {
    ports_ = std::move(ports);
    config_file_ = cfg.file;
    if (cfg.ntp.enabled) {
        service_ = std::make_unique<ntp_service>(cfg.ntp, ports_);
        if (cfg.ntp.exception_path.enabled) {
            exception_ = std::make_unique<exception_path>(cfg.ntp, ports_);
        }
        if (cfg.ntp.nts.enabled) {
            std::vector<ip_address> addresses = cfg.ntp.addresses;
            for (const auto& p : ports_) {
                if (p.serves_ntp && p.cfg.ntp_addresses) {
                    addresses.insert(addresses.end(), p.cfg.ntp_addresses->begin(),
                                     p.cfg.ntp_addresses->end());
                }
            }
            nts_ = std::make_unique<nts_service>(cfg.ntp.nts, addresses, threads::control_cpus());
            service_->enable_nts(&nts_->keys());
        }
    }
    plan_ = plan_lcores(cfg, ports_);
    pools_ = create_pools(cfg, ports_, plan_);
    for (auto& p : ports_) {
        p.symmetric_rss = cfg.tunnels.enabled && cfg.tunnels.symmetric_rss;
    }
    start_ports(ports_, plan_, pools_);
    if (exception_) {
        exception_->start(plan_);
        service_->set_exception_path(*exception_);
    }
    if (service_) {
        service_->attach_ports(ports_);
        service_->tick();
    }
    build_lcores();
    if (cfg.tunnels.enabled) {
        start_tunnels(cfg.tunnels);
    }
    if (nts_) {
        nts_->start();
    }
    if (!cfg.rules_path.empty()) {
        start_rules(cfg.rules_path, cfg.alerts_path);
    }
    log_link_status(ports_);
    for (std::size_t i = 0; i < plan_.lcores.size(); ++i) {
        spdlog::info("lcore {}: {} rx queue(s)", plan_.lcores[i], plan_.rx[i].size());
    }
}

void runtime::build_lcores() {
    for (std::size_t i = 0; i < plan_.lcores.size(); ++i) {
        const unsigned lcore = plan_.lcores[i];
        const int socket = static_cast<int>(rte_lcore_to_socket_id(lcore));
        void* mem = rte_zmalloc_socket("lcore_block", sizeof(lcore_block), 64, socket);
        if (mem == nullptr) {
            throw init_error(
                fmt::format("cannot allocate lcore {}'s state on socket {}", lcore, socket));
        }
        auto* b = new (mem) lcore_block();
        blocks_.push_back(b);
        b->conf.lcore_id = lcore;
        b->conf.counters = &b->counters;
        b->conf.stats = &b->stats;
        b->conf.mirror = &b->mirror;
        b->conf.stop = &stop_;
        b->conf.rx_count = static_cast<std::uint16_t>(plan_.rx[i].size());
        std::copy(plan_.rx[i].begin(), plan_.rx[i].end(), b->conf.rx.begin());
    }
    if (service_) {
        for (auto* b : blocks_) {
            bool serves = false;
            for (std::uint16_t q = 0; q < b->conf.rx_count; ++q) {
                b->conf.rx[q].service = service_->port(b->conf.rx[q].port);
                serves = serves || b->conf.rx[q].service != nullptr;
            }
            if (serves) {
                b->conf.service = service_->make_lcore(b->conf.lcore_id);
            }
        }
    }
    // TX queue k of a port belongs to the k-th lcore that sends to it (start_ports sized it so).
    for (const auto& p : ports_) {
        const auto senders = senders_of(p, plan_);
        for (std::size_t k = 0; k < senders.size(); ++k) {
            lcore_block* b = blocks_[static_cast<std::size_t>(
                std::find(plan_.lcores.begin(), plan_.lcores.end(), senders[k]) -
                plan_.lcores.begin())];
            b->conf.tx_buffer[p.id] = make_tx_buffer(*b, tx_buffers_);
            b->conf.tx_queue[p.id] = static_cast<std::uint16_t>(k);
        }
    }
    // Each lcore sends into the TAP queue pair it polls (exception_path::start).
    for (auto* b : blocks_) {
        for (std::uint16_t q = 0; q < b->conf.rx_count; ++q) {
            const pipelines::rx_queue_conf& rx = b->conf.rx[q];
            if (!rx.from_kernel) {
                continue;
            }
            b->conf.tx_buffer[rx.port] = make_tx_buffer(*b, tx_buffers_);
            b->conf.tx_queue[rx.port] = rx.queue;
        }
    }
}

void runtime::start_tunnels(const tunnels_config& cfg) {
    tunnels_cfg_ = cfg;
    for (auto* b : blocks_) {
        // The lcore's socket (socket_memory.hpp), allocated once here: the worker touches it on
        // every tunnel frame, and readers only when they ask for a copy.
        const int socket = static_cast<int>(rte_lcore_to_socket_id(b->conf.lcore_id));
        b->tunnel_memory.emplace(socket);
        try {
            b->tunnels = make_on_socket<pipelines::tunnel_lcore>(
                socket, cfg.entries, cfg.idle_timeout_s, &*b->tunnel_memory);
        } catch (const std::bad_alloc&) {
            throw init_error(fmt::format(
                "cannot allocate lcore {}'s tunnel table ({} entries) on socket {}: lower "
                "tunnels.entries or give EAL more memory",
                b->conf.lcore_id, cfg.entries, socket));
        }
        b->conf.tunnels = b->tunnels.get();
    }
    for (const auto& p : ports_) {
        if (p.symmetric_key) {
            spdlog::info(
                "tunnels: port '{}' hashes both directions of a flow to one queue "
                "(symmetric RSS key)",
                p.cfg.name);
        }
    }
    if (!blocks_.empty()) {
        spdlog::info("tunnels: {} entries per lcore ({:.1f} MiB each with its reader copy), "
                     "idle timeout {} s",
                     cfg.entries,
                     static_cast<double>(blocks_.front()->tunnels->table.memory_bytes() +
                                         std::size_t{cfg.entries} * sizeof(tunnels::entry)) /
                         (1024.0 * 1024.0),
                     cfg.idle_timeout_s);
    }
}

tunnel_reading runtime::read_tunnels() const {
    // A copy takes capacity / copy_step loop iterations of each worker (16384 entries: 256
    // iterations, well under a millisecond while it polls); 2 s covers a descheduled worker.
    constexpr auto patience = std::chrono::seconds(2);
    tunnel_reading r;
    if (!tunnels_cfg_.enabled) {
        return r;
    }
    r.enabled = true;
    const std::lock_guard<std::mutex> one_reader(tunnels_mutex_);
    std::vector<std::uint64_t> tickets;
    for (auto* b : blocks_) {
        tickets.push_back(b->tunnels->mirror.request());
    }
    const auto deadline = std::chrono::steady_clock::now() + patience;
    std::vector<std::span<const tunnels::entry>> lists;
    std::vector<std::vector<tunnels::entry>> idle_copies;  // tables read while not looping
    idle_copies.reserve(blocks_.size());  // spans point into them
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
        auto& t = *blocks_[i]->tunnels;
        r.capacity += t.table.capacity();
        for (;;) {
            if (t.mirror.ready(tickets[i])) {
                lists.push_back(t.mirror.entries());
                r.stats = r.stats + t.mirror.stats();
                break;
            }
            // Not looping (before launch, after stop): the table does not move.
            auto idle = pipelines::read_if_idle(blocks_[i]->mirror.phase, [&] {
                const auto slots = t.table.slots();
                return std::make_pair(std::vector<tunnels::entry>(slots.begin(), slots.end()),
                                      t.table.stats());
            });
            if (idle) {
                idle_copies.push_back(std::move(idle->first));
                lists.emplace_back(idle_copies.back().data(), idle_copies.back().size());
                r.stats = r.stats + idle->second;
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                ++r.lcores_missing;  // left out, and said so
                break;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }
    r.rows = tunnels::merge(std::span<const std::span<const tunnels::entry>>(lists));
    return r;
}

void runtime::start_rules(const std::string& path, const std::string& alerts_path) {
    std::vector<pipelines::rules_lcore*> workers;
    std::vector<rules::rule_counters*> counters;
    for (auto* b : blocks_) {
        workers.push_back(&b->rules);
        counters.push_back(&b->rule_counters);
    }
    try {
        rules_ = std::make_unique<rules_runtime>(path, std::move(workers), std::move(counters),
                                                 alerts_path);
    } catch (const std::exception& e) {
        throw init_error(e.what());
    }
    // Compiled on a control thread, as every later reload: the compile (and TBB's threads)
    // never on a worker's CPU, even at start.
    const auto r = std::async(std::launch::async, [this] {
                       threads::pin_self("pe-rules");
                       return rules_->reload();
                   }).get();
    if (!r.ok) {
        // At start a bad rules file is a bad config: the engine does not run without its rules.
        throw init_error("rules: " + r.message);
    }
    for (auto* b : blocks_) {
        b->conf.rules = &b->rules;
    }
}

void runtime::run_workers() {
    const unsigned main_lcore = rte_get_main_lcore();
    lcore_block* main_block = nullptr;
    for (auto* b : blocks_) {
        if (b->conf.lcore_id == main_lcore) {
            main_block = b;
        } else if (rte_eal_remote_launch(launch_worker, &b->conf, b->conf.lcore_id) != 0) {
            request_stop();
            rte_eal_mp_wait_lcore();
            throw init_error(fmt::format("cannot launch a worker on lcore {}", b->conf.lcore_id));
        }
    }
    launched_.store(true, std::memory_order_release);
    if (main_block != nullptr) {
        threads::register_worker(main_lcore);
        pipelines::worker_main(&main_block->conf);
    } else {
        // The main lcore polls nothing: it sleeps rather than spin in rte_eal_mp_wait_lcore on
        // a CPU the control threads may use.
        const auto running = [this, main_lcore] {
            return std::any_of(blocks_.begin(), blocks_.end(), [main_lcore](const lcore_block* b) {
                return b->conf.lcore_id != main_lcore &&
                       rte_eal_get_lcore_state(b->conf.lcore_id) == RUNNING;
            });
        };
        while (running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    rte_eal_mp_wait_lcore();
}

std::vector<const pipelines::core_counters*> runtime::counters() const {
    std::vector<const pipelines::core_counters*> out;
    for (auto* b : blocks_) {
        out.push_back(&b->counters);
    }
    return out;
}

coherent_reading runtime::read_coherent() const {
    // A worker answers within one loop iteration (a burst); 100 ms covers one descheduled
    // for a while on a busy machine, and bounds how long a walk waits for a stuck one.
    constexpr auto patience = std::chrono::milliseconds(100);
    const std::lock_guard<std::mutex> one_reader(read_mutex_);
    coherent_reading r;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
        auto* b = blocks_[i];
        auto m = pipelines::read_mirrored(b->mirror, b->counters, b->stats, deadline);
        r.lcore_ids.push_back(plan_.lcores[i]);
        r.counters.push_back(m.counters);
        r.stats.push_back(m.stats);
        if (!m.coherent) {
            ++r.incoherent;
            if (!warned_incoherent_.exchange(true)) {
                spdlog::warn("lcore {} did not copy its counters within {} ms (descheduled or "
                             "stuck): read live this time, said once",
                             plan_.lcores[i], patience.count());
            }
        }
    }
    return r;
}

std::vector<const pipelines::core_counters*> coherent_reading::counter_ptrs() const {
    std::vector<const pipelines::core_counters*> out;
    for (const auto& c : counters) {
        out.push_back(&c);
    }
    return out;
}

std::vector<lcore_figures> coherent_reading::lcores() const {
    std::vector<lcore_figures> out;
    for (std::size_t i = 0; i < lcore_ids.size(); ++i) {
        out.push_back({lcore_ids[i], &stats[i]});
    }
    return out;
}

std::vector<lcore_figures> runtime::lcores() const {
    std::vector<lcore_figures> out;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
        out.push_back({plan_.lcores[i], &blocks_[i]->stats});
    }
    return out;
}

void runtime::release() {
    if (nts_) {
        nts_->stop();
    }
    stop_ports(ports_);
    exception_.reset();  // the TAPs, after the ports that fed them
    nts_.reset();
    for (auto* b : blocks_) {
        b->conf.rules = nullptr;
    }
    rules_.reset();
    service_.reset();
    ports_.clear();
    for (void* b : tx_buffers_) {
        rte_free(b);
    }
    tx_buffers_.clear();
    for (auto* b : blocks_) {
        b->~lcore_block();
        rte_free(b);
    }
    blocks_.clear();
    for (auto* mp : pools_) {
        rte_mempool_free(mp);
    }
    pools_.clear();
}

}  // namespace ports::engine
