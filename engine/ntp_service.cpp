#include "ntp_service.hpp"

#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "socket_memory.hpp"

namespace ports::engine {

namespace {

std::string text_of(const ip_address& a) {
    char buf[64] = {};
    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof(buf));
    return buf;
}

std::uint32_t refid_of(const std::string& refid) {
    if (const auto ip = parse_ip_address(refid); ip && !ip->v6) {
        return static_cast<std::uint32_t>(ip->bytes[0]) << 24 | ip->bytes[1] << 16 |
               ip->bytes[2] << 8 | ip->bytes[3];
    }
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        v = v << 8 | (i < refid.size() ? static_cast<std::uint8_t>(refid[i]) : 0);
    }
    return v;
}

// Microseconds to NTP short format (16.16 seconds), saturating.
std::uint32_t ntp_short_of_us(std::uint64_t us) {
    const std::uint64_t v = us * 65536 / 1000000;
    return v > 0xFFFFFFFFULL ? 0xFFFFFFFFU : static_cast<std::uint32_t>(v);
}

constexpr std::uint64_t assumed_dispersion_us = 1000;

double elapsed_ms(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

std::string loaded_text(const pipelines::ntp_policy& p, const std::string& keys_path) {
    return fmt::format("{} key(s){}, {} access rule(s)", p.keys.size(),
                       keys_path.empty() ? std::string() : " from " + keys_path,
                       p.has_access ? p.access.size() : 0);
}

}  // namespace

// All of it on the lcore's socket (socket_memory.hpp): the service state, the counters, the
// rate-limit table and the NTS state. The lcore's MAC engine is the policy generation's (its
// OpenSSL contexts come from OpenSSL's allocator, the control thread's node).
struct ntp_service::lcore_state {
    explicit lcore_state(int socket) : memory(socket) {}
    socket_memory_resource memory;
    pipelines::service_lcore lcore;
    pipelines::server_counters counters;
    socket_ptr<ntp::rate_limiter> limiter;
    socket_ptr<pipelines::nts_lcore> nts;
    socket_ptr<ntp::tx_map> tx_times;
};

void ntp_service::lcore_state_deleter::operator()(lcore_state* p) const {
    socket_deleter{}(p);
}

void ntp_service::set_exception_path(const exception_path& path) {
    shared_.exception_rate = path.rate();
    shared_.exception_burst = path.burst();
    for (std::size_t id = 0; id < ports_.size(); ++id) {
        if (ports_[id]) {
            ports_[id]->tap = path.tap_of(static_cast<std::uint16_t>(id));
        }
    }
}

std::unique_ptr<pipelines::ntp_policy> ntp_service::build_policy(const ntp_config& cfg) const {
    auto p = std::make_unique<pipelines::ntp_policy>();
    if (!cfg.keys_path.empty()) {
        try {
            p->keys = ntp::load_key_file(cfg.keys_path);
        } catch (const std::exception& e) {
            throw init_error(std::string("ntp keys: ") + e.what());
        }
    }
    for (const auto& rule : cfg.access) {
        ntp::address a = rule.address.v6 ? ntp::address::from_ipv6(rule.address.bytes.data())
                                         : ntp::address::from_ipv4(rule.address.bytes.data());
        p->access.add(rule.allow, a, rule.address.v6 ? rule.length : 96u + rule.length);
    }
    p->has_access = !cfg.access.empty();
    p->macs.reserve(lcores_.size());
    for (std::size_t i = 0; i < lcores_.size(); ++i) {
        p->macs.push_back(std::make_unique<ntp::mac_engine>(p->keys));
    }
    return p;
}

