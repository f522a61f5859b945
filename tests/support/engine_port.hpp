// The engine's view of an in-process test's port (a ring port, ring_port.hpp): monitor mode,
// or inline towards `peer`. The rings tests run with 512 descriptors each way; the config's
// default is 1024.
#pragma once

#include <cstdint>
#include <string>

#include "ports.hpp"
#include "ports/pipelines/worker.hpp"

namespace ports::test {

inline engine::port_runtime port_of(std::uint16_t id, const std::string& name,
                                    std::uint16_t peer = pipelines::no_peer,
                                    std::uint16_t descriptors = 512) {
    engine::port_runtime r;
    r.id = id;
    r.cfg.name = name;
    r.cfg.device = name;
    r.cfg.rx_descriptors = descriptors;
    r.cfg.tx_descriptors = descriptors;
    r.peer_id = peer;
    if (peer != pipelines::no_peer) {
        r.cfg.mode = engine::port_mode::inline_;
        r.cfg.peer = "port " + std::to_string(peer);
    }
    return r;
}

}  // namespace ports::test
