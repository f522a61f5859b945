// NTS for the engine (RFC 8915): the master keys (in memory or a key file a fleet shares,
// rotated on the configured interval, reloaded on SIGHUP) that workers and the NTS-KE server
// read from one nts::key_store, and the NTS-KE server itself on threads of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <string>
#include <vector>

#include "config.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts_ke/ke_server.hpp"

namespace ports::engine {

class nts_service {
  public:
    // Loads or makes the master keys and binds the NTS-KE listeners (each service address's
    // ke_port unless ke_listen says otherwise). Throws init_error naming the file or address.
    // The NTS-KE threads will run on `cpus` (none of a worker's; empty: inherited).
    nts_service(const nts_config& cfg, const std::vector<ip_address>& service_addresses,
                const std::vector<unsigned>& cpus);
    ~nts_service();

    void start();
    void stop();

    // Control thread, about once a second: rotates the master keys when they are due.
    void tick();
    // SIGHUP: reads the key file again; a bad file keeps the running keys. Returns what
    // happened, for the log.
    struct reload_result {
        bool ok = false;
        std::string message;
    };
    reload_result reload_keys();

    const nts::key_store& keys() const { return store_; }
    // The NTS-KE server's counters and the published key ring's state: any thread (the
    // telemetry commands', the SNMP subagent's) may read them.
    struct figures {
        std::uint64_t ke_accepted = 0, ke_sessions_ok = 0, ke_tls_failed = 0, ke_bad_request = 0,
                      ke_timeouts = 0, ke_rejected = 0, ke_cookies_issued = 0;
        std::uint32_t master_keys = 0;
        std::uint32_t current_key = 0;
        std::uint64_t rotations = 0, key_reloads = 0, key_reload_failures = 0;
    };
    figures read() const;
    nlohmann::ordered_json json() const;  // read() as --stats-json and telemetry show it

  private:
    void publish(const nts::key_ring& ring);

    nts_config cfg_;
    nts::key_store store_;
    nts::key_ring ring_;  // what store_ holds: the control thread's copy
    // Read by telemetry threads as well.
    std::atomic<std::uint64_t> rotations_{0};
    std::atomic<std::uint64_t> reloads_{0};
    std::atomic<std::uint64_t> reload_failures_{0};
    std::unique_ptr<nts_ke::server> ke_;
};

}  // namespace ports::engine
