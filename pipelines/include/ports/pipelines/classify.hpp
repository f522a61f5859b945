// The classify stage: outermost headers decide the class, the class's protocol parser decides
// valid or malformed, and the result names the counters to bump. Pure code over byte spans,
// shared by the engine's workers (mbuf data) and ports-analyze (pcap records).
//
// Rule: IP protocol 47 -> gre; IP protocol 115 -> l2tp (L2TPv3 over IP); else the destination
// port when it is a known service port, else the source port: UDP/123 ntp, UDP/161 snmp,
// UDP/162 snmp-trap, UDP or TCP/1701 l2tp, UDP/4754 gre (GRE in UDP, RFC 8086), TCP/1723 pptp;
// everything else other. IP-in-IP (protocols 4 and 41, either family in either) is looked
// through like a VLAN tag, up to parsers::ip_in_ip_max_depth (2) headers, deeper is other,
// unsupported; a fragmented outer datagram is not looked through (other). A later IP fragment
// is never read as transport; a first fragment is counted by its ports (and as a fragment)
// without parsing its partial payload.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
#include "ports/parsers/snmp.hpp"
#include "ports/parsers/tunnels.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"

namespace ports::pipelines {

struct classification {
    traffic_class cls = traffic_class::other;
    bool malformed = false;
    parsers::status reason = parsers::status::ok;  // why it is malformed
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

// Where a classification goes. The walk below is written once, generic over a sink, and
// reports each packet at its terminal point: packet() once (class, malformed reason - ok when
// valid -, fragment), then detail() once per detail counter, in order. At most terminal points
// the class and the flags are constants, so an inlined sink sees constants too.
//
// A sink whose `records` is true also gets what the walk learned on its way (layers(), l7(),
// and the class parser's view: ntp(), snmp(), l2tp(), pptp(), gre()) to fill a frame_record;
// for the others those calls are empty and the walk does no work for them (if constexpr).
//
// recording_sink builds a classification (ports-analyze, tests). counting_sink bumps the
// counters directly: inlined at every terminal point, each path writes its own counters at
// constant offsets, with no classification in between. record_sink fills a frame_record;
// counting_record_sink is both, the worker's.
struct no_record {
    static constexpr bool records = false;
    // A sink that records only the frames of the tunnel classes (tunnel_record_sink) gets their
    // layers where the walk learns that a frame is one (tunnel_layers), never for the others.
    static constexpr bool tunnel_records = false;
    [[gnu::always_inline]] void tunnel_layers(const parsers::layers&) const {}
    [[gnu::always_inline]] void layers(const parsers::layers&) const {}
    [[gnu::always_inline]] void l7(parsers::byte_span, std::uint16_t, std::uint16_t,
                                   bool = true) const {}
    [[gnu::always_inline]] void ntp(const parsers::ntp_view&) const {}
    [[gnu::always_inline]] void snmp(const parsers::snmp_view&) const {}
    [[gnu::always_inline]] void l2tp(const parsers::l2tp_view&) const {}
    [[gnu::always_inline]] void pptp(const parsers::pptp_view&) const {}
    [[gnu::always_inline]] void gre(const parsers::gre_view&) const {}
};

struct recording_sink : no_record {
    classification* r;

    [[gnu::always_inline]] void packet(traffic_class cls, parsers::status reason,
                                       bool fragment) const {
        r->cls = cls;
        r->malformed = reason != parsers::status::ok;
        r->reason = reason;
        r->fragment = fragment;
    }
    [[gnu::always_inline]] void detail(std::uint16_t index) const { r->add_detail_index(index); }
};

struct counting_sink : no_record {
    core_counters* c;
    std::uint32_t bytes;

    [[gnu::always_inline]] void packet(traffic_class cls, parsers::status reason,
                                       bool fragment) const {
        const std::uint16_t base = class_base[static_cast<std::size_t>(cls)];
        c->add(base, 1);
        c->add(base + offset_bytes, bytes);
        if (reason != parsers::status::ok) {
            c->add(base + offset_malformed, 1);
            c->add(malformed_reason_index(cls, reason), 1);
        }
        if (fragment) {
            c->add(base + offset_fragments, 1);
        }
    }
    [[gnu::always_inline]] void detail(std::uint16_t index) const { c->add(index, 1); }
};

// Fills a frame_record; base: the first byte of what the walk was given (offsets count
// from it).
struct record_sink {
    static constexpr bool records = true;
    static constexpr bool tunnel_records = false;  // layers() took every frame's already
    [[gnu::always_inline]] void tunnel_layers(const parsers::layers&) const {}
    frame_record* r;
    const std::uint8_t* base;

