#include "rules_runtime.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/fmt/chrono.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <array>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <utility>

#include "stats.hpp"
#include "threads.hpp"

namespace ports::engine {

namespace {

using steady = std::chrono::steady_clock;

double ms_since(steady::time_point t) {
    return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

std::string address_text(std::uint8_t version, const std::array<std::uint8_t, 16>& a) {
    if (version == 4) {
        return fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
    }
    std::string s;
    for (int i = 0; i < 16; i += 2) {
        s += fmt::format("{}{:x}", i == 0 ? "" : ":", a[i] << 8 | a[i + 1]);
    }
    return s;
}

std::string quote_text(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

rules_runtime::rules_runtime(std::string path, std::vector<pipelines::rules_lcore*> workers,
                             std::vector<rules::rule_counters*> counters,
                             const std::string& alerts_path)
    : path_(std::move(path)),
      workers_(std::move(workers)),
      counters_(std::move(counters)),
      tsc_hz_(rte_get_tsc_hz()) {
    // Alert lines go where the engine's log goes, or to a file of their own (opened first: one
    // that cannot be opened refuses the start before anything is allocated here).
    std::vector<spdlog::sink_ptr> sinks;
    if (alerts_path.empty()) {
        sinks = spdlog::default_logger()->sinks();
    } else {
        try {
            // Appended, as a log is: a restart adds to what an operator's tools already read.
            auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(alerts_path, false);
            // One alert a line, timestamped; no level (every line is an alert).
            file->set_pattern("%Y-%m-%dT%H:%M:%S.%e %v");
            sinks.push_back(std::move(file));
        } catch (const spdlog::spdlog_ex& e) {
            throw std::runtime_error(fmt::format("alerts {}: {}", alerts_path, e.what()));
        }
    }
    const auto n = static_cast<std::uint32_t>(std::max<std::size_t>(workers_.size(), 1));
    const std::size_t size = rte_rcu_qsbr_get_memsize(n);
    qsbr_mem_ = rte_zmalloc("rules_qsbr", size, RTE_CACHE_LINE_SIZE);
    if (qsbr_mem_ == nullptr) {
        throw std::runtime_error("rules: cannot allocate the RCU variable");
    }
    shared_.qsbr = static_cast<rte_rcu_qsbr*>(qsbr_mem_);
    if (rte_rcu_qsbr_init(shared_.qsbr, n) != 0) {
        throw std::runtime_error("rules: cannot initialise the RCU variable");
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        auto* w = workers_[i];
        const std::string name = fmt::format("alerts_{}_{}", i, static_cast<const void*>(this));
        rte_ring* ring = rte_ring_create_elem(
            name.substr(0, RTE_RING_NAMESIZE - 1).c_str(), sizeof(pipelines::alert_record),
            alert_ring_size, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (ring == nullptr) {
            throw std::runtime_error(
                fmt::format("rules: cannot create an alert ring: {}", rte_strerror(rte_errno)));
        }
        rings_.push_back(ring);
        w->shared = &shared_;
        w->worker_index = static_cast<unsigned>(i);
        w->alerts = ring;
        w->counters = counters_[i];
    }
    // Written by a thread of their own: a burst of alerts never stalls the control loop (stats,
    // NTP clock ticks).
    auto pool = std::make_shared<spdlog::details::thread_pool>(
        8192, 1, [] { threads::pin_self("pe-alerts"); });
    alert_log_ = std::make_shared<spdlog::async_logger>(
        "alerts", sinks.begin(), sinks.end(), pool, spdlog::async_overflow_policy::overrun_oldest);
    alert_pool_ = pool;
}

rules_runtime::~rules_runtime() {
    finish();
    drain_alerts();
    if (alert_log_) {
        alert_log_->flush();
    }
    alert_log_.reset();
    alert_pool_.reset();  // joins the logger's thread once every message is written
    shared_.current.store(nullptr, std::memory_order_relaxed);
    current_.reset();
    for (auto* w : workers_) {
        w->shared = nullptr;
        w->alerts = nullptr;
    }
    for (auto* r : rings_) {
        rte_ring_free(r);
    }
    rte_free(qsbr_mem_);
}

reload_result rules_runtime::reload(const std::string& path_arg) {
    std::lock_guard reload_guard(reload_mu_);
    reload_result r;
    r.path = path_arg.empty() ? path_ : path_arg;
    const auto t0 = steady::now();
    auto next = std::make_unique<pipelines::rules_generation>();
    try {
        auto file = rules::load_rule_file(r.path);
        // In the engine's TBB arena: the parallel compile's threads on the control CPUs.
        threads::in_control_arena(
            [&] { next->set = rules::rule_set::compile(std::move(file), slots_); });
        // One scratch per worker, new: the workers' current scratches belong to the running
        // generation and are freed with it.
        rules::scratch prototype(*next->set);
        next->scratches.reserve(workers_.size());
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            next->scratches.push_back(prototype ? prototype.clone() : rules::scratch{});
        }
        next->alert_limits.reserve(next->set->size());
        for (std::size_t i = 0; i < next->set->size(); ++i) {
            const std::uint32_t rate = next->set->at(i).alert_per_second != 0
                                           ? next->set->at(i).alert_per_second
                                           : default_alerts_per_second;
            const std::uint64_t interval = std::max<std::uint64_t>(tsc_hz_ / rate, 1);
            next->alert_limits.push_back({interval, (rate - 1) * interval});
        }
        for (std::size_t c = 0; c < pipelines::class_count; ++c) {
            if (next->set->has_rules_for(static_cast<pipelines::traffic_class>(c))) {
                next->class_mask |= 1u << c;
            }
        }
    } catch (const std::exception& e) {
        r.ok = false;
        r.message = e.what();
        r.compile_ms = ms_since(t0);
        std::lock_guard g(mu_);
        ++reloads_failed_;
        r.generation = generation_;
        r.rules = current_ ? current_->set->size() : 0;
        spdlog::error("rules: {} not loaded, the running set stays ({} rules, generation {}): {}",
                      r.path, r.rules, r.generation, r.message);
        last_ = r;
        return r;
    }
    r.compile_ms = ms_since(t0);
    r.rules = next->set->size();
    const auto t1 = steady::now();
    std::unique_ptr<pipelines::rules_generation> old;
    {
        std::lock_guard g(mu_);
        next->number = ++generation_;
        r.generation = next->number;
        const auto& set = *next->set;
        for (std::size_t i = 0; i < set.size(); ++i) {
            auto& info = info_[set.slot(i)];
            if (!info.known || info.rule.alert_per_second != set.at(i).alert_per_second) {
                info.tokens = set.at(i).alert_per_second != 0 ? set.at(i).alert_per_second
                                                              : default_alerts_per_second;
                info.refilled = steady::now();
            }
            info.rule = set.at(i);
            info.known = true;
        }
        old = std::move(current_);
        current_ = std::move(next);
        // Release: the generation is whole before a worker can see its address.
        shared_.current.store(current_.get(), std::memory_order_release);
    }
    // Grace period: every online worker reports quiescent state once per loop iteration, and
    // holds no generation there; an offline (stopped) worker is not waited for.
    const std::uint64_t token = rte_rcu_qsbr_start(shared_.qsbr);
    while (rte_rcu_qsbr_check(shared_.qsbr, token, false) == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    old.reset();
    r.grace_ms = ms_since(t1);
    r.ok = true;
    r.message = fmt::format("{} rules", r.rules);
    spdlog::info(
        "rules: {} loaded: {} rules, {} Hyperscan databases ({} KiB), generation {}; compiled "
        "in {:.1f} ms, previous set freed {:.3f} ms after publication",
        r.path, r.rules, current_set()->database_count(), current_set()->database_bytes() / 1024,
        r.generation, r.compile_ms, r.grace_ms);
    std::lock_guard g(mu_);
    ++reloads_ok_;
    last_ = r;
    return r;
}

void rules_runtime::poll() {
    if (in_flight_.valid() &&
        in_flight_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        in_flight_.get();  // the result is in last_ and the log already
    }
    if (!in_flight_.valid() && reload_requested_.exchange(false, std::memory_order_relaxed)) {
        spdlog::info("rules: reloading {}", path_);
        in_flight_ = std::async(std::launch::async, [this] {
            threads::pin_self("pe-rules");
            return reload();
        });
    }
    drain_alerts();
}

void rules_runtime::finish() {
    if (in_flight_.valid()) {
        in_flight_.get();
    }
}

std::size_t rules_runtime::drain_alerts() {
    std::array<pipelines::alert_record, 64> batch;
    std::size_t total = 0;
    const auto now = steady::now();
    const auto wall_now = std::chrono::system_clock::now();
    const std::uint64_t tsc_now = rte_rdtsc();
    // The notifier runs after the lock is released: it may read this object (rules_json...).
    std::vector<std::pair<rules::rule, std::uint64_t>> notify;
    std::unique_lock g(mu_);
    for (auto* ring : rings_) {
        // Bounded per call: the control loop comes back within its period.
        for (int rounds = 0; rounds < 64; ++rounds) {
            const unsigned n = rte_ring_sc_dequeue_burst_elem(
                ring, batch.data(), sizeof(pipelines::alert_record), batch.size(), nullptr);
            for (unsigned k = 0; k < n; ++k) {
                const auto& a = batch[k];
                auto it = info_.find(a.slot);
                if (it == info_.end()) {
                    continue;  // cannot happen: a slot is known before any worker sees it
                }
                rule_info& info = it->second;
                const double rate = info.rule.alert_per_second != 0 ? info.rule.alert_per_second
                                                                    : default_alerts_per_second;
                info.tokens = std::min(
                    rate, info.tokens +
                              rate * std::chrono::duration<double>(now - info.refilled).count());
                info.refilled = now;
                if (info.tokens < 1.0) {
                    alerts_suppressed_.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                info.tokens -= 1.0;
                alerts_emitted_.fetch_add(1, std::memory_order_relaxed);
                const std::uint64_t total_matches = matches(a.slot);
                const auto age = std::chrono::nanoseconds(
                    tsc_now > a.tsc ? (tsc_now - a.tsc) * 1'000'000'000 / tsc_hz_ : 0);
                const auto when = std::chrono::time_point_cast<std::chrono::microseconds>(
                    wall_now -
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(age));
                const auto when_s = std::chrono::time_point_cast<std::chrono::seconds>(when);
                const std::time_t when_t = std::chrono::system_clock::to_time_t(when_s);
                std::tm when_utc{};
                gmtime_r(&when_t, &when_utc);
                const auto cls = a.cls < pipelines::class_count ? pipelines::class_names[a.cls]
                                                                : std::string_view("?");
                std::string addresses;
                if (a.ip_version != 0) {
                    addresses = fmt::format(" src={} dst={}", address_text(a.ip_version, a.src),
                                            address_text(a.ip_version, a.dst));
                }
                alert_log_->warn(
                    "alert rule={} name={} class={} lcore={} port={}{} length={} "
                    "matches={} matched_at={:%Y-%m-%dT%H:%M:%S}.{:06}Z",
                    info.rule.id, quote_text(info.rule.name), cls, a.lcore, a.port, addresses,
                    a.frame_length, total_matches, when_utc, (when - when_s).count());
                if (alert_notifier) {
                    notify.emplace_back(info.rule, total_matches);
                }
            }
            total += n;
            if (n < batch.size()) {
                break;
            }
        }
    }
    g.unlock();
    for (const auto& [rule, matches] : notify) {
        alert_notifier(rule, matches);
    }
    return total;
}

std::uint64_t rules_runtime::matches(std::uint32_t slot) const {
    return sum_over_lcores(counters_, slot);
}

reload_result rules_runtime::last_reload() const {
    std::lock_guard g(mu_);
    return last_;
}

std::shared_ptr<const rules::rule_set> rules_runtime::current_set() const {
    std::lock_guard g(mu_);
    return current_ ? current_->set : nullptr;
}

rules_figures rules_runtime::figures() const {
    rules_figures f;
    for (const auto* w : workers_) {
        using s = pipelines::rules_lcore_stats;
        f.scanned += s::load(w->stats.scanned);
        f.dropped += s::load(w->stats.dropped);
        f.alerts_queued += s::load(w->stats.alerts_queued);
        f.alerts_ring_full += s::load(w->stats.alerts_ring_full);
        f.alerts_gated += s::load(w->stats.alerts_gated);
    }
    f.alerts_emitted = alerts_emitted_.load(std::memory_order_relaxed);
    f.alerts_suppressed = alerts_suppressed_.load(std::memory_order_relaxed);
    std::lock_guard g(mu_);
    f.reloads_ok = reloads_ok_;
    f.reloads_failed = reloads_failed_;
    return f;
}

nlohmann::ordered_json rules_runtime::rules_json() const {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    const auto set = current_set();
    if (!set) {
        return out;
    }
    for (std::size_t i = 0; i < set->size(); ++i) {
        const auto& r = set->at(i);
        out[r.id] = {{"matches", matches(set->slot(i))},
                     {"name", r.name},
                     {"action", std::string(rules::action_names[static_cast<std::size_t>(r.act)])}};
    }
    return out;
}

nlohmann::ordered_json rules_runtime::engine_json() const {
    const auto f = figures();
    const auto last = last_reload();
    return {{"file", path_},
            {"generation", last.generation},
            {"rules", last.rules},
            {"scanned", f.scanned},
            {"dropped", f.dropped},
            {"alerts_emitted", f.alerts_emitted},
            {"alerts_suppressed", f.alerts_suppressed + f.alerts_gated},
            {"alerts_ring_full", f.alerts_ring_full},
            {"reloads_ok", f.reloads_ok},
            {"reloads_failed", f.reloads_failed},
            {"last_reload",
             {{"ok", last.ok},
              {"path", last.path},
              {"message", last.message},
              {"compile_ms", last.compile_ms},
              {"grace_ms", last.grace_ms}}}};
}

std::string rules_runtime::summary_line() const {
    const auto f = figures();
    const auto set = current_set();
    return fmt::format(
        "rules: {} rules (generation {}), {} frames scanned, {} dropped, {} alerts logged ({} over "
        "rate, {} lost on a full ring), reloads {} ok {} failed",
        set ? set->size() : 0, last_reload().generation, f.scanned, f.dropped, f.alerts_emitted,
        f.alerts_suppressed + f.alerts_gated, f.alerts_ring_full, f.reloads_ok, f.reloads_failed);
}

}  // namespace ports::engine
