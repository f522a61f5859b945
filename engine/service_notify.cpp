#include "service_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstring>

namespace ports::engine {

service_notifier::service_notifier() {
    std::uint64_t usec = 0;
    // unset_environment 0: the EAL and PMDs fork nothing that would inherit it by mistake.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        interval_ =
            std::chrono::duration_cast<clock::duration>(std::chrono::microseconds(usec / 2));
        spdlog::info("systemd watchdog: {} ms, pinged every {} ms", usec / 1000, usec / 2000);
    }
}

void service_notifier::send(const std::string& message) {
    // 0: no NOTIFY_SOCKET, nothing to tell; < 0: systemd asked for messages and cannot get
    // them, which the service's state will show (a start that times out, a watchdog kill):
    // say why, once, not at every ping.
    const int r = sd_notify(0, message.c_str());
    if (r < 0 && !warned_) {
        warned_ = true;
        spdlog::warn("sd_notify({}): {}", message.substr(0, message.find('\n')), std::strerror(-r));
    }
}

void service_notifier::ready(const std::string& status) {
    if (ready_) {
        return;
    }
    ready_ = true;
    send("READY=1\nSTATUS=" + status);
}

void service_notifier::stopping() {
    send("STOPPING=1\nSTATUS=stopping");
}

void service_notifier::tick(clock::time_point now) {
    if (interval_.count() == 0 || now < next_ping_) {
        return;
    }
    send("WATCHDOG=1");
    next_ping_ = now + interval_;
}

}  // namespace ports::engine