ntp_service::ntp_service(const ntp_config& cfg, std::vector<port_runtime>& ports) : cfg_(cfg) {
    // The policy's grace periods: one qsbr thread id per service lcore (make_lcore's index).
    const std::size_t size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
    qsbr_mem_ = rte_zmalloc("ntp_qsbr", size, RTE_CACHE_LINE_SIZE);
    if (qsbr_mem_ == nullptr) {
        throw init_error("ntp: cannot allocate the RCU variable");
    }
    shared_.qsbr = static_cast<rte_rcu_qsbr*>(qsbr_mem_);
    if (rte_rcu_qsbr_init(shared_.qsbr, RTE_MAX_LCORE) != 0) {
        rte_free(qsbr_mem_);
        throw init_error("ntp: cannot initialise the RCU variable");
    }
    try {
        policy_ = build_policy(cfg);
    } catch (...) {
        rte_free(qsbr_mem_);
        throw;
    }
    policy_->number = 1;
    keys_path_ = cfg.keys_path;
    access_cfg_ = cfg.access;
    last_ = {true,
             loaded_text(*policy_, keys_path_),
             1,
             policy_->keys.size(),
             policy_->has_access ? policy_->access.size() : 0,
             0,
             0};
    shared_.policy.store(policy_.get(), std::memory_order_release);
    if (!cfg.keys_path.empty()) {
        spdlog::info("ntp: {} key(s) from {}", policy_->keys.size(), cfg.keys_path);
    }
    shared_.config.stratum = cfg.stratum;
    shared_.config.refid = refid_of(cfg.refid);
    shared_.config.require_auth = cfg.require_auth;
    shared_.kod = cfg.ratelimit.enabled && cfg.ratelimit.kod;
    shared_.max_timestamp_error_ns = std::uint64_t{cfg.max_timestamp_error_us} * 1000;
    shared_.interleaved = cfg.interleaved;
    if (cfg.max_timestamp_error_us == 0) {
        spdlog::warn(
            "ntp: max_timestamp_error 0: requests are answered whatever their receive stamp's "
            "bound (a reply may carry a stamp late by as long as the request waited)");
    }

    ports_.resize(RTE_MAX_ETHPORTS);
    for (auto& p : ports) {
        const auto& list = p.cfg.ntp_addresses ? *p.cfg.ntp_addresses : cfg.addresses;
        if (list.empty()) {
            continue;
        }
        auto svc = std::make_unique<pipelines::port_service>();
        std::string names;
        for (const auto& a : list) {
            if (!svc->addresses.add(a)) {
                throw init_error(
                    fmt::format("port '{}': cannot serve {} (too many addresses, or "
                                "not a unicast address)",
                                p.cfg.name, text_of(a)));
            }
            names += (names.empty() ? "" : ", ") + text_of(a);
        }
        p.serves_ntp = true;
        spdlog::info("port '{}': NTP service on {}", p.cfg.name, names);
        ports_[p.id] = std::move(svc);
    }
    if (std::none_of(ports.begin(), ports.end(),
                     [](const port_runtime& p) { return p.serves_ntp; })) {
        spdlog::warn(
            "ntp: no port has service addresses (ntp.addresses or a port's "
            "ntp_addresses): nothing will be answered");
    }
}

ntp_service::~ntp_service() {
    lcores_.clear();
    policy_.reset();
    rte_free(qsbr_mem_);
}

ntp_reload_result ntp_service::refused(const std::string& why) {
    std::lock_guard g(mu_);
    ++reloads_failed_;
    ntp_reload_result r;
    r.ok = false;
    r.message = why;
    r.generation = policy_->number;
    r.keys = policy_->keys.size();
    r.access_rules = policy_->has_access ? policy_->access.size() : 0;
    spdlog::error(
        "ntp: reload refused, the running keys and access list stay (generation {}, {}): {}",
        r.generation, loaded_text(*policy_, keys_path_), why);
    last_ = r;
    return r;
}

