// libFuzzer target: SNMP message headers.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/parsers/snmp.hpp"

using namespace ports::parsers;

namespace {

bool same_span(byte_span a, byte_span b) {
    return a.size() == b.size() && (a.empty() || a.data() == b.data());
}

// Every field, spans by position.
bool same_view(const snmp_view& a, const snmp_view& b) {
    return a.st == b.st && a.version == b.version && same_span(a.community, b.community) &&
           a.pdu_type == b.pdu_type && a.request_id == b.request_id &&
           a.has_request_id == b.has_request_id && a.msg_id == b.msg_id &&
           a.msg_flags == b.msg_flags && a.security_model == b.security_model &&
           same_span(a.user_name, b.user_name) && same_span(a.context_name, b.context_name) &&
           a.encrypted == b.encrypted;
}

}  // namespace

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
    // Every entry point gives the result of the parser the fast decodes replaced
    // (the general walk, snmp_detail::parse_snmp_walk), whatever the input.
    const snmp_view want = snmp_detail::parse_snmp_walk(in);
    fuzz::require(same_view(v, want));
    fuzz::require(same_view(snmp_detail::parse_snmp_general(in), want));
    if (const auto fast = parse_snmp_v1_v2c(in)) {
        fuzz::require(fast->st == status::ok && same_view(*fast, want));
    }
    return 0;
}
