// libFuzzer target: SNMP message headers.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/parsers/snmp.hpp"

using namespace ports::parsers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_span in(data, size);
    const snmp_view v = parse_snmp(in);
    fuzz::require_within(v.community, in);
    fuzz::require_within(v.user_name, in);
    fuzz::require_within(v.context_name, in);
    if (v.st == status::ok) {
        fuzz::require(v.version == 0 || v.version == 1 || v.version == 3);
        fuzz::require(v.encrypted ? v.pdu_type == 0 : (v.pdu_type >= 0xA0 && v.pdu_type <= 0xA8));
    }
    return 0;
}
