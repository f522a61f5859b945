// ports-engine: EAL, ports, per-lcore workers and an orderly stop.
//
// Threads: every worker lcore (the main lcore too, so `-l 0` works) runs the run-to-completion
// loop; one control thread (not an lcore) watches the signal flag, the duration and the stats
// interval and raises the stop flag. Signal handlers only set a flag.

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <new>
#include <thread>

#include "config.hpp"
#include "options.hpp"
#include "ports.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/worker.hpp"
#include "ports/telemetry/stats_json.hpp"
#include "stats.hpp"

namespace {

using namespace ports;
using namespace ports::engine;

std::atomic<bool> g_signal{false};
std::atomic<bool> g_stop{false};

void on_signal(int) { g_signal.store(true, std::memory_order_relaxed); }

// What one worker lcore owns, allocated on its NUMA socket.
struct lcore_block {
    pipelines::lcore_conf conf;
    pipelines::core_counters counters;
    pipelines::worker_stats stats;
};

struct runtime {
    engine_config cfg;
    std::vector<port_runtime> ports;
    lcore_plan plan;
    std::vector<rte_mempool*> pools;
    std::vector<lcore_block*> blocks;  // parallel to plan.lcores
    std::vector<void*> tx_buffers;

    std::vector<const pipelines::core_counters*> counters() const {
        std::vector<const pipelines::core_counters*> out;
        for (auto* b : blocks) {
            out.push_back(&b->counters);
        }
        return out;
    }

    std::vector<lcore_figures> lcores() const {
        std::vector<lcore_figures> out;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
            out.push_back({plan.lcores[i], &blocks[i]->stats});
        }
        return out;
    }

    void release() {
        stop_ports(ports);
        for (void* b : tx_buffers) {
            rte_free(b);
        }
        tx_buffers.clear();
        for (auto* b : blocks) {
            b->~lcore_block();
            rte_free(b);
        }
        blocks.clear();
        for (auto* mp : pools) {
            rte_mempool_free(mp);
        }
        pools.clear();
    }
};

void unsent_callback(rte_mbuf** pkts, std::uint16_t unsent, void* userdata) {
    rte_pktmbuf_free_bulk(pkts, unsent);
    pipelines::worker_stats::add(*static_cast<std::uint64_t*>(userdata), unsent);
}

void build_lcores(runtime& rt) {
    for (std::size_t i = 0; i < rt.plan.lcores.size(); ++i) {
        const unsigned lcore = rt.plan.lcores[i];
        const int socket = static_cast<int>(rte_lcore_to_socket_id(lcore));
        void* mem = rte_zmalloc_socket("lcore_block", sizeof(lcore_block), 64, socket);
        if (mem == nullptr) {
            throw init_error(fmt::format("cannot allocate lcore {}'s state on socket {}", lcore,
                                         socket));
        }
        auto* b = new (mem) lcore_block();
        rt.blocks.push_back(b);
        b->conf.lcore_id = lcore;
        b->conf.counters = &b->counters;
        b->conf.stats = &b->stats;
        b->conf.stop = &g_stop;
        b->conf.rx_count = static_cast<std::uint16_t>(rt.plan.rx[i].size());
        std::copy(rt.plan.rx[i].begin(), rt.plan.rx[i].end(), b->conf.rx.begin());
    }
    // TX queue k of a port belongs to the k-th lcore that sends to it.
    for (const auto& p : rt.ports) {
        std::uint16_t next_queue = 0;
        for (auto* b : rt.blocks) {
            bool sends = false;
            for (std::uint16_t q = 0; q < b->conf.rx_count; ++q) {
                sends = sends || b->conf.rx[q].peer == p.id;
            }
            if (!sends) {
                continue;
            }
            const int socket = static_cast<int>(rte_lcore_to_socket_id(b->conf.lcore_id));
            auto* buf = static_cast<rte_eth_dev_tx_buffer*>(rte_zmalloc_socket(
                "tx_buffer", RTE_ETH_TX_BUFFER_SIZE(pipelines::burst_size), 0, socket));
            if (buf == nullptr) {
                throw init_error("cannot allocate a tx buffer");
            }
            rt.tx_buffers.push_back(buf);
            rte_eth_tx_buffer_init(buf, pipelines::burst_size);
            rte_eth_tx_buffer_set_err_callback(buf, unsent_callback, &b->stats.tx_dropped);
            b->conf.tx_buffer[p.id] = buf;
            b->conf.tx_queue[p.id] = next_queue++;
        }
    }
}

