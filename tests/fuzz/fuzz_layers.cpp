// libFuzzer target: Ethernet and raw-IP walks, then UDP and TCP at the offsets they report, and
// the IP-in-IP look-through inside them.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "ports/parsers/layers.hpp"

using namespace ports::parsers;

namespace {

void check(const layers& l, byte_span in) {
    fuzz::require(l.vlan_count <= 2);
    if (l.l3 != l3_kind::none) {
        fuzz::require(l.l3_offset <= in.size());
    }
    if (l.st != status::ok || l.l4_offset == 0) {
        return;
    }
    fuzz::require(static_cast<std::size_t>(l.l4_offset) + l.l4_length <= in.size());
    fuzz::require(l.later_fragment ? l.fragment : true);
    const byte_span l4 = in.subspan(l.l4_offset, l.l4_length);
    const udp_view u = parse_udp(l4);
    fuzz::require_within(u.payload, l4);
    const tcp_view t = parse_tcp(l4);
    fuzz::require_within(t.payload, l4);
    if (t.st == status::ok) {
        fuzz::require(t.header_length >= 20 && t.header_length <= l4.size());
    }
    if ((l.l4_proto == ipproto_ipip || l.l4_proto == ipproto_ipv6) && !l.fragment &&
        l.ip_in_ip < ip_in_ip_max_depth) {
        const layers inner = parse_ip_in_ip(l, in);
        fuzz::require(inner.ip_in_ip == l.ip_in_ip + 1 && inner.vlan_count == l.vlan_count);
        fuzz::require(inner.l3_offset == l.l4_offset);
        // The inner datagram lies within the outer one.
        if (inner.st == status::ok && inner.l4_offset != 0) {
            fuzz::require(static_cast<std::size_t>(inner.l4_offset) + inner.l4_length <=
                          static_cast<std::size_t>(l.l4_offset) + l.l4_length);
        }
        check(inner, in);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_span in(data, size);
    check(parse_ethernet(in), in);
    check(parse_l3(ethertype_ipv4, in), in);
    check(parse_l3(ethertype_ipv6, in), in);
    return 0;
}
