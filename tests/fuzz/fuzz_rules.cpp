// libFuzzer target: the rules' field extraction on a whole frame, for every class (a frame's
// class comes from classify, but extraction must hold for any), then matching against a small
// set that looks at every field.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/rules.hpp"

using namespace ports;

namespace {

struct compiled {
    rules::slot_map slots;
    std::shared_ptr<const rules::rule_set> set;
    rules::scratch s;

    compiled() {
        set = rules::rule_set::compile(rules::parse_rules(R"(rules:
  - {id: a, class: any, match: {field: payload, regex: "passw(or)?d", flags: [caseless]}, action: count}
  - {id: b, class: any, match: {field: snmp.community, regex: "^(public|private)$"}, action: count}
  - {id: c, class: any, match: {field: snmp.user, regex: "."}, action: count}
  - {id: d, class: any, match: {field: snmp.pdu, regex: "^set$"}, action: count}
  - {id: e, class: any, match: {field: snmp.pdu, equals: 3}, action: count}
  - {id: f, class: any, match: {field: ntp.request_code, equals: 42}, action: count}
  - {id: g, class: any, match: {field: ntp.mode, equals: 7}, action: count}
  - {id: h, class: any, match: {field: l2tp.hostname, regex: "."}, action: count}
  - {id: i, class: any, match: {field: pptp.hostname, regex: "."}, action: count}
  - {id: j, class: any, match: {field: pptp.vendor, regex: "."}, action: count}
  - {id: k, class: any, match: {field: pptp.control_type, equals: 1}, action: count}
  - {id: l, class: any, match: {field: ntp.version, equals: 2}, action: count}
)",
                                                          "fuzz.yaml"),
                                       slots);
        s = rules::scratch(*set);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static compiled c;
    const parsers::byte_span in(data, size);
    for (std::size_t k = 0; k < pipelines::class_count; ++k) {
        const auto cls = static_cast<pipelines::traffic_class>(k);
        const auto v = rules::extract_frame(in, cls, rules::all_fields);
        for (std::size_t f = 0; f < rules::field_count; ++f) {
            const auto fld = static_cast<rules::field>(f);
            if (v.has(fld) && rules::field_has_text(fld) && fld != rules::field::snmp_pdu) {
                fuzz::require_within(v.text_of(fld), in);
            }
        }
    }
    const auto cls = pipelines::classify_frame(in).cls;
    std::uint32_t seen = 0;
    rules::match_frame(*c.set, c.s, in, cls, [&](std::uint32_t i) {
        fuzz::require(i < c.set->size());
        fuzz::require((seen & (1u << i)) == 0);  // once per rule per frame
        seen |= 1u << i;
    });
    return 0;
}
