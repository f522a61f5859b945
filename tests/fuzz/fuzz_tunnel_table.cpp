// libFuzzer target: the tunnel tables' update path. The input is a run of Ethernet frames,
// each behind a 2-byte big-endian length (a seed that is one bare frame is read as that
// frame too), classified and fed to one small table, aged now and then, and merged with a
// second table that saw the same frames: the table stays within its capacity and consistent.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/tunnels/table.hpp"

using namespace ports;

namespace {

void feed(tunnels::table& t, parsers::byte_span frame, std::uint64_t now) {
    const auto c = pipelines::classify_frame_full(frame);
    t.update(c.record, frame, static_cast<std::uint32_t>(frame.size()), now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Small enough that random inputs fill it and age it.
    tunnels::table a(8, 50);
    tunnels::table b(8, 50);
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
    return 0;
}
