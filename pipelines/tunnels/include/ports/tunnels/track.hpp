// A worker's tunnel tracking, DPDK-free: the engine's tunnel stage
// (pipelines/tunnel_stage.hpp) applies it to mbufs, bench-tunnels to frames in memory.
//
// What a frame pays:
// - With records (a queue with rules or a service: classify fills every frame's record anyway)
//   a tunnel frame pays one table update and the classification of what it carries (inner_of);
//   any other frame one test per burst (the burst's class mask).
// - Without (tracking is the only stage after classify): every frame is counted as
//   classify_and_count counts it, its class kept (one store); a tunnel frame is then walked
//   again for its record (record_sink: no counter is bumped twice), and pays as above. Filling
//   every frame's record instead would cost every frame (README "Performance": ~58
//   instructions) for the few that are tunnels.
#pragma once

#include <cstdint>

#include "ports/pipelines/classify.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"
#include "ports/tunnels/table.hpp"

namespace ports::tunnels {

// The classes whose frames the tables take, as a mask of 1 << class.
inline constexpr std::uint32_t tunnel_classes =
    (1u << static_cast<unsigned>(pipelines::traffic_class::pptp)) |
    (1u << static_cast<unsigned>(pipelines::traffic_class::gre)) |
    (1u << static_cast<unsigned>(pipelines::traffic_class::l2tp));

constexpr bool is_tunnel_class(pipelines::traffic_class c) {
    return ((1u << static_cast<unsigned>(c)) & tunnel_classes) != 0;
}

// Counts as counting_sink does and keeps the frame's class.
struct counting_class_sink : pipelines::counting_sink {
    pipelines::traffic_class* cls;

    [[gnu::always_inline]] void packet(pipelines::traffic_class c, parsers::status reason,
                                       bool fragment) const {
        counting_sink::packet(c, reason, fragment);
        *cls = c;
    }
};

// classify_and_count, and the frame's class.
[[gnu::always_inline]] inline pipelines::traffic_class classify_count_class(
    pipelines::core_counters& c, parsers::byte_span frame, std::uint32_t bytes) {
    pipelines::traffic_class cls = pipelines::traffic_class::other;
    pipelines::classify_frame_into(frame, counting_class_sink{{{}, &c, bytes}, &cls});
    return cls;
}

// One frame and its record into the table; what it carries into the class counters.
inline void track(table& t, pipelines::core_counters& c, const pipelines::frame_record& r,
                  parsers::byte_span frame, std::uint32_t bytes, std::uint64_t now_ns) {
    count_inner(c, t.update(r, frame, bytes, now_ns));
}

// A frame already counted (classify_count_class said a tunnel class): its record, then track().
inline void track_again(table& t, pipelines::core_counters& c, parsers::byte_span frame,
                        std::uint32_t bytes, std::uint64_t now_ns) {
    pipelines::frame_record r;
    pipelines::classify_frame_into(frame, pipelines::record_sink{&r, frame.data()});
    track(t, c, r, frame, bytes, now_ns);
}

}  // namespace ports::tunnels
