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
    // The inline v1/v2c path gives the general walk's exact result wherever it claims one.
    if (const auto fast = parse_snmp_v1_v2c(in)) {
        const snmp_view g = snmp_detail::parse_snmp_general(in);
        fuzz::require(fast->st == status::ok && g.st == status::ok);
        fuzz::require(fast->version == g.version && fast->pdu_type == g.pdu_type);
        fuzz::require(fast->community.data() == g.community.data() &&
                      fast->community.size() == g.community.size());
        fuzz::require(fast->request_id == g.request_id && fast->has_request_id == g.has_request_id);
        fuzz::require(!g.encrypted && g.msg_id == 0 && g.msg_flags == 0 && g.security_model == 0);
        fuzz::require(g.user_name.empty() && g.context_name.empty());
    }
    return 0;
}
