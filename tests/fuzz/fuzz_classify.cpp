// The whole classify path on arbitrary frames: Ethernet and every link type ports-analyze
// accepts. Invariants: never reads out of bounds (ASan), a class is always one of the seven,
// details are counter indexes that belong to that class, counting never overflows the array,
// and the workers' fused classify_and_count bumps exactly what count(classify_frame) bumps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ports/pipelines/classify.hpp"

using namespace ports;

namespace {

void check(const pipelines::classification& r) {
    if (static_cast<std::size_t>(r.cls) >= pipelines::class_count) {
        std::abort();
    }
    if (r.detail_count > r.detail.size()) {
        std::abort();
    }
    for (std::uint8_t i = 0; i < r.detail_count; ++i) {
        if (r.detail[i] >= pipelines::counter_count ||
            pipelines::counter_defs[r.detail[i]].cls != r.cls) {
            std::abort();
        }
    }
    if (r.malformed && r.detail_count != 0) {
        // Details count valid packets only.
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const parsers::byte_span frame(data, size);
    const auto r = pipelines::classify_frame(frame);
    check(r);
    pipelines::core_counters reference;
    pipelines::count(reference, r, static_cast<std::uint32_t>(size));
    pipelines::core_counters fused;
    pipelines::classify_and_count(fused, frame, static_cast<std::uint32_t>(size));
    if (fused.values != reference.values) {
        std::abort();
    }
    check(pipelines::classify_l3(parsers::ethertype_ipv4, frame));
    check(pipelines::classify_l3(parsers::ethertype_ipv6, frame));
    return 0;
}
