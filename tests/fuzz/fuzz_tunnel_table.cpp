// libFuzzer target: the tunnel tables' update path. The input is a run of Ethernet frames,
// each behind a 2-byte big-endian length (a seed that is one bare frame is read as that
// frame too), classified and fed to one small table, aged now and then, and merged with a
// second table that saw the same frames: the table stays within its capacity and consistent.
// What each frame carries (tunnels::inner_of, inside update) stays inside its frame, at most
// max_inner_depth tunnels deep; the worker's single walk (count_and_track) and its counters agree.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/tunnels/table.hpp"
#include "ports/tunnels/track.hpp"

using namespace ports;

namespace {

void feed(tunnels::table& t, parsers::byte_span frame, std::uint64_t now) {
    const auto c = pipelines::classify_frame_full(frame);
    const auto inner = t.update(c.record, frame, static_cast<std::uint32_t>(frame.size()), now);
    if (inner.present) {
        fuzz::require(inner.bytes <= frame.size());
        fuzz::require(inner.depth >= 1 && inner.depth <= tunnels::max_inner_depth);
    }
}

// The worker's path without other stages: one walk counts and fills a tunnel frame's record.
void feed_as_worker(tunnels::table& t, pipelines::core_counters& counters,
                    parsers::byte_span frame, std::uint64_t now) {
    tunnels::count_and_track(t, counters, frame, static_cast<std::uint32_t>(frame.size()), now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Small enough that random inputs fill it and age it.
    tunnels::table a(8, 50);
    tunnels::table b(8, 50);
    tunnels::table w(8, 50);
    pipelines::core_counters counters;
    const parsers::byte_span in(data, size);
    std::uint64_t now = 0;
    feed(a, in, now);
    std::size_t off = 0;
    while (off + 2 <= size) {
        const std::size_t n = (std::size_t{data[off]} << 8) | data[off + 1];
        off += 2;
        const std::size_t take = n < size - off ? n : size - off;
        const parsers::byte_span frame = in.subspan(off, take);
        off += take;
        now += 7;
        feed(a, frame, now);
        feed(b, frame, now);
        feed_as_worker(w, counters, frame, now);
        if (now % 5 == 0) {
            a.expire(now, 3);
        }
        fuzz::require(a.size() <= a.capacity());
    }
    std::uint32_t live = 0;
    a.for_each([&](const tunnels::entry& e) {
        fuzz::require(e.k != tunnels::kind::none);
        ++live;
    });
    fuzz::require(live == a.size());
    const tunnels::table* both[] = {&a, &b};
    const auto rows = tunnels::merge(both);
    fuzz::require(rows.size() <= a.size() + b.size());
    // The same frames through the worker's path: the same table as b's.
    fuzz::require(w.size() == b.size());
    fuzz::require(w.stats().frames == b.stats().frames);
    return 0;
}