int launch_worker(void* arg) { return pipelines::worker_main(arg); }

void control_loop(const runtime& rt, const app_options& opt) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto next_stats = start + std::chrono::duration<double>(opt.stats_interval_s);
    interval_meter meter(rt.ports, rt.counters());
    while (!g_stop.load(std::memory_order_relaxed)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto now = clock::now();
        if (g_signal.load(std::memory_order_relaxed)) {
            spdlog::info("signal received: stopping");
            g_stop.store(true, std::memory_order_relaxed);
        } else if (opt.duration_s &&
                   now - start >= std::chrono::duration<double>(*opt.duration_s)) {
            spdlog::info("duration of {} s reached: stopping", *opt.duration_s);
            g_stop.store(true, std::memory_order_relaxed);
        }
        if (opt.stats_interval_s > 0 && now >= next_stats) {
            spdlog::info("{}", meter.line());
            next_stats += std::chrono::duration<double>(opt.stats_interval_s);
        }
    }
}

int run(runtime& rt, const app_options& opt) {
    rt.ports = resolve_ports(rt.cfg);
    rt.plan = plan_lcores(rt.cfg, rt.ports);
    rt.pools = create_pools(rt.cfg, rt.ports, rt.plan);
    start_ports(rt.ports, rt.plan, rt.pools);
    build_lcores(rt);
    log_link_status(rt.ports);
    for (std::size_t i = 0; i < rt.plan.lcores.size(); ++i) {
        spdlog::info("lcore {}: {} rx queue(s)", rt.plan.lcores[i], rt.plan.rx[i].size());
    }

    const auto started = std::chrono::steady_clock::now();
    std::thread control([&] { control_loop(rt, opt); });
    const unsigned main_lcore = rte_get_main_lcore();
    lcore_block* main_block = nullptr;
    for (auto* b : rt.blocks) {
        if (b->conf.lcore_id == main_lcore) {
            main_block = b;
        } else {
            rte_eal_remote_launch(launch_worker, &b->conf, b->conf.lcore_id);
        }
    }
    if (main_block != nullptr) {
        pipelines::worker_main(&main_block->conf);
    }
    control.join();
    rte_eal_mp_wait_lcore();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const auto snap = snapshot_of(rt.counters());
    std::cout << telemetry::class_table(snap) << std::flush;
    if (!opt.stats_json_path.empty()) {
        auto doc = telemetry::classes_json(snap);
        doc["duration_s"] = seconds;
        doc["ports"] = ports_json(rt.ports);
        doc["lcores"] = lcores_json(rt.lcores());
        telemetry::write_file(opt.stats_json_path, doc.dump(2) + "\n");
        spdlog::info("statistics written to {}", opt.stats_json_path);
    }
    return 0;
}

std::shared_ptr<spdlog::logger> make_logger() {
    auto logger = spdlog::stderr_color_mt("ports-engine");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    return logger;
}

}  // namespace

int main(int argc, char** argv) {
    spdlog::set_default_logger(make_logger());

    int split = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") {
            split = i;
            break;
        }
    }
    app_options opt;
    try {
        opt = parse_app_options(std::vector<std::string>(argv + std::min(split + 1, argc), argv + argc));
    } catch (const usage_error& e) {
        std::cerr << "ports-engine: " << e.what() << "\n" << usage_text();
        return 2;
    }
    if (opt.help) {
        std::cout << usage_text();
        return 0;
    }

    runtime rt;
    if (!opt.config_path.empty()) {
        try {
            rt.cfg = load_config(opt.config_path);
        } catch (const config_error& e) {
            spdlog::error("config: {}", e.what());
            return 1;
        }
    }

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    // EAL sees only its own arguments (argv[0] and up to "--").
    if (rte_eal_init(split, argv) < 0) {
        spdlog::error("EAL initialisation failed: {}", rte_strerror(rte_errno));
        return 1;
    }

    int rc = 0;
    try {
        rc = run(rt, opt);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        g_stop.store(true, std::memory_order_relaxed);
        rte_eal_mp_wait_lcore();
        rc = 1;
    }
    rt.release();
    rte_eal_cleanup();
    if (rc == 0) {
        spdlog::info("stopped cleanly");
    }
    return rc;
}
