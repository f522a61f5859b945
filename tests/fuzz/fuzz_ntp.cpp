// libFuzzer target: NTP in every mode.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/parsers/ntp.hpp"

using namespace ports::parsers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_span in(data, size);
    const ntp_view v = parse_ntp(in);
    if (v.has_mac) {
        fuzz::require(v.st == status::ok);
        fuzz::require(static_cast<std::size_t>(v.mac_offset) + 4 + v.mac_digest_length == size);
    }
    if (v.sntp_request) {
        fuzz::require(v.mode == ntp_mode::client && size == 48);
    }
    if (v.st == status::ok && v.mode == ntp_mode::control) {
        fuzz::require(12u + v.control_count <= size);
    }
    return 0;
}
