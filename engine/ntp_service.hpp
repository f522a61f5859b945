// Setting up the NTP service for the workers, and keeping its clocks: which ports serve which
// addresses with which receive timestamps, the shared keys, access list and clock state, and
// each lcore's MAC engine, rate-limit table and counters.
#pragma once

#include <memory>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "exception_path.hpp"
#include "ports.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "ports/pipelines/service.hpp"

namespace ports::engine {

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

    ntp_config cfg_;
    ntp::key_table keys_;
    ntp::access_list access_;
    pipelines::service_shared shared_;
    std::vector<std::unique_ptr<pipelines::port_service>> ports_;  // by port id
    std::vector<std::uint16_t> device_clock_ports_;
    std::vector<std::unique_ptr<clock_calibrator>> device_calibrators_;
    clock_calibrator tsc_calibrator_;
    std::vector<std::unique_ptr<lcore_state, lcore_state_deleter>> lcores_;
};

}  // namespace ports::engine