ntp_reload_result ntp_service::reload(const ntp_config& next) {
    std::lock_guard reload_guard(reload_mu_);
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<pipelines::ntp_policy> built;
    try {
        built = build_policy(next);
    } catch (const std::exception& e) {
        return refused(e.what());
    }
    ntp_reload_result r;
    r.load_ms = elapsed_ms(t0);
    r.keys = built->keys.size();
    r.access_rules = built->has_access ? built->access.size() : 0;
    const auto t1 = std::chrono::steady_clock::now();
    std::unique_ptr<pipelines::ntp_policy> old;
    {
        std::lock_guard g(mu_);
        built->number = policy_->number + 1;
        r.generation = built->number;
        old = std::move(policy_);
        policy_ = std::move(built);
        keys_path_ = next.keys_path;
        access_cfg_ = next.access;
        r.message = loaded_text(*policy_, keys_path_);
        // Release: the generation is whole before a worker can see its address.
        shared_.policy.store(policy_.get(), std::memory_order_release);
    }
    // Grace period: every online serving worker reports quiescent state once per loop
    // iteration, holding no policy there; an offline (stopped) worker is not waited for.
    const std::uint64_t token = rte_rcu_qsbr_start(shared_.qsbr);
    while (rte_rcu_qsbr_check(shared_.qsbr, token, false) == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    old.reset();
    r.grace_ms = elapsed_ms(t1);
    r.ok = true;
    spdlog::info(
        "ntp: reloaded {}: keys generation {}, loaded in {:.1f} ms, previous generation "
        "freed {:.3f} ms after publication",
        r.message, r.generation, r.load_ms, r.grace_ms);
    std::lock_guard g(mu_);
    ++reloads_ok_;
    last_ = r;
    return r;
}

ntp_reload_result ntp_service::reload_from(const std::string& config_file) {
    ntp_config next = cfg_;
    if (config_file.empty()) {
        std::lock_guard g(mu_);
        next.keys_path = keys_path_;
        next.access = access_cfg_;
    } else {
        try {
            const engine_config loaded = load_config(config_file);
            if (!loaded.ntp.enabled) {
                return refused(config_file +
                               ": no ntp: section: a reload does not stop the NTP service "
                               "(restart the engine for that)");
            }
            next = loaded.ntp;
        } catch (const config_error& e) {
            return refused(e.what());
        }
    }
    return reload(next);
}

ntp_reload_result ntp_service::last_reload() const {
    std::lock_guard g(mu_);
    return last_;
}

nlohmann::ordered_json ntp_service::reload_json() const {
    std::lock_guard g(mu_);
    return {{"generation", policy_->number},
            {"keys", policy_->keys.size()},
            {"keys_file", keys_path_},
            {"access_rules", policy_->has_access ? policy_->access.size() : 0},
            {"reloads_ok", reloads_ok_},
            {"reloads_failed", reloads_failed_},
            {"last_reload",
             {{"ok", last_.ok},
              {"message", last_.message},
              {"load_ms", last_.load_ms},
              {"grace_ms", last_.grace_ms}}}};
}

void ntp_service::attach_ports(const std::vector<port_runtime>& ports) {
    int ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    const int ts_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    for (const auto& p : ports) {
        auto* svc = ports_[p.id].get();
        if (svc == nullptr) {
            continue;
        }
        rte_ether_addr mac{};
        rte_eth_macaddr_get(p.id, &mac);
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), svc->mac.bytes.begin());
        // PMDs over a kernel socket send inside tx_burst (port_service::tx_in_call).
        svc->tx_in_call =
            p.driver == "net_af_packet" || p.driver == "net_tap" || p.driver == "net_pcap";
        const bool stamped = ts_offset >= 0 && ts_bit >= 0;
        if (p.driver == "net_pcap" && stamped) {
            // DPDK 22.11's net_pcap stamps every mbuf with the record's time, in microseconds,
            // while it refuses the timestamp offload.
            svc->ts_kind = pipelines::rx_timestamp_kind::pcap_microseconds;
        } else if (p.rx_timestamp && stamped && sample_nic(p.id)) {
            svc->ts_kind = pipelines::rx_timestamp_kind::device_ticks;
            rte_eth_link link{};
            rte_eth_link_get_nowait(p.id, &link);
            if (link.link_speed != 0 && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN) {
                // ns per byte at the link rate: 8000 / Mb/s.
                svc->ns_per_byte_q16 = (8000ULL << 16) / link.link_speed;
            }
            device_clock_ports_.push_back(p.id);
            device_calibrators_.push_back(std::make_unique<clock_calibrator>());
        }
        if (svc->ts_kind != pipelines::rx_timestamp_kind::software) {
            svc->ts_offset = ts_offset;
            svc->ts_flag = 1ULL << ts_bit;
        }
        const char* kind =
            svc->ts_kind == pipelines::rx_timestamp_kind::pcap_microseconds
                ? "net_pcap record time (kernel or file time), resolution 1 us, bound 1 us"
            : svc->ts_kind == pipelines::rx_timestamp_kind::device_ticks
                ? "NIC hardware timestamp, device clock calibrated to UTC, bound 1 us"
                : "software: the poll window (TSC before the last poll that drained the queue "
                  "to after the poll that returned the frame), bound half the window";
        spdlog::info(
            "port '{}': NTP service MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, receive "
            "timestamps: {}",
            p.cfg.name, svc->mac.bytes[0], svc->mac.bytes[1], svc->mac.bytes[2], svc->mac.bytes[3],
            svc->mac.bytes[4], svc->mac.bytes[5], kind);
    }
}

const pipelines::port_service* ntp_service::port(std::uint16_t id) const {
    return id < ports_.size() ? ports_[id].get() : nullptr;
}

