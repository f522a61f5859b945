// The NTS-KE record parsers (ports/parsers/nts_ke.hpp) on arbitrary input, as the server reads
// a request and the client a response: every span they return lies inside the input, a message
// that parses ends inside it, and parsing is consistent with the bytes it was given (the same
// answer on the message alone, "incomplete" one byte short of its End of Message). The seeds
// (corpus/fuzz_nts_ke/) are a standard request, responses with cookies, an Error response and
// a truncated one.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/parsers/nts_ke.hpp"

namespace {

using namespace ports::parsers;

void check_request(byte_span input) {
    const ke_request_view v = parse_ke_request(input);
    fuzz::require_within(v.ntpv4_server, input);
    switch (v.outcome) {
        case ke_outcome::ok: {
            // At least End of Message, and no further than what was read.
            fuzz::require(v.length >= ke_record_header && v.length <= input.size());
            fuzz::require(!v.ntpv4 || v.has_aead);
            fuzz::require(!v.aes_siv || v.has_aead);
            // The bytes after End of Message are not looked at: the message alone parses the
            // same, and one byte short of it is still waiting for more.
            const ke_request_view alone = parse_ke_request(input.first(v.length));
            fuzz::require(alone.outcome == ke_outcome::ok && alone.length == v.length);
            fuzz::require(alone.ntpv4 == v.ntpv4 && alone.aes_siv == v.aes_siv);
            fuzz::require(parse_ke_request(input.first(v.length - 1)).outcome ==
                          ke_outcome::incomplete);
            break;
        }
        case ke_outcome::error:
            fuzz::require(v.error_code == ke_error_bad_request ||
                          v.error_code == ke_error_unrecognized_critical);
            fuzz::require(v.st != status::ok);
            break;
        case ke_outcome::incomplete:
            fuzz::require(v.length == 0);
            break;
    }
}

void check_response(byte_span input) {
    const ke_response_view v = parse_ke_response(input);
    fuzz::require(v.cookie_count <= ke_max_cookies);
    for (std::size_t i = 0; i < v.cookie_count; ++i) {
        fuzz::require_within(v.cookies[i], input);
    }
    fuzz::require_within(v.ntpv4_server, input);
    fuzz::require(!v.has_error || v.outcome == ke_outcome::error);
    if (v.outcome == ke_outcome::ok) {
        fuzz::require(v.length >= ke_record_header && v.length <= input.size());
        const ke_response_view alone = parse_ke_response(input.first(v.length));
        fuzz::require(alone.outcome == ke_outcome::ok && alone.length == v.length);
        fuzz::require(alone.cookie_count == v.cookie_count);
        fuzz::require(parse_ke_response(input.first(v.length - 1)).outcome ==
                      ke_outcome::incomplete);
    } else {
        fuzz::require(v.length == 0);
    }
}

// The record reader alone: each record inside the input, the walk never overruns.
void check_records(byte_span input) {
    std::size_t at = 0;
    for (;;) {
        const ke_record_result r = next_ke_record(input.subspan(at));
        if (r.st != status::ok) {
            fuzz::require(input.size() - at < ke_record_header + 0xFFFF);
            break;
        }
        fuzz::require(r.size == ke_record_header + r.record.body.size());
        fuzz::require(r.size <= input.size() - at);
        fuzz::require_within(r.record.body, input);
        fuzz::require((r.record.type & ke_critical) == 0);
        at += r.size;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_span input(data, size);
    check_records(input);
    check_request(input);
    check_response(input);
    return 0;
}
