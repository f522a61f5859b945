// Line-oriented text files (the NTP key file, access lists, the NTS master key file) and hex
// digits (keys, MAC addresses): the line loop, the blank-separated fields and the digits,
// written once. Views into the caller's text; no allocation, no exceptions: each parser says
// what is wrong in its own words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ports::text {

// '\r' counts as blank so that files edited on Windows read the same.
constexpr bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r';
}

// Nothing but blanks, or nothing at all.
constexpr bool is_blank_line(std::string_view line) noexcept {
    for (const char c : line) {
        if (!is_blank(c)) {
            return false;
        }
    }
    return true;
}

// The lines of a text without their '\n', numbered from 1; a last line without '\n' counts,
// an empty text has none.
class line_reader {
  public:
    explicit constexpr line_reader(std::string_view text) noexcept : rest_(text) {}

    // The next line into `line`; false at the end of the text.
    constexpr bool next(std::string_view& line) noexcept {
        if (rest_.empty()) {
            return false;
        }
        ++number_;
        const std::size_t nl = rest_.find('\n');
        line = rest_.substr(0, nl);
        rest_ = nl == std::string_view::npos ? std::string_view{} : rest_.substr(nl + 1);
        return true;
    }

    // The number of the line next() gave last.
    constexpr std::size_t number() const noexcept { return number_; }

  private:
    std::string_view rest_;
    std::size_t number_ = 0;
};

// The line up to its first '#'.
constexpr std::string_view strip_comment(std::string_view line) noexcept {
    return line.substr(0, line.find('#'));
}

// The blank-separated fields of a line, as many as fit in `out`; returns how many it stored.
// A line with more fields than `out` holds fills it: callers that allow N fields pass N + 1
// slots and read a full `out` as "too many" (out.back() is the first field too many).
constexpr std::size_t split_fields(std::string_view line,
                                   std::span<std::string_view> out) noexcept {
    std::size_t n = 0;
    std::size_t i = 0;
    while (n < out.size()) {
        while (i < line.size() && is_blank(line[i])) {
            ++i;
        }
        if (i == line.size()) {
            break;
        }
        const std::size_t start = i;
        while (i < line.size() && !is_blank(line[i])) {
            ++i;
        }
        out[n++] = line.substr(start, i - start);
    }
    return n;
}

// The value of a hex digit (either case), or -1.
constexpr int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Decodes the 2 * out.size() hex digits of `hex` (the caller checks its length) into out.
// Returns the position of the first character that is not a hex digit, or npos when all are
// (out's bytes before that position are written).
constexpr std::size_t decode_hex(std::string_view hex, std::span<std::uint8_t> out) noexcept {
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit(hex[2 * i]);
        const int lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return 2 * i + (hi < 0 ? 0 : 1);
        }
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return std::string_view::npos;
}

}  // namespace ports::text