    frame_part part(parsers::byte_span s) const {
        return {static_cast<std::uint16_t>(s.data() - base), static_cast<std::uint16_t>(s.size())};
    }
    [[gnu::always_inline]] void packet(traffic_class cls, parsers::status reason,
                                       bool fragment) const {
        r->cls = cls;
        r->reason = reason;
        r->fragment = fragment;
    }
    [[gnu::always_inline]] void detail(std::uint16_t) const {}
    [[gnu::always_inline]] void layers(const parsers::layers& l) const {
        r->has_layers = true;
        r->layer_status = l.st;
        r->vlan_count = l.vlan_count;
        r->l3 = l.l3;
        r->l4_proto = l.l4_proto;
        r->ethertype = l.ethertype;
        r->ip_fragment = l.fragment;
        r->later_fragment = l.later_fragment;
        r->truncated = l.truncated;
        r->pppoe = l.pppoe;
        r->l3_offset = l.l3_offset;
        r->l4_offset = l.l4_offset;
        r->l4_length = l.l4_length;
        r->ip_in_ip = l.ip_in_ip;
        r->outer_l3_offset = l.outer_l3_offset;
    }
    [[gnu::always_inline]] void l7(parsers::byte_span payload, std::uint16_t src_port,
                                   std::uint16_t dst_port, bool l4_ok = true) const {
        r->has_l7 = true;
        r->l4_ok = l4_ok;
        r->l7 = part(payload);
        r->src_port = src_port;
        r->dst_port = dst_port;
    }
    [[gnu::always_inline]] void ntp(const parsers::ntp_view& v) const {
        r->parsed = true;
        r->f.ntp = {v.version, static_cast<std::uint8_t>(v.mode), v.request_code, v.extension_count,
                    v.has_mac};
    }
    [[gnu::always_inline]] void snmp(const parsers::snmp_view& v) const {
        r->parsed = true;
        snmp_fields& f = r->f.snmp;
        f.version = static_cast<std::int8_t>(v.version);
        f.pdu_type = v.pdu_type;
        f.encrypted = v.encrypted;
        f.usm = v.version == 3 && v.security_model == 3;
        f.community = v.version == 0 || v.version == 1 ? part(v.community) : frame_part{};
        f.user = f.usm ? part(v.user_name) : frame_part{};
    }
    [[gnu::always_inline]] void l2tp(const parsers::l2tp_view& v) const {
        r->parsed = true;
        l2tp_fields& f = r->f.l2tp;
        f.version = v.version;
        f.control = v.control;
        f.message_type = v.message_type;
        f.tunnel_id = v.tunnel_id;
        f.session_id = v.session_id;
        f.has_host_name = false;
        if (v.control) {
            if (const auto host = parsers::l2tp_host_name(v.body)) {
                f.has_host_name = true;
                f.host_name = part(*host);
            }
        }
    }
    [[gnu::always_inline]] void pptp(const parsers::pptp_view& v) const {
        r->parsed = true;
        pptp_fields& f = r->f.pptp;
        f.control_type = v.control_type;
        f.sccr = false;
        if (const auto s = parsers::pptp_sccr(v)) {
            f.sccr = true;
            f.host_name = part(s->host_name);
            f.vendor = part(s->vendor);
        }
    }
    [[gnu::always_inline]] void gre(const parsers::gre_view& v) const {
        r->parsed = true;
        r->f.gre = {v.version, v.key_present, v.protocol, v.call_id, v.key};
    }
};

// Both: the worker's sink (counters and the burst's records in one walk).
struct counting_record_sink : record_sink {
    counting_sink counting;

    [[gnu::always_inline]] void packet(traffic_class cls, parsers::status reason,
                                       bool fragment) const {
        counting.packet(cls, reason, fragment);
        record_sink::packet(cls, reason, fragment);
    }
    [[gnu::always_inline]] void detail(std::uint16_t index) const { counting.detail(index); }
};

// The tunnel stage's sink where no other stage needs records (tunnels/track.hpp): counts as
// counting_sink, and fills the record of a frame of a tunnel class (PPTP, GRE, L2TP) as
// record_sink would - the layers where the walk learns it is one, its payload, the class
// parser's view - while any other frame costs only its class and payload span in the record.
// Nothing is walked twice.
struct counting_tunnel_record_sink : counting_sink {
    static constexpr bool tunnel_records = true;
    record_sink record;

