// Helpers shared by the parser tests: fixtures as byte vectors, and prefixes copied to their
// own heap block so that AddressSanitizer sees any read past the cut.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "ports/parsers/common.hpp"

namespace ptest {

using bytes = std::vector<std::uint8_t>;
using ports::parsers::byte_span;

inline bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

template <std::size_t N>
bytes to_bytes(const std::array<std::uint8_t, N>& a) {
    return bytes(a.begin(), a.end());
}

inline bytes slice(const bytes& b, std::size_t off, std::size_t len) {
    return bytes(b.begin() + static_cast<std::ptrdiff_t>(off), b.begin() + static_cast<std::ptrdiff_t>(off + len));
}

inline bytes from(const bytes& b, std::size_t off) {
    return bytes(b.begin() + static_cast<std::ptrdiff_t>(off), b.end());
}

// An exact-size heap copy: the byte after the last one is a redzone under ASan.
class exact_copy {
public:
    exact_copy(const bytes& b, std::size_t n) : size_(n), data_(new std::uint8_t[n == 0 ? 1 : n]) {
        for (std::size_t i = 0; i < n; ++i) {
            data_[i] = b[i];
        }
    }
    byte_span span() const { return byte_span(data_.get(), size_); }

private:
    std::size_t size_;
    std::unique_ptr<std::uint8_t[]> data_;
};

// Is `inner` entirely within `outer`?
inline bool within(byte_span inner, byte_span outer) {
    if (inner.empty()) {
        return true;
    }
    return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// Ethernet II header, dst 00:11:22:33:44:55 src 66:77:88:99:aa:bb, then the type given.
inline bytes eth(std::uint16_t type) {
    return {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
            static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type & 0xFF)};
}

inline void put16(bytes& b, std::size_t off, std::uint16_t v) {
    b[off] = static_cast<std::uint8_t>(v >> 8);
    b[off + 1] = static_cast<std::uint8_t>(v & 0xFF);
}

}  // namespace ptest
