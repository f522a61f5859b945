// The classify stage: outermost headers decide the class, the class's protocol parser decides
// valid or malformed, and the result names the counters to bump. Pure code over byte spans,
// shared by the engine's workers (mbuf data) and ports-analyze (pcap records).
//
// Rule: IP protocol 47 -> gre; else the destination port when it is a known service port, else
// the source port: UDP/123 ntp, UDP/161 snmp, UDP/162 snmp-trap, UDP or TCP/1701 l2tp,
// TCP/1723 pptp; everything else other. A later IP fragment is never read as transport; a first
// fragment is counted by its ports (and as a fragment) without parsing its partial payload.
#pragma once

#include <array>
#include <cstdint>

#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
#include "ports/parsers/snmp.hpp"
#include "ports/parsers/tunnels.hpp"
#include "ports/pipelines/counters.hpp"

namespace ports::pipelines {

struct classification {
    traffic_class cls = traffic_class::other;
    bool malformed = false;
    bool fragment = false;
    std::uint8_t detail_count = 0;
    std::array<std::uint16_t, 3> detail{};  // counter indexes, valid packets only

    void add_detail(counter c) { add_detail_index(index_of(c)); }
    // Every slot is written with a constant index (the branches fold away wherever the count
    // is known, which is nearly everywhere once inlined): the compiler can then keep the whole
    // result in registers through the classify path instead of in an array on the stack.
    void add_detail_index(std::uint16_t index) {
        if (detail_count == 0) {
            detail[0] = index;
        } else if (detail_count == 1) {
            detail[1] = index;
        } else {
            detail[2] = index;
        }
        ++detail_count;
    }
};

namespace detail {

using parsers::byte_span;
using parsers::status;

inline classification make(traffic_class cls, bool malformed) {
    classification r;
    r.cls = cls;
    r.malformed = malformed;
    return r;
}

// The service class of a port, or other. A switch compiles to a few compares.
inline traffic_class udp_port_class(std::uint16_t port) {
    switch (port) {
        case 123: return traffic_class::ntp;
        case 161: return traffic_class::snmp;
        case 162: return traffic_class::snmp_trap;
        case 1701: return traffic_class::l2tp;
        default: return traffic_class::other;
    }
}
inline traffic_class tcp_port_class(std::uint16_t port) {
    switch (port) {
        case 1701: return traffic_class::l2tp;
        case 1723: return traffic_class::pptp;
        default: return traffic_class::other;
    }
}

[[gnu::noinline]] inline classification classify_ntp(byte_span payload, classification r) {
    const auto v = parsers::parse_ntp(payload);
    if (v.st != status::ok) {
        r.malformed = true;
        return r;
    }
    r.add_detail(static_cast<counter>(index_of(counter::ntp_mode_reserved) +
                                      static_cast<std::uint16_t>(v.mode)));
    if (v.sntp_request) {
        r.add_detail(counter::ntp_sntp_requests);
    }
    if (v.has_mac) {
        r.add_detail(counter::ntp_with_mac);
    } else if (v.extension_count > 0) {
        r.add_detail(counter::ntp_with_extensions);
    }
    return r;
}

[[gnu::always_inline]] inline classification classify_snmp(byte_span payload, classification r) {
    const auto v = parsers::parse_snmp(payload);
    if (v.st != status::ok) {
        r.malformed = true;
        return r;
    }
    // snmp and snmp-trap have the same detail layout; trap counters follow snmp's.
    const std::uint16_t base = r.cls == traffic_class::snmp ? index_of(counter::snmp_version_1)
                                                            : index_of(counter::snmp_trap_version_1);
    const std::uint16_t version_slot = v.version == 0 ? 0 : (v.version == 1 ? 1 : 2);
    r.add_detail_index(static_cast<std::uint16_t>(base + version_slot));
    if (v.encrypted) {
        r.add_detail_index(static_cast<std::uint16_t>(
            base + index_of(counter::snmp_encrypted) - index_of(counter::snmp_version_1)));
    } else if (v.pdu_type >= parsers::snmp_pdu_get && v.pdu_type <= parsers::snmp_pdu_report) {
        r.add_detail_index(static_cast<std::uint16_t>(
            base + index_of(counter::snmp_pdu_get) - index_of(counter::snmp_version_1) +
            (v.pdu_type - parsers::snmp_pdu_get)));
    }
    return r;
}

[[gnu::noinline]] inline classification classify_l2tp(byte_span payload, classification r) {
    const auto v = parsers::parse_l2tp(payload);
    if (v.st != status::ok) {
        r.malformed = true;
        return r;
    }
    r.add_detail(v.version == 2 ? counter::l2tp_version_2 : counter::l2tp_version_3);
    if (!v.control) {
        r.add_detail(counter::l2tp_data);
    } else if (v.message_type == 0) {
        r.add_detail(counter::l2tp_zlb);
    } else {
        r.add_detail(counter::l2tp_control);
    }
    return r;
}

[[gnu::noinline]] inline classification classify_pptp(byte_span payload, classification r) {
    const auto v = parsers::parse_pptp(payload);
    if (v.st != status::ok) {
        r.malformed = true;
        return r;
    }
    r.add_detail_index(static_cast<std::uint16_t>(index_of(counter::pptp_sccrq) + v.control_type - 1));
    return r;
}

[[gnu::always_inline]] inline classification classify_gre(byte_span ip_payload, classification r) {
    const auto v = parsers::parse_gre(ip_payload);
    if (v.st != status::ok) {
        r.malformed = true;
        return r;
    }
    r.add_detail(v.version == 0 ? counter::gre_version_0 : counter::gre_version_1);
    if (v.payload.empty()) {
        r.add_detail(counter::gre_no_payload);
        return r;
    }
    switch (v.protocol) {
        case parsers::ethertype_ipv4: r.add_detail(counter::gre_inner_ipv4); break;
        case parsers::ethertype_ipv6: r.add_detail(counter::gre_inner_ipv6); break;
        case parsers::gre_proto_ppp: r.add_detail(counter::gre_inner_ppp); break;
        case parsers::gre_proto_teb: r.add_detail(counter::gre_inner_ethernet); break;
        case parsers::gre_proto_erspan2:
        case parsers::gre_proto_erspan3: r.add_detail(counter::gre_inner_erspan); break;
        default: r.add_detail(counter::gre_inner_other); break;
    }
    return r;
}

[[gnu::always_inline]] inline classification classify_other(const parsers::layers& l) {
    classification r = make(traffic_class::other, false);
    if (l.l3 == parsers::l3_kind::none) {
        r.malformed = l.st != status::ok;
        if (!r.malformed) {
            r.add_detail(l.ethertype == parsers::ethertype_arp ? counter::other_arp
                                                               : counter::other_non_ip);
        }
        return r;
    }
    r.add_detail(l.l3 == parsers::l3_kind::ipv4 ? counter::other_ipv4 : counter::other_ipv6);
    if (l.later_fragment) {
        r.add_detail(counter::other_later_fragment);
    }
    return r;
}

// frame: the bytes the layers were parsed from.
[[gnu::always_inline]] inline classification classify_layers(const parsers::layers& l, byte_span frame) {
    if (l.st != status::ok) {
        // Broken below the transport header: other, malformed, and no detail (details count
        // valid packets only).
        return make(traffic_class::other, true);
    }
    if (l.l3 == parsers::l3_kind::none) {
        return classify_other(l);
    }
    const byte_span l4 = frame.subspan(l.l4_offset, l.l4_length);
    if (l.l4_proto == parsers::ipproto_gre) {
        classification r = make(traffic_class::gre, l.truncated);
        r.fragment = l.fragment;
        // A fragment's or a cut datagram's GRE header may be there, but details count valid
        // packets only.
        return (l.fragment || l.truncated) ? r : classify_gre(l4, r);
    }
    if (l.later_fragment) {
        return classify_other(l);
    }
    if (l.l4_proto == parsers::ipproto_udp) {
        const auto u = parsers::parse_udp(l4);
        if (u.st == status::truncated) {
            return make(traffic_class::other, true);
        }
        traffic_class cls = udp_port_class(u.dst_port);
        if (cls == traffic_class::other) {
            cls = udp_port_class(u.src_port);
        }
        if (cls == traffic_class::other) {
            return classify_other(l);
        }
        classification r = make(cls, false);
        if (l.fragment) {
            // The UDP length covers the whole datagram; the payload here is a piece of it.
            r.fragment = true;
            return r;
        }
        if (u.st != status::ok || l.truncated) {
            r.malformed = true;
            return r;
        }
        switch (cls) {
            case traffic_class::ntp: return classify_ntp(u.payload, r);
            case traffic_class::snmp:
            case traffic_class::snmp_trap: return classify_snmp(u.payload, r);
            default: return classify_l2tp(u.payload, r);
        }
    }
    if (l.l4_proto == parsers::ipproto_tcp) {
        const auto t = parsers::parse_tcp(l4);
        if (t.st != status::ok) {
            // Ports may be readable, but a TCP header we cannot bound carries no payload.
            return make(traffic_class::other, true);
        }
        traffic_class cls = tcp_port_class(t.dst_port);
        if (cls == traffic_class::other) {
            cls = tcp_port_class(t.src_port);
        }
        if (cls == traffic_class::other) {
            return classify_other(l);
        }
        classification r = make(cls, l.truncated);
        if (l.fragment) {
            r.fragment = true;
            return r;
        }
        if (l.truncated) {
            return r;
        }
        if (cls == traffic_class::pptp) {
            if (t.payload.empty()) {
                r.add_detail(counter::pptp_tcp_no_payload);
                return r;
            }
            return classify_pptp(t.payload, r);
        }
        if (t.payload.empty()) {
            r.add_detail(counter::l2tp_over_tcp);
            r.add_detail(counter::l2tp_tcp_no_payload);
            return r;
        }
        r = classify_l2tp(t.payload, r);
        if (!r.malformed) {
            r.add_detail(counter::l2tp_over_tcp);
        }
        return r;
    }
    return classify_other(l);
}

// Every frame but untagged IPv4: the same walk, out of line.
[[gnu::noinline]] inline classification classify_frame_other(byte_span frame) {
    return classify_layers(parsers::parse_ethernet(frame), frame);
}

}  // namespace detail

// An Ethernet frame, as a DPDK port delivers it. Untagged IPv4, nearly every frame, gets its
// own inlined copy of the walk, in which what that path knows (IPv4, no tags) folds into
// constants and the result stays in registers up to count(); the rest takes the shared copy.
[[gnu::always_inline]] inline classification classify_frame(parsers::byte_span frame) {
    constexpr std::size_t ethertype_offset = 12;
    if (frame.size() >= ethertype_offset + 2 &&
        parsers::load_be16(frame.data() + ethertype_offset) == parsers::ethertype_ipv4) [[likely]] {
        return detail::classify_layers(parsers::parse_ethernet(frame), frame);
    }
    return detail::classify_frame_other(frame);
}

// A network-layer packet whose ethertype the capture's link type gives (ports-analyze).
inline classification classify_l3(std::uint16_t ethertype, parsers::byte_span l3) {
    return detail::classify_layers(parsers::parse_l3(ethertype, l3), l3);
}

// One packet's counters: class packets, bytes, malformed, fragments and its details.
// The common shape (valid, not a fragment, one detail) is tested first: inlined after
// classify_frame, each path knows its shape, so the compiler jumps straight to the right block.
[[gnu::always_inline]] inline void count(core_counters& c, const classification& r,
                                         std::uint32_t bytes) {
    const std::uint16_t base = class_base[static_cast<std::size_t>(r.cls)];
    // Separate statements: written as one condition, GCC merges the adjacent bool fields into
    // one 16-bit load, and the result then has to live in memory instead of registers.
    const bool malformed = r.malformed;
    const bool fragment = r.fragment;
    const bool one_detail = r.detail_count == 1;
    if (!malformed && !fragment && one_detail) [[likely]] {
        c.add(base, 1);
        c.add(base + offset_bytes, bytes);
        c.add(r.detail[0], 1);
        return;
    }
    c.add(base, 1);
    c.add(base + offset_bytes, bytes);
    if (malformed) {
        c.add(base + offset_malformed, 1);
    }
    if (fragment) {
        c.add(base + offset_fragments, 1);
    }
    // Unrolled with constant indexes, for the reason given at add_detail_index.
    if (r.detail_count > 0) {
        c.add(r.detail[0], 1);
        if (r.detail_count > 1) {
            c.add(r.detail[1], 1);
            if (r.detail_count > 2) {
                c.add(r.detail[2], 1);
            }
        }
    }
}

}  // namespace ports::pipelines
