// ports-engine: EAL, ports, per-lcore workers and an orderly stop.
//
// Threads: every worker lcore (the main lcore too, so `-l 0` works) runs the run-to-completion
// loop; one control thread (not an lcore) watches the signal flag, the duration and the stats
// interval and raises the stop flag. Signal handlers only set a flag. Every thread that is not
// a worker runs on CPUs no worker uses (threads.hpp).

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "capture.hpp"
#include "check_config.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "options.hpp"
#include "ports.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/worker.hpp"
#include "ports/telemetry/snmp_agent.hpp"
#include "ports/telemetry/stats_json.hpp"
#include "runtime.hpp"
#include "service_notify.hpp"
#include "snmp_source.hpp"
#include "stats.hpp"
#include "threads.hpp"

namespace {

using namespace ports;
using namespace ports::engine;

std::atomic<bool> g_signal{false};

void on_signal(int) {
    g_signal.store(true, std::memory_order_relaxed);
}

// SIGHUP: reload the rules file (the control loop does it).
std::atomic<bool> g_reload{false};

void on_reload_signal(int) {
    g_reload.store(true, std::memory_order_relaxed);
}

void control_loop(runtime& rt, const app_options& opt) {
    threads::pin_self("pe-control");
    using clock = std::chrono::steady_clock;
    bool threads_logged = false;
    const auto start = clock::now();
    auto next_stats = start + std::chrono::duration<double>(opt.stats_interval_s);
    auto next_tick = start + std::chrono::seconds(1);
    auto next_sweep = start + std::chrono::seconds(1);
    interval_meter meter(rt.ports(), rt.counters(),
                         rt.service() != nullptr
                             ? rt.service()->counters()
                             : std::vector<const pipelines::server_counters*>{});
    service_notifier systemd;
    while (!rt.stopping()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto now = clock::now();
        if (rt.workers_launched()) {
            systemd.ready(fmt::format("{} port(s), {} lcore(s) running", rt.ports().size(),
                                      rt.blocks().size()));
        }
        systemd.tick(now);
        if (g_signal.load(std::memory_order_relaxed)) {
            spdlog::info("signal received: stopping");
            rt.request_stop();
        } else if (opt.duration_s &&
                   now - start >= std::chrono::duration<double>(*opt.duration_s)) {
            spdlog::info("duration of {} s reached: stopping", *opt.duration_s);
            rt.request_stop();
        }
        if (g_reload.exchange(false, std::memory_order_relaxed)) {
            // SIGHUP reloads what can change under a running engine: rules, NTP keys and
            // access list (from the config file), NTS master keys.
            const bool rules = rt.request_rules_reload();
            if (rt.service() != nullptr) {
                rt.reload_ntp();  // logs its outcome (ntp: reloaded / reload refused)
            }
            if (rt.nts() != nullptr) {
                const auto r = rt.nts()->reload_keys();
                if (r.ok) {
                    spdlog::info("SIGHUP: nts: {}", r.message);
                } else {
                    spdlog::warn("SIGHUP: nts: {}", r.message);
                }
            } else if (!rules && rt.service() == nullptr) {
                spdlog::warn("SIGHUP: no rules file nor NTP service configured, nothing to reload");
            }
        }
        if (rt.rules() != nullptr) {
            rt.rules()->poll();  // starts / reaps a requested reload, writes alerts
        }
        if (!threads_logged && threads::workers_registered() >= rt.blocks().size()) {
            // Every worker knows its thread now: EAL's own threads off the worker CPUs, then
            // the whole list once.
            threads::sweep();
            threads::log_threads();
            threads_logged = true;
        }
        if (threads_logged && now >= next_sweep) {
            threads::sweep();  // a thread a library started since (a telemetry client's)
            next_sweep += std::chrono::seconds(1);
        }
        if (rt.service() != nullptr && now >= next_tick) {
            rt.service()->tick();
            if (rt.nts() != nullptr) {
                rt.nts()->tick();
            }
            next_tick += std::chrono::seconds(1);
        }
        if (opt.stats_interval_s > 0 && now >= next_stats) {
            spdlog::info("{}", meter.line());
            next_stats += std::chrono::duration<double>(opt.stats_interval_s);
        }
    }
    systemd.stopping();
}

int run(runtime& rt, const engine_config& cfg, const app_options& opt) {
    auto ports = resolve_ports(cfg);
    threads::place(plan_lcores(cfg, ports).lcores);  // before any thread of the engine starts
    rt.start(cfg, std::move(ports));
    std::vector<const std::uint64_t*> loops;
    for (const auto* b : rt.blocks()) {
        loops.push_back(&b->stats.loops);
    }
    const capture_watch watch(std::move(loops));  // a dumpcap's stop waits for the workers
    const published_commands commands(rt);
    const auto started = std::chrono::steady_clock::now();
    // The SNMP subagent (snmp: section) on its own thread; stopped (portsEngineStopping sent)
    // when the workers are done, before the runtime is released.
    std::unique_ptr<snmp_source> snmp_src;
    std::unique_ptr<telemetry::snmp_agent> snmp;
    if (cfg.snmp.enabled) {
        snmp_source::rules_source rows;
        if (rt.rules() != nullptr) {
            rows = [rules = rt.rules()] { return rule_rows(*rules); };
        }
        snmp_src = std::make_unique<snmp_source>(rt, cfg.snmp, PORTS_ENGINE_VERSION, rows);
        telemetry::snmp_agent_options o;
        o.agentx_socket = cfg.snmp.agentx_socket;
        o.ping_interval = std::chrono::seconds(cfg.snmp.ping_interval_s);
        o.start_stop_traps = cfg.snmp.trap_start_stop;
        o.cpus = threads::control_cpus();
        snmp = std::make_unique<telemetry::snmp_agent>(
            o, [src = snmp_src.get()] { return src->snapshot(); },
            [src = snmp_src.get()] { return src->watch(); });
        snmp->start();
        if (rt.rules() != nullptr) {
            // Alerts let through the rule's rate limit also go out as portsEngineRuleAlert
            // (control thread; the agent queues them for its own thread).
            rt.rules()->alert_notifier = [agent = snmp.get(), rules = rt.rules()](
                                             const ports::rules::rule& r, std::uint64_t matches) {
                agent->post_rule_alert(
                    {r.id, r.name, r.cls,
                     std::string(ports::rules::action_names[static_cast<std::size_t>(r.act)]),
                     matches},
                    rule_row_index(*rules, r.id));
            };
        }
    }
    std::thread control([&] { control_loop(rt, opt); });
    try {
        rt.run_workers();
    } catch (...) {
        rt.request_stop();
        control.join();
        throw;
    }
    control.join();
    if (rt.rules() != nullptr) {
        rt.rules()->finish();
        rt.rules()->drain_alerts();  // what the workers queued before they stopped
    }
    if (snmp) {
        snmp->stop();
        if (rt.rules() != nullptr) {
            rt.rules()->alert_notifier = nullptr;  // the agent goes with this scope
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const auto snap = snapshot_of(rt.counters());
    std::cout << telemetry::class_table(snap);
    if (rt.service() != nullptr) {
        const auto server = server_json(rt.service()->counters());
        std::cout << fmt::format(
            "ntp service: {} requests, {} replies ({} authenticated, {} crypto-NAK), {} rate "
            "limited, {} KoD; arp {} nd {} echo {}\n",
            server["requests"].get<std::uint64_t>(), server["replies"].get<std::uint64_t>(),
            server["auth_ok"].get<std::uint64_t>(), server["crypto_nak"].get<std::uint64_t>(),
            server["rate_limited"].get<std::uint64_t>(), server["kod_sent"].get<std::uint64_t>(),
            server["arp_replies"].get<std::uint64_t>(), server["nd_adverts"].get<std::uint64_t>(),
            server["icmp_echo_replies"].get<std::uint64_t>() +
                server["icmp6_echo_replies"].get<std::uint64_t>());
        if (rt.nts() != nullptr) {
            const auto nts = rt.nts()->json();
            std::cout << fmt::format(
                "nts: {} requests, {} replies, {} NTSN, {} auth failed, {} cookies issued; "
                "NTS-KE {} sessions, {} failed handshakes, {} bad requests\n",
                server["nts_requests"].get<std::uint64_t>(), server["nts_replies"].get<std::uint64_t>(),
                server["nts_naks"].get<std::uint64_t>(), server["nts_auth_failed"].get<std::uint64_t>(),
                server["nts_cookies_issued"].get<std::uint64_t>(),
                nts["ke"]["sessions_ok"].get<std::uint64_t>(),
                nts["ke"]["tls_failed"].get<std::uint64_t>(),
                nts["ke"]["bad_request"].get<std::uint64_t>());
        }
        if (rt.exceptions() != nullptr) {
            std::cout << fmt::format("exception path: {} frames to the kernel, {} from it, {} over "
                                     "its rate\n",
                                     server["exception_to_kernel"].get<std::uint64_t>(),
                                     server["exception_from_kernel"].get<std::uint64_t>(),
                                     server["exception_rate_dropped"].get<std::uint64_t>());
        }
    }
    if (rt.rules() != nullptr) {
        std::cout << rt.rules()->summary_line() << "\n";
    }
    // Workers stopped: each table is read as it is.
    const tunnel_reading tunnels = rt.read_tunnels();
    if (tunnels.enabled) {
        std::size_t calls = 0;
        std::size_t l2tp = 0;
        std::size_t gre = 0;
        for (const auto& r : tunnels.rows) {
            calls += r.e.k == ports::tunnels::kind::pptp_call;
            l2tp += r.e.k == ports::tunnels::kind::l2tp_tunnel;
            gre += r.e.k == ports::tunnels::kind::gre_tunnel;
        }
        std::cout << fmt::format(
            "tunnels: {} objects ({} PPTP calls, {} L2TP tunnels, {} GRE tunnels) from {} "
            "frames; {} frames found the table full\n",
            tunnels.rows.size(), calls, l2tp, gre, tunnels.stats.frames, tunnels.stats.table_full);
    }
    std::cout << std::flush;
    if (!opt.stats_json_path.empty()) {
        auto doc = telemetry::classes_json(snap);
        doc["duration_s"] = seconds;
        doc["ports"] = ports_json(rt.ports(), rt.lcores(), rt.service());
        doc["lcores"] = lcores_json(rt.lcores());
        doc["threads"] = threads::json();
        if (rt.service() != nullptr) {
            doc["ntp_server"] = server_json(rt.service()->counters());
            doc["ntp_reload"] = rt.service()->reload_json();
        }
        if (rt.nts() != nullptr) {
            doc["nts"] = rt.nts()->json();
        }
        if (rt.rules() != nullptr) {
            doc["rules"] = rt.rules()->rules_json();
            doc["rule_engine"] = rt.rules()->engine_json();
        }
        if (tunnels.enabled) {
            doc["tunnels"] = telemetry::tunnels_json(tunnels.rows, tunnels.stats, tunnels.capacity);
        }
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
    spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug: the debug lines (threads, ...)

    int split = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") {
            split = i;
            break;
        }
    }
    std::vector<std::string> app_args(argv + std::min(split + 1, argc), argv + argc);
    if (split == argc && standalone_only(std::vector<std::string>(argv + 1, argv + argc))) {
        app_args.assign(argv + 1, argv + argc);  // `ports-engine --check-config FILE`: no EAL
    }
    app_options opt;
    try {
        opt = parse_app_options(app_args);
    } catch (const usage_error& e) {
        std::cerr << "ports-engine: " << e.what() << "\n" << usage_text();
        return 2;
    }
    if (opt.help) {
        std::cout << usage_text();
        return 0;
    }
    if (opt.version) {
        std::cout << "ports-engine " << PORTS_ENGINE_VERSION << "\n";
        return 0;
    }
    if (!opt.check_config_path.empty()) {
        // Before EAL: nothing here touches hugepages or devices (the unit's ExecStartPre).
        try {
            const auto checked = check_config(opt.check_config_path);
            if (opt.list_pci) {
                for (const auto& d : pci_devices(checked)) {
                    std::cout << d << "\n";
                }
            } else {
                std::cout << check_summary(checked) << "\n";
            }
        } catch (const config_error& e) {
            spdlog::error("config: {}", e.what());
            return 1;
        }
        return 0;
    }

    engine_config cfg;
    capture_plan capture;
    try {
        if (!opt.config_path.empty()) {
            cfg = load_config(opt.config_path);
            check_config_files(cfg);  // before EAL touches a device
        }
        capture = plan_capture(cfg, eal_sharing_of({argv + 1, argv + split}));
    } catch (const config_error& e) {
        spdlog::error("config: {}", e.what());
        return 1;
    }
    if (!opt.alerts_path.empty()) {
        if (cfg.rules_path.empty()) {
            spdlog::error("--alerts {}: no rules configured, so nothing would be written there",
                          opt.alerts_path);
            return 2;
        }
        cfg.alerts_path = opt.alerts_path;
    }

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_reload_signal);

    threads::note_process_cpus();  // EAL pins this thread to the main lcore
    // EAL sees only its own arguments (argv[0] and up to "--").
    if (rte_eal_init(split, argv) < 0) {
        spdlog::error("EAL initialisation failed: {}", rte_strerror(rte_errno));
        return 1;
    }

    std::optional<capture_server> pdump;
    if (capture.enable) {
        try {
            pdump.emplace();
            for (const auto& w : capture_warnings(cfg)) {
                spdlog::warn("{}", w);
            }
        } catch (const init_error& e) {
            if (cfg.capture == capture_mode::on) {
                spdlog::error("{}", e.what());
                rte_eal_cleanup();
                return 1;
            }
            spdlog::warn("{}; running without it", e.what());
        }
    } else {
        spdlog::info("capture: off, dpdk-dumpcap cannot attach: {}", capture.why);
    }

    int rc = 0;
    {
        runtime rt;
        try {
            rc = run(rt, cfg, opt);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            rt.request_stop();
            rte_eal_mp_wait_lcore();
            rc = 1;
        }
    }
    pdump.reset();  // after the ports stopped, before EAL goes
    rte_eal_cleanup();
    if (rc == 0) {
        spdlog::info("stopped cleanly");
    }
    return rc;
}
