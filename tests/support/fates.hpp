// The fate counters of a running engine's lcores (pipelines/verdict.hpp), summed: what tests
// check every received frame against.
#pragma once

#include <cstdint>

#include "ports/pipelines/worker.hpp"
#include "runtime.hpp"

namespace ports::test {

struct fate_totals {
    std::uint64_t rx = 0;
    std::uint64_t forwarded = 0;
    std::uint64_t replied = 0;
    std::uint64_t to_kernel = 0;
    std::uint64_t released = 0;
    std::uint64_t dropped = 0;
    std::uint64_t tx_dropped = 0;
    std::array<std::uint64_t, pipelines::drop_reason_count> by_reason{};

    std::uint64_t accounted() const { return forwarded + replied + to_kernel + released + dropped; }
    std::uint64_t dropped_for(pipelines::drop_reason r) const {
        return by_reason[static_cast<std::size_t>(r)];
    }
};

inline fate_totals fates(const engine::runtime& rt) {
    using w = pipelines::worker_stats;
    fate_totals t;
    for (const auto& l : rt.lcores()) {
        t.rx += w::load(l.stats->rx_packets);
        t.forwarded += w::load(l.stats->forwarded);
        t.replied += w::load(l.stats->replied);
        t.to_kernel += w::load(l.stats->to_kernel);
        t.released += w::load(l.stats->released);
        t.tx_dropped += w::load(l.stats->tx_dropped);
        for (std::size_t i = 0; i < pipelines::drop_reason_count; ++i) {
            const std::uint64_t d = w::load(l.stats->dropped[i]);
            t.by_reason[i] += d;
            t.dropped += d;
        }
    }
    return t;
}

}  // namespace ports::test