    [[gnu::always_inline]] void packet(traffic_class cls, parsers::status reason,
                                       bool fragment) const {
        counting_sink::packet(cls, reason, fragment);
        record.packet(cls, reason, fragment);
    }
    [[gnu::always_inline]] void tunnel_layers(const parsers::layers& l) const { record.layers(l); }
    [[gnu::always_inline]] void l7(parsers::byte_span payload, std::uint16_t src_port,
                                   std::uint16_t dst_port, bool l4_ok = true) const {
        record.l7(payload, src_port, dst_port, l4_ok);
    }
    [[gnu::always_inline]] void l2tp(const parsers::l2tp_view& v) const { record.l2tp(v); }
    [[gnu::always_inline]] void pptp(const parsers::pptp_view& v) const { record.pptp(v); }
    [[gnu::always_inline]] void gre(const parsers::gre_view& v) const { record.gre(v); }
};

namespace detail {

using parsers::byte_span;
using parsers::status;

// The service class of a port, or other. A switch compiles to a few compares.
constexpr traffic_class udp_port_class(std::uint16_t port) {
    switch (port) {
        case 123:
            return traffic_class::ntp;
        case 161:
            return traffic_class::snmp;
        case 162:
            return traffic_class::snmp_trap;
        case 1701:
            return traffic_class::l2tp;
        case 4754:
            return traffic_class::gre;
        default:
            return traffic_class::other;
    }
}
constexpr traffic_class tcp_port_class(std::uint16_t port) {
    switch (port) {
        case 1701:
            return traffic_class::l2tp;
        case 1723:
            return traffic_class::pptp;
        default:
            return traffic_class::other;
    }
}

// The class of a UDP or TCP datagram: the destination port when it is a service port, else
// the source port.
inline traffic_class udp_class(std::uint16_t src_port, std::uint16_t dst_port) {
    const traffic_class cls = udp_port_class(dst_port);
    return cls != traffic_class::other ? cls : udp_port_class(src_port);
}
inline traffic_class tcp_class(std::uint16_t src_port, std::uint16_t dst_port) {
    const traffic_class cls = tcp_port_class(dst_port);
    return cls != traffic_class::other ? cls : tcp_port_class(src_port);
}

// Both TCP service ports are 0x06xx, so a segment with neither port's high byte 0x06 is other
// without looking further: one byte compare per port instead of the whole switch, on the most
// common packet there is. Checked below for every port against tcp_port_class.
inline constexpr std::uint8_t tcp_service_port_high_byte = 0x06;
constexpr bool may_be_tcp_service_high_byte(std::uint8_t port_high_byte) {
    return port_high_byte == tcp_service_port_high_byte;
}
constexpr bool tcp_service_ports_share_high_byte() {
    for (std::uint32_t port = 0; port <= 0xFFFF; ++port) {
        if (tcp_port_class(static_cast<std::uint16_t>(port)) != traffic_class::other &&
            !may_be_tcp_service_high_byte(static_cast<std::uint8_t>(port >> 8))) {
            return false;
        }
    }
    return true;
}
static_assert(tcp_service_ports_share_high_byte(),
              "a TCP service port outside 0x06xx: update tcp_service_port_high_byte");

constexpr std::uint16_t plus(counter c, unsigned n) {
    return static_cast<std::uint16_t>(index_of(c) + n);
}

template <typename Sink>
[[gnu::noinline]] void classify_ntp_general(byte_span payload, Sink s) {
    const auto v = parsers::parse_ntp(payload);
    if (v.st != status::ok) {
        s.packet(traffic_class::ntp, v.st, false);
        return;
    }
    s.ntp(v);
    s.packet(traffic_class::ntp, status::ok, false);
    s.detail(plus(counter::ntp_mode_reserved, static_cast<unsigned>(v.mode)));
    if (v.sntp_request) {
        s.detail(index_of(counter::ntp_sntp_requests));
    }
    if (v.has_mac) {
        s.detail(index_of(counter::ntp_with_mac));
    } else if (v.extension_count > 0) {
        s.detail(index_of(counter::ntp_with_extensions));
    }
}

// The common message inline: exactly the 48-byte header (no extension field, no MAC) of
// version 1..4 in mode 0..5, which parse_ntp accepts as it is (modes 6 and 7 have headers of
// their own); its record needs only version and mode. Anything else: the general parse, out of
// line. The unit test NtpFastPathParsesAsParseNtp holds it to parse_ntp.
template <typename Sink>
[[gnu::always_inline]] inline void classify_ntp(byte_span payload, Sink s) {
    if (payload.size() == parsers::ntp_detail::header_length) [[likely]] {
        const std::uint8_t b0 = payload[0];
        const auto version = static_cast<std::uint8_t>((b0 >> 3) & 0x07);
        const auto mode = static_cast<unsigned>(b0 & 0x07);
        if (static_cast<unsigned>(version - 1) < 4 && mode <= 5) [[likely]] {
            if constexpr (Sink::records) {
                parsers::ntp_view v;
                v.version = version;
                v.mode = static_cast<parsers::ntp_mode>(mode);
                s.ntp(v);
            }
            s.packet(traffic_class::ntp, status::ok, false);
            s.detail(plus(counter::ntp_mode_reserved, mode));
            if (mode == 3 && parsers::ntp_detail::sntp_request_body(payload.data())) {
                s.detail(index_of(counter::ntp_sntp_requests));
            }
            return;
        }
    }
    classify_ntp_general(payload, s);
}

// snmp and snmp-trap have the same detail layout; trap counters follow snmp's.
template <traffic_class Cls, typename Sink>
[[gnu::always_inline]] inline void report_snmp(parsers::snmp_view v, Sink s) {
    static_assert(Cls == traffic_class::snmp || Cls == traffic_class::snmp_trap);
    constexpr std::uint16_t base = Cls == traffic_class::snmp
                                       ? index_of(counter::snmp_version_1)
                                       : index_of(counter::snmp_trap_version_1);
    constexpr auto rel = [](counter c) {
        return static_cast<std::uint16_t>(index_of(c) - index_of(counter::snmp_version_1));
    };
    if (v.st != status::ok) {
        s.packet(Cls, v.st, false);
        return;
    }
    s.snmp(v);
    s.packet(Cls, status::ok, false);
    const std::uint16_t version_slot = v.version == 0 ? 0 : (v.version == 1 ? 1 : 2);
    s.detail(static_cast<std::uint16_t>(base + version_slot));
    if (v.encrypted) {
        s.detail(static_cast<std::uint16_t>(base + rel(counter::snmp_encrypted)));
    } else if (v.pdu_type >= parsers::snmp_pdu_get && v.pdu_type <= parsers::snmp_pdu_report) {
        s.detail(static_cast<std::uint16_t>(base + rel(counter::snmp_pdu_get) +
                                            (v.pdu_type - parsers::snmp_pdu_get)));
    }
}

// Every message the inline path declines (v3, errors, unusual encodings): parse_snmp's result
// for those is the general walk's.
template <traffic_class Cls, typename Sink>
[[gnu::noinline]] void classify_snmp_general(byte_span payload, Sink s) {
    report_snmp<Cls>(parsers::snmp_detail::parse_snmp_general(payload), s);
}

// The common v1/v2c message is reported here from the inline decode, whose result is known to
// be ok, v1/v2c and plain, so only the version and PDU slots are left to compute; the rest
// goes out of line without merging back, so this path never holds a whole snmp_view.
template <traffic_class Cls, typename Sink>
[[gnu::always_inline]] inline void classify_snmp(byte_span payload, Sink s) {
    if (const auto v = parsers::parse_snmp_v1_v2c(payload)) [[likely]] {
        report_snmp<Cls>(*v, s);
        return;
    }
    classify_snmp_general<Cls>(payload, s);
}

enum class l2tp_carrier : std::uint8_t { udp, tcp, ip };

// carrier: what the L2TP header came in (over TCP and over IP add a detail after the others).
template <typename Sink>
[[gnu::noinline]] void classify_l2tp(byte_span payload, l2tp_carrier carrier, Sink s) {
    const auto v = carrier == l2tp_carrier::ip ? parsers::parse_l2tp_ip(payload)
                                               : parsers::parse_l2tp(payload);
    if (v.st != status::ok) {
        s.packet(traffic_class::l2tp, v.st, false);
        return;
    }
    s.l2tp(v);
    s.packet(traffic_class::l2tp, status::ok, false);
    s.detail(index_of(v.version == 2 ? counter::l2tp_version_2 : counter::l2tp_version_3));
    if (!v.control) {
        s.detail(index_of(counter::l2tp_data));
    } else if (v.message_type == 0) {
        s.detail(index_of(counter::l2tp_zlb));
    } else {
        s.detail(index_of(counter::l2tp_control));
    }
    if (carrier == l2tp_carrier::tcp) {
        s.detail(index_of(counter::l2tp_over_tcp));
    } else if (carrier == l2tp_carrier::ip) {
        s.detail(index_of(counter::l2tp_over_ip));
    }
}

template <typename Sink>
[[gnu::noinline]] void classify_pptp(byte_span payload, Sink s) {
    const auto v = parsers::parse_pptp(payload);
    if (v.st != status::ok) {
        s.packet(traffic_class::pptp, v.st, false);
        return;
    }
    s.pptp(v);
    s.packet(traffic_class::pptp, status::ok, false);
    s.detail(plus(counter::pptp_sccrq, v.control_type - 1u));
}

// The gre_inner_* detail of a GRE protocol field: a perfect hash of the six protocols with a
// detail of their own into eight slots (a multiply, a load and a compare where a chain of
// compares took nine instructions), every other value inner_other.
struct gre_inner_slot {
    std::uint16_t protocol;
    std::uint16_t detail;
};
constexpr unsigned gre_inner_hash(std::uint16_t protocol) {
    return ((std::uint32_t{protocol} * 0x1D) >> 8) & 7;
}
constexpr std::array<gre_inner_slot, 8> gre_inner_slots() {
    // Unused slots say inner_other, whatever protocol they match.
    std::array<gre_inner_slot, 8> t{};
    for (auto& slot : t) {
        slot = {0, index_of(counter::gre_inner_other)};
    }
    const gre_inner_slot named[] = {
        {parsers::ethertype_ipv4, index_of(counter::gre_inner_ipv4)},
        {parsers::ethertype_ipv6, index_of(counter::gre_inner_ipv6)},
        {parsers::gre_proto_ppp, index_of(counter::gre_inner_ppp)},
        {parsers::gre_proto_teb, index_of(counter::gre_inner_ethernet)},
        {parsers::gre_proto_erspan2, index_of(counter::gre_inner_erspan)},
        {parsers::gre_proto_erspan3, index_of(counter::gre_inner_erspan)},
    };
    for (const auto& n : named) {
        t[gre_inner_hash(n.protocol)] = n;
    }
    return t;
}
inline constexpr std::array<gre_inner_slot, 8> gre_inner_table = gre_inner_slots();
constexpr bool gre_inner_hash_is_perfect() {
    const std::uint16_t named[] = {parsers::ethertype_ipv4,    parsers::ethertype_ipv6,
                                   parsers::gre_proto_ppp,     parsers::gre_proto_teb,
                                   parsers::gre_proto_erspan2, parsers::gre_proto_erspan3};
    for (const auto p : named) {
        if (gre_inner_table[gre_inner_hash(p)].protocol != p) {
            return false;
        }
    }
    return true;
}
static_assert(gre_inner_hash_is_perfect(), "the GRE protocols collide: pick another multiplier");
[[gnu::always_inline]] inline std::uint16_t gre_inner_detail(std::uint16_t protocol) {
    const gre_inner_slot& slot = gre_inner_table[gre_inner_hash(protocol)];
    return slot.protocol == protocol ? slot.detail : index_of(counter::gre_inner_other);
}

// A GRE header's report (the view's st may be any status).
template <bool UdpEncap, typename Sink>
[[gnu::always_inline]] inline void report_gre(parsers::gre_view v, Sink s, std::uint16_t src_port,
                                              std::uint16_t dst_port) {
    if (v.st != status::ok) {
        s.packet(traffic_class::gre, v.st, false);
        return;
    }
    s.gre(v);
    s.l7(v.payload, src_port, dst_port);
    s.packet(traffic_class::gre, status::ok, false);
    s.detail(index_of(v.version == 0 ? counter::gre_version_0 : counter::gre_version_1));
    if constexpr (UdpEncap) {
        s.detail(index_of(counter::gre_udp_encap));
    }
    if (v.payload.empty()) {
        s.detail(index_of(counter::gre_no_payload));
        return;
    }
    s.detail(gre_inner_detail(v.protocol));
}

// Every header parse_gre_v0 declines (version 1, flags it refuses, cut headers): out of line.
template <bool UdpEncap, typename Sink>
[[gnu::noinline]] void classify_gre_general(byte_span ip_payload, Sink s, std::uint16_t src_port,
                                            std::uint16_t dst_port) {
    report_gre<UdpEncap>(parsers::tunnels_detail::parse_gre_general(ip_payload), s, src_port,
                         dst_port);
}

// A whole (not fragmented, not cut) GRE datagram: the IP payload of protocol 47 or, with
// UdpEncap, a UDP/4754 payload (RFC 8086), whose ports stay in the record. The common version 0
// header is reported from the inline decode, whose result is known to be ok and version 0; the
// rest goes out of line without merging back, so this path never holds a gre_view in memory.
template <bool UdpEncap = false, typename Sink>
[[gnu::always_inline]] inline void classify_gre(byte_span ip_payload, Sink s,
                                                std::uint16_t src_port = 0,
                                                std::uint16_t dst_port = 0) {
    if (const auto v = parsers::parse_gre_v0(ip_payload); v.st == status::ok) [[likely]] {
        report_gre<UdpEncap>(v, s, src_port, dst_port);
        return;
    }
    classify_gre_general<UdpEncap>(ip_payload, s, src_port, dst_port);
}

// A valid IP packet that no service claims.
template <typename Sink>
[[gnu::always_inline]] inline void report_other_ip(parsers::l3_kind l3, bool later_fragment,
                                                   Sink s) {
    s.packet(traffic_class::other, status::ok, false);
    s.detail(index_of(l3 == parsers::l3_kind::ipv4 ? counter::other_ipv4 : counter::other_ipv6));
    if (later_fragment) {
        s.detail(index_of(counter::other_later_fragment));
    }
}

// Valid layers that no service claims.
template <typename Sink>
[[gnu::always_inline]] inline void classify_other(const parsers::layers& l, Sink s) {
    if (l.l3 == parsers::l3_kind::none) {
        if (l.st != status::ok) {
            s.packet(traffic_class::other, l.st, false);
            return;
        }
        s.packet(traffic_class::other, status::ok, false);
        s.detail(index_of(l.ethertype == parsers::ethertype_arp ? counter::other_arp
                                                                : counter::other_non_ip));
        return;
    }
    report_other_ip(l.l3, l.later_fragment, s);
}

// What the TCP rule needs of the IP layer, in one register.
struct ip_facts {
    parsers::l3_kind l3;
    bool fragment;
    bool truncated;
};

// A TCP segment (not a later fragment) with a whole header whose ports may name a service
// (see may_be_tcp_service_high_byte): the rest of the TCP rule, out of line. Everything by value in
// registers, so that the inlined caller never has to keep its layers in memory; the header is
// read again here, which only this rare path pays for.
template <typename Sink>
[[gnu::noinline]] void classify_tcp_service(ip_facts ip, byte_span l4, Sink s) {
    const auto t = parsers::parse_tcp(l4);
    const traffic_class cls = tcp_class(t.src_port, t.dst_port);
    if (cls == traffic_class::other) {
        report_other_ip(ip.l3, false, s);
        return;
    }
    if (ip.fragment || ip.truncated) {
        s.packet(cls, ip.truncated ? status::truncated : status::ok, ip.fragment);
        return;
    }
    if (cls == traffic_class::pptp) {
        if (t.payload.empty()) {
            s.packet(traffic_class::pptp, status::ok, false);
            s.detail(index_of(counter::pptp_tcp_no_payload));
            return;
        }
        classify_pptp(t.payload, s);
        return;
    }
    if (t.payload.empty()) {
        s.packet(traffic_class::l2tp, status::ok, false);
        s.detail(index_of(counter::l2tp_over_tcp));
        s.detail(index_of(counter::l2tp_tcp_no_payload));
        return;
    }
    classify_l2tp(t.payload, l2tp_carrier::tcp, s);
}

// The layers of a datagram classify_ip_rare takes, packed into two registers: passing the
// layers themselves (by reference or, at their size, by value in memory) made GCC keep them on
// the stack on every path of the inlined walk, the common ones too.
struct rare_ip {
    std::uint16_t l3_offset;
    std::uint16_t l4_offset;
    std::uint16_t l4_length;
    std::uint16_t ethertype;
    std::uint16_t outer_l3_offset;
    std::uint8_t l4_proto;
    std::uint8_t ip_in_ip;
    std::uint8_t vlan_count;
    parsers::l3_kind l3;
    bool pppoe : 1;
    bool truncated : 1;
    bool fragment : 1;

