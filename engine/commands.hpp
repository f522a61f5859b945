// The engine's DPDK telemetry commands: /ports_engine/{classes,ntp,lcores,ports}, the same
// figures as --stats-json, published while the runtime is alive.
#pragma once

#include "runtime.hpp"

namespace ports::engine {

// Publishes every command over rt; the returned guard withdraws them (before rt goes away).
class published_commands {
  public:
    explicit published_commands(runtime& rt);
    published_commands(const published_commands&) = delete;
    published_commands& operator=(const published_commands&) = delete;
    ~published_commands();
};

}  // namespace ports::engine
