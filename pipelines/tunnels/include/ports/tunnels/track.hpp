// A worker's tunnel tracking, DPDK-free: the engine's tunnel stage
// (pipelines/tunnel_stage.hpp) applies it to mbufs, bench-tunnels to frames in memory.
//
// What a frame pays:
// - With records (a queue with rules or a service: classify fills every frame's record anyway)
//   a tunnel frame pays one table update and the classification of what it carries (inner_of);
//   any other frame one test per burst (the burst's class mask).
// - Without (tracking is the only stage after classify): the walk counts every frame and fills
//   the record of the tunnel frames only (classify_count_tunnel_record: their layers where it
//   learns they are tunnel frames), another frame's class and payload span alone; nothing is
//   walked twice. Filling every frame's record would cost every frame (README "Performance")
//   for the few that are tunnels.
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

// One frame and its record into the table; what it carries into the class counters.
inline void track(table& t, pipelines::core_counters& c, const pipelines::frame_record& r,
                  parsers::byte_span frame, std::uint32_t bytes, std::uint64_t now_ns) {
    count_inner(c, t.update(r, frame, bytes, now_ns));
}

// The tunnels-only path for one frame: counted, and tracked when it is a tunnel frame (its
// record filled by the same walk). Returns its class.
inline pipelines::traffic_class count_and_track(table& t, pipelines::core_counters& c,
                                                parsers::byte_span frame, std::uint32_t bytes,
                                                std::uint64_t now_ns) {
    pipelines::frame_record r;
    pipelines::classify_count_tunnel_record(c, frame, bytes, r);
    if (is_tunnel_class(r.cls)) {
        track(t, c, r, frame, bytes, now_ns);
    }
    return r.cls;
}

}  // namespace ports::tunnels
