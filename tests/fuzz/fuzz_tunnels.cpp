// libFuzzer target: GRE, L2TP (with its AVP walk, and over IP) and PPTP on the same input.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/parsers/tunnels.hpp"

using namespace ports::parsers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_span in(data, size);

    const gre_view g = parse_gre(in);
    fuzz::require_within(g.payload, in);
    if (g.st == status::ok) {
        fuzz::require(g.header_length <= size);
        fuzz::require(g.payload.data() == in.data() + g.header_length);
    }

    const l2tp_view l = parse_l2tp(in);
    fuzz::require_within(l.body, in);
    if (l.st == status::ok) {
        fuzz::require(l.header_length <= size);
        l2tp_avp_iterator it(l.body);
        std::size_t walked = 0;
        while (const auto avp = it.next()) {
            fuzz::require_within(avp->value, l.body);
            walked += avp->value.size() + 6;
        }
        fuzz::require(walked <= l.body.size());
    }

    const l2tp_view li = parse_l2tp_ip(in);
    fuzz::require_within(li.body, in);
    if (li.st == status::ok) {
        fuzz::require(li.version == 3 && li.header_length <= size);
        fuzz::require(li.control == (li.session_id == 0));
    }

    const pptp_view p = parse_pptp(in);
    fuzz::require_within(p.message, in);
    if (p.st == status::ok) {
        fuzz::require(p.message.size() == p.length && p.control_type >= 1 && p.control_type <= 15);
    }
    return 0;
}
