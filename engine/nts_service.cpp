#include "nts_service.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "ports.hpp"

namespace ports::engine {

namespace {

std::uint64_t unix_now() {
    return static_cast<std::uint64_t>(std::time(nullptr));
}

std::string endpoint_of(const ip_address& a, std::uint16_t port) {
    char buf[64] = {};
    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof(buf));
    return a.v6 ? fmt::format("[{}]:{}", buf, port) : fmt::format("{}:{}", buf, port);
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

}  // namespace

nts_service::nts_service(const nts_config& cfg, const std::vector<ip_address>& service_addresses,
                         const std::vector<unsigned>& cpus)
    : cfg_(cfg) {
    if (!nts::aes_siv_supported()) {
        throw init_error("ntp.nts: this CPU has no AES-NI, which the NTS fast path needs");
    }
    try {
        if (!cfg.key_file.empty() && file_exists(cfg.key_file)) {
            ring_ = nts::load_key_file(cfg.key_file);
            spdlog::info("nts: {} master key(s) from {}", ring_.count, cfg.key_file);
        } else if (!cfg.key_file.empty() && cfg.rotate_interval_s == 0) {
            throw init_error(
                fmt::format("ntp.nts key_file {} does not exist, and with "
                            "rotate_interval: 0 this engine does not make keys",
                            cfg.key_file));
        }
        if (ring_.count == 0 ||
            (cfg.rotate_interval_s != 0 &&
             unix_now() >= ring_.current()->created_unix_s + cfg.rotate_interval_s)) {
            ring_.rotate(unix_now());
            ++rotations_;
            if (!cfg.key_file.empty()) {
                nts::save_key_file(cfg.key_file, ring_);
                spdlog::info("nts: new master key {:08x} written to {}", ring_.current()->id,
                             cfg.key_file);
            }
        }
    } catch (const nts::key_file_error& e) {
        throw init_error(std::string("ntp.nts key_file: ") + e.what());
    } catch (const std::runtime_error& e) {
        throw init_error(std::string("ntp.nts master keys: ") + e.what());
    }
    publish(ring_);

    nts_ke::server_options o;
    o.listen = cfg.ke_listen;
    if (o.listen.empty()) {
        for (const auto& a : service_addresses) {
            const std::string e = endpoint_of(a, cfg.ke_port);
            if (std::find(o.listen.begin(), o.listen.end(), e) == o.listen.end()) {
                o.listen.push_back(e);
            }
        }
    }
    o.certificate = cfg.certificate;
    o.key = cfg.key;
    o.ntp_server = cfg.ntp_server;
    o.ntp_port = cfg.ntp_port;
    o.cookies = cfg.cookies;
    o.max_connections = cfg.max_connections;
    o.timeout = std::chrono::milliseconds(cfg.timeout_ms);
    o.threads = cfg.ke_threads;
    o.cpus.assign(cpus.begin(), cpus.end());
    try {
        ke_ = std::make_unique<nts_ke::server>(std::move(o), store_);
    } catch (const std::exception& e) {
        throw init_error(std::string("ntp.nts: ") + e.what());
    }
}

nts_service::~nts_service() {
    stop();
}

void nts_service::start() {
    ke_->start();
    std::string where;
    for (const auto& e : ke_->endpoints()) {
        where += (where.empty() ? "" : ", ") + e;
    }
    spdlog::info("nts: NTS-KE (TLS 1.3, ntske/1) on {}; master key {:08x}, rotation {}", where,
                 ring_.current()->id,
                 cfg_.rotate_interval_s == 0 ? std::string("off (key file of the fleet)")
                                             : fmt::format("every {} s", cfg_.rotate_interval_s));
}

void nts_service::stop() {
    if (ke_) {
        ke_->stop();
    }
}

void nts_service::publish(const nts::key_ring& ring) {
    store_.publish(ring);
}

void nts_service::tick() {
    if (cfg_.rotate_interval_s == 0 || ring_.count == 0 ||
        unix_now() < ring_.current()->created_unix_s + cfg_.rotate_interval_s) {
        return;
    }
    try {
        nts::key_ring next = ring_;
        next.rotate(unix_now());
        if (!cfg_.key_file.empty()) {
            nts::save_key_file(cfg_.key_file, next);
        }
        ring_ = next;
        publish(ring_);
        ++rotations_;
        spdlog::info("nts: master keys rotated, new key {:08x} ({} kept)", ring_.current()->id,
                     ring_.count);
    } catch (const std::exception& e) {
        // The running keys stay; the next tick tries again.
        spdlog::warn("nts: key rotation failed: {}", e.what());
    }
}

nts_service::reload_result nts_service::reload_keys() {
    if (cfg_.key_file.empty()) {
        return {false, "ntp.nts has no key_file: nothing to reload"};
    }
    try {
        nts::key_ring next = nts::load_key_file(cfg_.key_file);
        ring_ = next;
        publish(ring_);
        ++reloads_;
        return {true, fmt::format("{} master key(s) from {}, current {:08x}", ring_.count,
                                  cfg_.key_file, ring_.current()->id)};
    } catch (const std::exception& e) {
        ++reload_failures_;
        return {false, fmt::format("{} (the running keys stay)", e.what())};
    }
}

nts_service::figures nts_service::read() const {
    const auto& c = ke_->counters();
    auto load = [](const std::atomic<std::uint64_t>& v) {
        return v.load(std::memory_order_relaxed);
    };
    // The published ring, not ring_: other threads call this.
    const nts::key_ring ring = store_.read();
    figures f;
    f.ke_accepted = load(c.accepted);
    f.ke_sessions_ok = load(c.sessions_ok);
    f.ke_tls_failed = load(c.tls_failed);
    f.ke_bad_request = load(c.bad_request);
    f.ke_timeouts = load(c.timeouts);
    f.ke_rejected = load(c.rejected);
    f.ke_cookies_issued = load(c.cookies_issued);
    f.master_keys = ring.count;
    f.current_key = ring.count != 0 ? ring.current()->id : 0;
    f.rotations = rotations_.load(std::memory_order_relaxed);
    f.key_reloads = reloads_.load(std::memory_order_relaxed);
    f.key_reload_failures = reload_failures_.load(std::memory_order_relaxed);
    return f;
}

nlohmann::ordered_json nts_service::json() const {
    const figures f = read();
    nlohmann::ordered_json ke = {
        {"accepted", f.ke_accepted},
        {"sessions_ok", f.ke_sessions_ok},
        {"tls_failed", f.ke_tls_failed},
        {"bad_request", f.ke_bad_request},
        {"timeouts", f.ke_timeouts},
        {"rejected", f.ke_rejected},
        {"cookies_issued", f.ke_cookies_issued},
    };
    return {{"ke", ke},
            {"master_keys", f.master_keys},
            {"current_key", fmt::format("{:08x}", f.current_key)},
            {"rotations", f.rotations},
            {"key_reloads", f.key_reloads},
            {"key_reload_failures", f.key_reload_failures}};
}

}  // namespace ports::engine
