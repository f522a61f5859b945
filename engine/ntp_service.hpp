// Setting up the NTP service for the workers, and keeping its clocks: which ports serve which
// addresses with which receive timestamps, the shared keys, access list and clock state, and
// each lcore's MAC engine, rate-limit table and counters.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <string>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "exception_path.hpp"
#include "ports.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "ports/pipelines/service.hpp"

namespace ports::engine {

// What a reload of the keys and access list did (ntp_service::reload).
struct ntp_reload_result {
    bool ok = false;
    std::string message;           // why it failed (FILE:LINE: ...), or what is loaded now
    std::uint64_t generation = 0;  // the generation running after this reload
    std::size_t keys = 0;          // of the running generation
    std::size_t access_rules = 0;
    double load_ms = 0;   // key file + access list + MAC engines
    double grace_ms = 0;  // publication to the last serving worker's quiescent state
};

class ntp_service {
  public:
    // Loads keys and access rules and marks the ports that serve (serves_ntp). Throws
    // init_error with a message naming the file or setting at fault.
    ntp_service(const ntp_config& cfg, std::vector<port_runtime>& ports);
    ~ntp_service();

    // Once the ports are started: MAC addresses and the receive-timestamp source of each.
    void attach_ports(const std::vector<port_runtime>& ports);

    // The service of a port (null when it does not serve) and one lcore's state.
    const pipelines::port_service* port(std::uint16_t id) const;
    pipelines::service_lcore* make_lcore(unsigned lcore);

    // Control thread, about once a second (and once before the workers start): calibrates the
    // TSC and device clocks and publishes the clock state.
    void tick();

    // Before make_lcore: NTS requests are answered with these master keys; frames for the
    // service addresses that the fast path does not answer go to the ports' TAPs.
    void enable_nts(const nts::key_store* keys) { shared_.nts_keys = keys; }
    void set_exception_path(const exception_path& path);

    // Live reload (SIGHUP, /ports_engine/ntp_reload): the symmetric key file and the access
    // list of `next` (keys_path, access; the rest of it is not applied) become a new
    // generation, published to the workers with RCU; the caller (never a worker) blocks until
    // the old one is freed. A bad key file keeps the running generation; the result and the
    // log say why, as the start does ("ntp keys: FILE:LINE: ..."). Reloads are serialized.
    ntp_reload_result reload(const ntp_config& next);
    // The same from a config file read again (its ntp: keys and access); a config that does
    // not load keeps the running generation (config_error's FILE:LINE). Empty: the running
    // config's key file read again.
    ntp_reload_result reload_from(const std::string& config_file);
    ntp_reload_result last_reload() const;
    // {"generation", "keys", "access_rules", "reloads_ok", "reloads_failed", "last_reload":
    // {"ok", "message", "load_ms", "grace_ms"}}
    nlohmann::ordered_json reload_json() const;

    std::vector<const pipelines::server_counters*> counters() const;
    // A port's receive stamps (replies by source, requests refused for their bound), summed
    // over the lcores.
    pipelines::port_stamp_counters port_stamps(std::uint16_t port) const;
    // What the workers answer with (clock state, stratum override), for telemetry.
    const pipelines::service_shared& shared() const { return shared_; }

  private:
    struct lcore_state;
    struct lcore_state_deleter {
        void operator()(lcore_state* p) const;
    };

    // Keys, access list and one MAC engine per lcore made so far (make_lcore adds to the first
    // generation before the workers run). Throws init_error.
    std::unique_ptr<pipelines::ntp_policy> build_policy(const ntp_config& cfg) const;
    ntp_reload_result refused(const std::string& why);

    ntp_config cfg_;
    pipelines::service_shared shared_;
    void* qsbr_mem_ = nullptr;
    std::mutex reload_mu_;   // one reload at a time
    mutable std::mutex mu_;  // what follows: read by telemetry and the control thread
    std::unique_ptr<pipelines::ntp_policy> policy_;
    std::string keys_path_;              // the running generation's key file (empty: none)
    std::vector<ip_prefix> access_cfg_;  // and its access list as configured
    ntp_reload_result last_;
    std::uint64_t reloads_ok_ = 0;
    std::uint64_t reloads_failed_ = 0;
    std::vector<std::unique_ptr<pipelines::port_service>> ports_;  // by port id
    std::vector<std::uint16_t> device_clock_ports_;
    std::vector<std::unique_ptr<clock_calibrator>> device_calibrators_;
    clock_calibrator tsc_calibrator_;
    std::vector<std::unique_ptr<lcore_state, lcore_state_deleter>> lcores_;
};

}  // namespace ports::engine
