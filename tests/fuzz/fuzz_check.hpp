// Shared checks for the parser fuzz targets: a span a parser returns must lie inside the input.
#pragma once

#include <cstdlib>

#include "ports/parsers/common.hpp"

namespace fuzz {

inline void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

inline void require_within(ports::parsers::byte_span inner, ports::parsers::byte_span outer) {
    if (inner.empty()) {
        return;
    }
    require(inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

}  // namespace fuzz