pipelines::service_lcore* ntp_service::make_lcore(unsigned lcore) {
    const int socket = static_cast<int>(rte_lcore_to_socket_id(lcore));
    socket_ptr<lcore_state> placed;
    try {
        placed = make_on_socket<lcore_state>(socket, socket);
    } catch (const std::bad_alloc&) {
        throw init_error(
            fmt::format("cannot allocate lcore {}'s NTP state on socket {}", lcore, socket));
    }
    std::unique_ptr<lcore_state, lcore_state_deleter> st(placed.release());
    // Before any worker runs: the first generation gets this lcore's MAC engine in place.
    policy_->macs.push_back(std::make_unique<ntp::mac_engine>(policy_->keys));
    st->lcore.index = static_cast<unsigned>(lcores_.size());
    if (cfg_.ratelimit.enabled) {
        ntp::rate_limit_config rl;
        rl.interval_log2 = cfg_.ratelimit.interval;
        rl.burst = cfg_.ratelimit.burst;
        rl.leak_log2 = cfg_.ratelimit.leak;
        try {
            st->limiter = make_on_socket<ntp::rate_limiter>(socket, rl, &st->memory);
        } catch (const std::exception& e) {
            throw init_error(std::string("ntp ratelimit: ") + e.what());
        }
    }
    if (shared_.interleaved) {
        try {
            st->tx_times =
                make_on_socket<ntp::tx_map>(socket, cfg_.interleaved_entries, &st->memory);
        } catch (const std::exception& e) {
            throw init_error(std::string("ntp interleaved map: ") + e.what());
        }
        st->lcore.tx_times = st->tx_times.get();
    }
    if (shared_.nts_keys != nullptr) {
        try {
            st->nts = make_on_socket<pipelines::nts_lcore>(socket);
        } catch (const std::exception& e) {
            throw init_error(std::string("nts: ") + e.what());
        }
        st->lcore.nts = st->nts.get();
    }
    st->lcore.shared = &shared_;
    st->lcore.limiter = st->limiter.get();
    st->lcore.counters = &st->counters;
    st->lcore.mono_ns_per_tsc_q32 = static_cast<std::uint64_t>(
        (static_cast<unsigned __int128>(pipelines::ns_per_s) << 32) / rte_get_tsc_hz());
    lcores_.push_back(std::move(st));
    return &lcores_.back()->lcore;
}

void ntp_service::tick() {
    const clock_sample tsc = sample_tsc();
    auto map = tsc_calibrator_.add(tsc);
    if (!map && !shared_.tsc_map.read().valid()) {
        // First tick: one sample and the nominal TSC rate until a second sample comes.
        map = pipelines::linear_map{
            tsc.counter, tsc.utc_ns,
            static_cast<std::uint64_t>((static_cast<unsigned __int128>(pipelines::ns_per_s) << 32) /
                                       rte_get_tsc_hz()),
            500, nominal_rate_drift_ppb};
    }
    if (map) {
        shared_.tsc_map.publish(*map);
    }
    for (std::size_t i = 0; i < device_clock_ports_.size(); ++i) {
        if (const auto s = sample_nic(device_clock_ports_[i])) {
            if (const auto m = device_calibrators_[i]->add(*s)) {
                ports_[device_clock_ports_[i]]->device_map.publish(*m);
            }
        }
    }
    const kernel_clock k = read_kernel_clock();
    ntp::clock_state c;
    c.synchronized = k.synchronized || cfg_.assume_synchronized;
    c.leap = k.synchronized ? k.leap : 0;
    c.stratum = cfg_.stratum;
    c.precision = -20;
    c.root_delay = 0;
    c.root_dispersion = ntp_short_of_us(k.synchronized ? k.max_error_us : assumed_dispersion_us);
    c.refid = shared_.config.refid;
    c.reference_ts = pipelines::ntp_from_unix_ns(tsc.utc_ns);
    shared_.clock.publish(c);
}

pipelines::port_stamp_counters ntp_service::port_stamps(std::uint16_t port) const {
    pipelines::port_stamp_counters sum;
    const auto load = [](const std::uint64_t& v) {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(v))
            .load(std::memory_order_relaxed);
    };
    for (const auto& l : lcores_) {
        const pipelines::port_stamp_counters& c = l->lcore.per_port[port];
        for (std::size_t k = 0; k < sum.stamped.size(); ++k) {
            sum.stamped[k] += load(c.stamped[k]);
        }
        sum.timestamp_error_drops += load(c.timestamp_error_drops);
    }
    return sum;
}

std::vector<const pipelines::server_counters*> ntp_service::counters() const {
    std::vector<const pipelines::server_counters*> out;
    for (const auto& l : lcores_) {
        out.push_back(&l->counters);
    }
    return out;
}

}  // namespace ports::engine
