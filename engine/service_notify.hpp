// What systemd learns from the engine (Type=notify, sd_notify(3)): READY=1 once the ports are up
// and the workers launched, WATCHDOG=1 from the control loop, STOPPING=1 when it stops. Without
// NOTIFY_SOCKET (not started by systemd) every call does nothing. Control thread only: never on
// the data path.
#pragma once

#include <chrono>
#include <string>

namespace ports::engine {

class service_notifier {
  public:
    using clock = std::chrono::steady_clock;

    // Reads WATCHDOG_USEC (sd_watchdog_enabled): no watchdog when systemd set none.
    service_notifier();

    void ready(const std::string& status);
    void stopping();
    // WATCHDOG=1 every half of systemd's interval (the margin sd_watchdog_enabled(3) advises).
    void tick(clock::time_point now);

    bool watchdog() const { return interval_.count() > 0; }

  private:
    void send(const std::string& message);

    clock::duration interval_{};  // half of WATCHDOG_USEC; zero: no watchdog
    clock::time_point next_ping_{};
    bool ready_ = false;
    bool warned_ = false;
};

}  // namespace ports::engine