    static rare_ip of(const parsers::layers& l) {
        return {l.l3_offset, l.l4_offset,  l.l4_length, l.ethertype, l.outer_l3_offset, l.l4_proto,
                l.ip_in_ip,  l.vlan_count, l.l3,        l.pppoe,     l.truncated,       l.fragment};
    }
    parsers::layers layers() const {
        parsers::layers l;
        l.vlan_count = vlan_count;
        l.pppoe = pppoe;
        l.ethertype = ethertype;
        l.l3 = l3;
        l.l4_proto = l4_proto;
        l.fragment = fragment;
        l.truncated = truncated;
        l.l3_offset = l3_offset;
        l.l4_offset = l4_offset;
        l.l4_length = l4_length;
        l.ip_in_ip = ip_in_ip;
        l.outer_l3_offset = outer_l3_offset;
        return l;
    }
};
static_assert(sizeof(rare_ip) <= 16, "rare_ip must fit two registers");

template <typename Sink>
[[gnu::noinline]] void classify_ip_rare(rare_ip ip, byte_span frame, Sink s);

// GRE in UDP, out of line: rare, and the inlined UDP path stays small.
template <typename Sink>
[[gnu::noinline]] void classify_gre_in_udp(byte_span payload, std::uint16_t src_port,
                                           std::uint16_t dst_port, Sink s) {
    classify_gre<true>(payload, s, src_port, dst_port);
}

// frame: the bytes the layers were parsed from.
template <typename Sink>
[[gnu::always_inline]] inline void classify_layers(const parsers::layers& l, byte_span frame,
                                                   Sink s) {
    if constexpr (Sink::records) {
        s.layers(l);
    }
    if (l.st != status::ok) {
        // Broken below the transport header: other, malformed, and no detail (details count
        // valid packets only).
        s.packet(traffic_class::other, l.st, false);
        return;
    }
    if (l.l3 == parsers::l3_kind::none) {
        classify_other(l, s);
        return;
    }
    const byte_span l4 = frame.subspan(l.l4_offset, l.l4_length);
    // TCP first: most packets are TCP (the order of these tests is free, but a later fragment
    // carries no transport header, whatever its protocol but GRE).
    if (l.l4_proto == parsers::ipproto_tcp && !l.later_fragment) [[likely]] {
        const auto t = parsers::parse_tcp(l4);
        if (t.st != status::ok) {
            // Ports may be readable, but a TCP header we cannot bound carries no payload.
            s.packet(traffic_class::other, t.st, false);
            return;
        }
        s.l7(t.payload, t.src_port, t.dst_port);
        // The high bytes of both ports, read as bytes (the header is whole): other, unless one
        // of them could be a service port's.
        if (!may_be_tcp_service_high_byte(l4[0]) && !may_be_tcp_service_high_byte(l4[2]))
            [[likely]] {
            report_other_ip(l.l3, false, s);
            return;
        }
        if constexpr (Sink::tunnel_records) {
            s.tunnel_layers(l);  // ports that may be PPTP's or L2TP's (rare: 0x06xx)
        }
        classify_tcp_service({l.l3, l.fragment, l.truncated}, l4, s);
        return;
    }
    if (l.l4_proto == parsers::ipproto_gre) {
        if constexpr (Sink::tunnel_records) {
            s.tunnel_layers(l);
        }
        if (l.fragment || l.truncated) {
            // A fragment's or a cut datagram's GRE header may be there, but details count
            // valid packets only.
            if constexpr (Sink::records || Sink::tunnel_records) {
                if (l.later_fragment) {
                    s.l7(l4, 0, 0);
                } else if (const auto g = parsers::parse_gre(l4); g.st == status::ok) {
                    s.l7(g.payload, 0, 0);
                }
            }
            s.packet(traffic_class::gre, l.truncated ? status::truncated : status::ok, l.fragment);
            return;
        }
        classify_gre(l4, s);
        return;
    }
    if (l.later_fragment) {
        s.l7(l4, 0, 0);
        classify_other(l, s);
        return;
    }
    if (l.l4_proto == parsers::ipproto_udp) {
        const auto u = parsers::parse_udp(l4);
        if (u.st == status::truncated) {
            s.packet(traffic_class::other, status::truncated, false);
            return;
        }
        s.l7(u.payload, u.src_port, u.dst_port, u.st == status::ok);
        const traffic_class cls = udp_class(u.src_port, u.dst_port);
        if (cls == traffic_class::other) {
            classify_other(l, s);
            return;
        }
        if constexpr (Sink::tunnel_records) {
            if (cls == traffic_class::l2tp || cls == traffic_class::gre) {
                s.tunnel_layers(l);
            }
        }
        if (l.fragment) {
            // The UDP length covers the whole datagram; the payload here is a piece of it.
            s.packet(cls, status::ok, true);
            return;
        }
        if (u.st != status::ok || l.truncated) {
            s.packet(cls, u.st != status::ok ? u.st : status::truncated, false);
            return;
        }
        switch (cls) {
            case traffic_class::ntp:
                classify_ntp(u.payload, s);
                return;
            case traffic_class::snmp:
                classify_snmp<traffic_class::snmp>(u.payload, s);
                return;
            case traffic_class::snmp_trap:
                classify_snmp<traffic_class::snmp_trap>(u.payload, s);
                return;
            case traffic_class::gre:
                classify_gre_in_udp(u.payload, u.src_port, u.dst_port, s);
                return;
            default:
                classify_l2tp(u.payload, l2tp_carrier::udp, s);
                return;
        }
    }
    // Past every common protocol: what is left is rare enough to pay for these compares.
    if (l.l4_proto == parsers::ipproto_ipip || l.l4_proto == parsers::ipproto_ipv6 ||
        l.l4_proto == parsers::ipproto_l2tp) [[unlikely]] {
        classify_ip_rare(rare_ip::of(l), frame, s);
        return;
    }
    s.l7(l4, 0, 0);
    classify_other(l, s);
}

// IP-in-IP and L2TPv3 over IP (l: ok layers, not a later fragment, l4_proto 4, 41 or 115).
// IP-in-IP takes the walk again from the inner header, which recurses at most
// ip_in_ip_max_depth times.
template <typename Sink>
[[gnu::noinline]] void classify_ip_rare(rare_ip ip, byte_span frame, Sink s) {
    // Not a later fragment (classify_layers took those), and ok.
    const parsers::layers l = ip.layers();
    if (l.l4_proto == parsers::ipproto_l2tp) {
        const byte_span l4 = frame.subspan(l.l4_offset, l.l4_length);
        if constexpr (Sink::tunnel_records) {
            s.tunnel_layers(l);
        }
        s.l7(l4, 0, 0);
        if (l.fragment || l.truncated) {
            s.packet(traffic_class::l2tp, l.truncated ? status::truncated : status::ok, l.fragment);
            return;
        }
        classify_l2tp(l4, l2tp_carrier::ip, s);
        return;
    }
    if (l.fragment) {
        // Only a whole outer datagram is looked through: the inner header of a first fragment
        // may be there, but what follows it is not.
        s.l7(frame.subspan(l.l4_offset, l.l4_length), 0, 0);
        classify_other(l, s);
        return;
    }
    if (l.ip_in_ip == parsers::ip_in_ip_max_depth) {
        s.packet(traffic_class::other, status::unsupported, false);
        return;
    }
    classify_layers(parsers::parse_ip_in_ip(l, frame), frame, s);
}

// Every frame but untagged IPv4 of the simple shape: the same walk, out of line, with
// parse_ethernet inlined into it (its layers stay in registers rather than come back through
// memory).
template <typename Sink>
[[gnu::noinline]] void classify_frame_other(byte_span frame, Sink s) {
    constexpr std::size_t eth_header = 14;
    if (frame.size() < eth_header) [[unlikely]] {
        parsers::layers l;
        l.st = status::truncated;
        classify_layers(l, frame, s);
        return;
    }
    if (parsers::load_be16(frame.data() + 12) == parsers::ethertype_ipv4) {
        classify_layers(parsers::layers_detail::parse_ipv4(frame, eth_header), frame, s);
        return;
    }
    classify_layers(parsers::layers_detail::parse_ethernet_other_inline(frame), frame, s);
}

}  // namespace detail

// An Ethernet frame, as a DPDK port delivers it, reported to a sink. The common shape
// (untagged IPv4, no options, whole, not a fragment) gets its own inlined copy of the walk, in
// which what that shape implies folds into constants; every other frame takes the shared copy.
template <typename Sink>
[[gnu::always_inline]] inline void classify_frame_into(parsers::byte_span frame, Sink s) {
    if (const auto l = parsers::parse_ethernet_simple_ipv4(frame)) [[likely]] {
        detail::classify_layers(*l, frame, s);
        return;
    }
    detail::classify_frame_other(frame, s);
}

// A network-layer packet whose ethertype the capture's link type gives, reported to a sink.
template <typename Sink>
inline void classify_l3_into(std::uint16_t ethertype, parsers::byte_span l3, Sink s) {
    detail::classify_layers(parsers::parse_l3(ethertype, l3), l3, s);
}

// An Ethernet frame's classification.
inline classification classify_frame(parsers::byte_span frame) {
    classification r;
    classify_frame_into(frame, recording_sink{{}, &r});
    return r;
}

// A network-layer packet whose ethertype the capture's link type gives (ports-analyze).
inline classification classify_l3(std::uint16_t ethertype, parsers::byte_span l3) {
    classification r;
    classify_l3_into(ethertype, l3, recording_sink{{}, &r});
    return r;
}

// One packet's counters: class packets, bytes, malformed, fragments and its details.
inline void count(core_counters& c, const classification& r, std::uint32_t bytes) {
    const counting_sink s{{}, &c, bytes};
    s.packet(r.cls, r.reason, r.fragment);
    for (std::uint8_t i = 0; i < r.detail_count; ++i) {
        s.detail(r.detail[i]);
    }
}

// classify_frame then count, in one pass: the same walk with counting_sink, so every path
// bumps its own counters (constant offsets) and no classification is built. The worker's call.
[[gnu::always_inline]] inline void classify_and_count(core_counters& c, parsers::byte_span frame,
                                                      std::uint32_t bytes) {
    classify_frame_into(frame, counting_sink{{}, &c, bytes});
}

// The worker's call: classify, count and fill the frame's record in one walk. Only the
// record's presence flags are cleared first; the walk sets every field it reports.
[[gnu::always_inline]] inline void classify_count_record(core_counters& c, parsers::byte_span frame,
                                                         std::uint32_t bytes, frame_record& r) {
    r.has_layers = false;
    r.has_l7 = false;
    r.parsed = false;
    classify_frame_into(frame, counting_record_sink{{&r, frame.data()}, {{}, &c, bytes}});
}

// The NTP server's fast lane (pipelines/service.cpp, serve_plain_ntp_v4): the one request shape
// that is most of an NTP server's traffic - untagged IPv4 without options, not a fragment,
// UDP to port 123 carrying exactly a 48-byte NTP header in client mode, versions 1-4 - is
// recognised from four fixed-offset words, and for it the whole classification is known:
// class ntp, valid, detail mode_client and, when the body is SNTP's, sntp_requests. This is
// the classifier's own rule for that shape written out (nothing else decides it twice): the
// unit test PlainNtpV4 checks it against classify_frame on every frame it accepts and on
// mutations of each checked byte.
namespace plain_ntp_v4 {

inline constexpr std::size_t frame_length = 14 + 20 + 8 + 48;  // 90: Ethernet, IP, UDP, NTP
inline constexpr std::size_t payload_offset = 42;

// Little-endian views of the checked words: bytes 12-19 (ethertype, version/IHL, total length),
// 20-27 (flags/fragment, protocol) and 34-41 (destination port, UDP length).
inline constexpr std::uint64_t w12_mask = 0x0000FFFF00FFFFFFULL;
inline constexpr std::uint64_t w12_want = 0x00004C0000450008ULL;   // 08 00 | 45 | tos | 00 4C
inline constexpr std::uint64_t w20_mask = 0x00000000FF00FF3FULL;   // MF + offset, protocol
inline constexpr std::uint64_t w20_want = 0x0000000011000000ULL;   // not a fragment, UDP
inline constexpr std::uint64_t w34_mask = 0x0000FFFFFFFF0000ULL;   // destination port, length
inline constexpr std::uint64_t w34_want = 0x00003800'7B000000ULL;  // 00 7B | 00 38

inline std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// Whether a frame of `length` bytes at p (at least frame_length readable when it says yes)
// has the shape.
[[gnu::always_inline]] inline bool matches(const std::uint8_t* p, std::size_t length) {
    if (length < frame_length) {
        return false;
    }
    const std::uint8_t b0 = p[payload_offset];
    // mode 3, version 1..4: (b0 & 0x07) == 3 and ((b0 >> 3) & 7) - 1 < 4
    const bool client = (b0 & 0x07) == 3 && static_cast<unsigned>(((b0 >> 3) & 0x07) - 1) < 4;
    // The three words' differences from the shape ORed together: one test for all of them.
    const std::uint64_t off = ((load64(p + 12) & w12_mask) ^ w12_want) |
                              ((load64(p + 20) & w20_mask) ^ w20_want) |
                              ((load64(p + 34) & w34_mask) ^ w34_want);
    return off == 0 && client;
}

// Whether the request's body is SNTP's (RFC 4330: everything but the first octet and the
// transmit timestamp zero), as parse_ntp decides it.
[[gnu::always_inline]] inline bool sntp(const std::uint8_t* p) {
    return parsers::ntp_detail::sntp_request_body(p + payload_offset);
}

// What classify_and_count counts for `frames` such frames of `bytes` bytes in all, `sntp` of
// them with SNTP's body.
[[gnu::always_inline]] inline void count(core_counters& c, std::uint64_t frames,
                                         std::uint64_t bytes, std::uint64_t sntp) {
    constexpr std::uint16_t base = class_base[static_cast<std::size_t>(traffic_class::ntp)];
    c.add(base, frames);
    c.add(base + offset_bytes, bytes);
    c.add(detail::plus(counter::ntp_mode_reserved, 3), frames);
    if (sntp != 0) {
        c.add(index_of(counter::ntp_sntp_requests), sntp);
    }
}

}  // namespace plain_ntp_v4

// The tunnel stage's call where no other stage reads records: classify and count, and fill
// the record of a tunnel-class frame (counting_tunnel_record_sink). The record's presence
// flags are cleared first, as classify_count_record does.
[[gnu::always_inline]] inline void classify_count_tunnel_record(core_counters& c,
                                                                parsers::byte_span frame,
                                                                std::uint32_t bytes,
                                                                frame_record& r) {
    r.has_layers = false;
    r.has_l7 = false;
    r.parsed = false;
    classify_frame_into(frame, counting_tunnel_record_sink{{{}, &c, bytes}, {&r, frame.data()}});
}

// A frame's classification and record (ports-analyze, tests).
struct classified {
    classification c;
    frame_record record;
};

namespace detail {
struct classified_sink : record_sink {
    classification* c;
    [[gnu::always_inline]] void packet(traffic_class cls, parsers::status reason,
                                       bool fragment) const {
        recording_sink{{}, c}.packet(cls, reason, fragment);
        record_sink::packet(cls, reason, fragment);
    }
    [[gnu::always_inline]] void detail(std::uint16_t index) const { c->add_detail_index(index); }
};
}  // namespace detail

inline classified classify_frame_full(parsers::byte_span frame) {
    classified out;
    classify_frame_into(frame, detail::classified_sink{{&out.record, frame.data()}, &out.c});
    return out;
}

inline classified classify_l3_full(std::uint16_t ethertype, parsers::byte_span l3) {
    classified out;
    classify_l3_into(ethertype, l3, detail::classified_sink{{&out.record, l3.data()}, &out.c});
    return out;
}

}  // namespace ports::pipelines
