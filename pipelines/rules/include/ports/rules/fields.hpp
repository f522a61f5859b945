// The fields rules look at, extracted from a frame whose class is already known. Header-only,
// DPDK-free, zero-copy (every string is a span of the frame), no allocation; only the fields
// asked for are parsed.
//
// payload: the L7 bytes - after the UDP or TCP header (UDP: by its length field when it fits),
//   after the GRE header for GRE, the IP payload for any other IP protocol and for a later
//   fragment (a piece of the datagram, no transport header). Absent for non-IP frames and
//   frames broken below the transport header.
// Every other field comes from the class's parser, only for a whole datagram (not a fragment,
// not cut short) that the parser accepts:
//   snmp.community  v1/v2c community (snmp and snmp-trap)
//   snmp.user       v3 USM msgUserName
//   snmp.pdu        the PDU tag as a number 0..8 (0xA0 get .. 0xA8 report) and as a name
//                   (get, get-next, response, set, trap, get-bulk, inform, trap-v2, report);
//                   absent when encrypted
//   ntp.mode, ntp.version          every NTP packet
//   ntp.request_code               mode 7 (private) only
//   l2tp.hostname   the Host Name AVP (type 7) of a control message, when not hidden
//   pptp.hostname, pptp.vendor     of a Start-Control-Connection-Request/-Reply, NUL trimmed
//   pptp.control_type              of every PPTP control message (1 SCCRQ .. 15 Set-Link-Info)
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
#include "ports/parsers/snmp.hpp"
#include "ports/parsers/tunnels.hpp"
#include "ports/pipelines/counters.hpp"

namespace ports::rules {

using parsers::byte_span;

enum class field : std::uint8_t {
    payload,
    snmp_community,
    snmp_user,
    snmp_pdu,
    ntp_mode,
    ntp_version,
    ntp_request_code,
    l2tp_hostname,
    pptp_hostname,
    pptp_vendor,
    pptp_control_type,
};
inline constexpr std::size_t field_count = 11;
inline constexpr std::array<std::string_view, field_count> field_names = {
    "payload",       "snmp.community", "snmp.user",        "snmp.pdu",
    "ntp.mode",      "ntp.version",    "ntp.request_code", "l2tp.hostname",
    "pptp.hostname", "pptp.vendor",    "pptp.control_type"};

// A set of fields, bit = field value.
using field_mask = std::uint16_t;
constexpr field_mask bit(field f) {
    return static_cast<field_mask>(1u << static_cast<unsigned>(f));
}

// Fields with a number (equals); snmp.pdu has both a number and a name (regex).
constexpr bool field_has_number(field f) {
    return f == field::snmp_pdu || f == field::ntp_mode || f == field::ntp_version ||
           f == field::ntp_request_code || f == field::pptp_control_type;
}
constexpr bool field_has_text(field f) {
    return f != field::ntp_mode && f != field::ntp_version && f != field::ntp_request_code &&
           f != field::pptp_control_type;
}

// SNMP PDU names, by tag - 0xA0.
inline constexpr std::array<std::string_view, 9> snmp_pdu_names = {
    "get", "get-next", "response", "set", "trap", "get-bulk", "inform", "trap-v2", "report"};

// What was found: present has a bit per field found; text holds string fields (and the name of
// snmp.pdu), number the numeric ones. Only fields in present may be read: the rest is left
// uninitialised, so that building one costs nothing per packet but the fields found.
struct field_values {
    field_mask present = 0;
    std::array<const std::uint8_t*, field_count> text_data;
    std::array<std::uint32_t, field_count> text_size;
    std::array<std::uint64_t, field_count> number;

    field_values() {}  // NOLINT: deliberately leaves the arrays uninitialised

    void set_text(field f, byte_span s) {
        present |= bit(f);
        put_text(f, s);
    }
    // The text of a field that is present through set_number (snmp.pdu's name).
    void put_text(field f, byte_span s) {
        text_data[static_cast<std::size_t>(f)] = s.data();
        text_size[static_cast<std::size_t>(f)] = static_cast<std::uint32_t>(s.size());
    }
    void set_number(field f, std::uint64_t n) {
        present |= bit(f);
        number[static_cast<std::size_t>(f)] = n;
    }
    bool has(field f) const { return (present & bit(f)) != 0; }
    // Only for a field that has() and has text (field_has_text).
    byte_span text_of(field f) const {
        return byte_span(text_data[static_cast<std::size_t>(f)],
                         text_size[static_cast<std::size_t>(f)]);
    }
    std::uint64_t number_of(field f) const { return number[static_cast<std::size_t>(f)]; }
};

namespace fields_detail {

constexpr field_mask snmp_fields =
    bit(field::snmp_community) | bit(field::snmp_user) | bit(field::snmp_pdu);
constexpr field_mask ntp_fields =
    bit(field::ntp_mode) | bit(field::ntp_version) | bit(field::ntp_request_code);
constexpr field_mask pptp_fields =
    bit(field::pptp_hostname) | bit(field::pptp_vendor) | bit(field::pptp_control_type);

inline byte_span name_span(std::string_view s) {
    return byte_span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

inline void extract_snmp(byte_span l7, field_mask want, field_values& v) {
    const auto s = parsers::parse_snmp(l7);
    if (s.st != parsers::status::ok) {
        return;
    }
    if ((want & bit(field::snmp_community)) != 0 && (s.version == 0 || s.version == 1)) {
        v.set_text(field::snmp_community, s.community);
    }
    if ((want & bit(field::snmp_user)) != 0 && s.version == 3 && s.security_model == 3) {
        v.set_text(field::snmp_user, s.user_name);
    }
    if ((want & bit(field::snmp_pdu)) != 0 && s.pdu_type >= parsers::snmp_pdu_get &&
        s.pdu_type <= parsers::snmp_pdu_report) {
        const unsigned n = s.pdu_type - parsers::snmp_pdu_get;
        v.set_number(field::snmp_pdu, n);
        v.put_text(field::snmp_pdu, name_span(snmp_pdu_names[n]));
    }
}

inline void extract_ntp(byte_span l7, field_mask want, field_values& v) {
    const auto n = parsers::parse_ntp(l7);
    if (n.st != parsers::status::ok) {
        return;
    }
    if ((want & bit(field::ntp_mode)) != 0) {
        v.set_number(field::ntp_mode, static_cast<std::uint64_t>(n.mode));
    }
    if ((want & bit(field::ntp_version)) != 0) {
        v.set_number(field::ntp_version, n.version);
    }
    if ((want & bit(field::ntp_request_code)) != 0 && n.mode == parsers::ntp_mode::private_) {
        v.set_number(field::ntp_request_code, n.request_code);
    }
}

inline void extract_l2tp(byte_span l7, field_values& v) {
    const auto l = parsers::parse_l2tp(l7);
    if (l.st != parsers::status::ok || !l.control) {
        return;
    }
    if (const auto host = parsers::l2tp_host_name(l.body)) {
        v.set_text(field::l2tp_hostname, *host);
    }
}

inline void extract_pptp(byte_span l7, field_mask want, field_values& v) {
    const auto m = parsers::parse_pptp(l7);
    if (m.st == parsers::status::ok && (want & bit(field::pptp_control_type)) != 0) {
        v.set_number(field::pptp_control_type, m.control_type);
    }
    if (const auto f = parsers::pptp_sccr(m)) {
        if ((want & bit(field::pptp_hostname)) != 0) {
            v.set_text(field::pptp_hostname, f->host_name);
        }
        if ((want & bit(field::pptp_vendor)) != 0) {
            v.set_text(field::pptp_vendor, f->vendor);
        }
    }
}

// bytes: what the layers were parsed from.
inline field_values extract_layers(const parsers::layers& l, byte_span bytes,
                                   pipelines::traffic_class cls, field_mask want) {
    using pipelines::traffic_class;
    field_values v;
    if (l.st != parsers::status::ok || l.l3 == parsers::l3_kind::none) {
        return v;
    }
    const byte_span l4 = bytes.subspan(l.l4_offset, l.l4_length);
    byte_span l7;
    bool whole = !l.fragment && !l.truncated;
    if (l.later_fragment) {
        l7 = l4;
        whole = false;
    } else if (l.l4_proto == parsers::ipproto_tcp) {
        const auto t = parsers::parse_tcp(l4);
        if (t.st != parsers::status::ok) {
            return v;
        }
        l7 = t.payload;
    } else if (l.l4_proto == parsers::ipproto_udp) {
        const auto u = parsers::parse_udp(l4);
        if (u.st == parsers::status::truncated) {
            return v;
        }
        whole = whole && u.st == parsers::status::ok;
        l7 = u.payload;
    } else if (l.l4_proto == parsers::ipproto_gre) {
        const auto g = parsers::parse_gre(l4);
        if (g.st != parsers::status::ok) {
            return v;
        }
        l7 = g.payload;
    } else {
        l7 = l4;
    }
    if ((want & bit(field::payload)) != 0) {
        v.set_text(field::payload, l7);
    }
    if (!whole) {
        return v;
    }
    switch (cls) {
        case traffic_class::snmp:
        case traffic_class::snmp_trap:
            if ((want & snmp_fields) != 0 && l.l4_proto == parsers::ipproto_udp) {
                extract_snmp(l7, want, v);
            }
            break;
        case traffic_class::ntp:
            if ((want & ntp_fields) != 0 && l.l4_proto == parsers::ipproto_udp) {
                extract_ntp(l7, want, v);
            }
            break;
        case traffic_class::l2tp:
            if ((want & bit(field::l2tp_hostname)) != 0) {
                extract_l2tp(l7, v);
            }
            break;
        case traffic_class::pptp:
            if ((want & pptp_fields) != 0 && l.l4_proto == parsers::ipproto_tcp) {
                extract_pptp(l7, want, v);
            }
            break;
        default:
            break;
    }
    return v;
}

}  // namespace fields_detail

// An Ethernet frame of class cls (as classify_frame said): the fields in want that it has.
inline field_values extract_frame(byte_span frame, pipelines::traffic_class cls, field_mask want) {
    if (const auto l = parsers::parse_ethernet_simple_ipv4(frame)) [[likely]] {
        return fields_detail::extract_layers(*l, frame, cls, want);
    }
    return fields_detail::extract_layers(parsers::parse_ethernet(frame), frame, cls, want);
}

// A network-layer packet whose ethertype the capture's link type gives (as classify_l3).
inline field_values extract_l3(std::uint16_t ethertype, byte_span l3, pipelines::traffic_class cls,
                               field_mask want) {
    return fields_detail::extract_layers(parsers::parse_l3(ethertype, l3), l3, cls, want);
}

inline constexpr field_mask all_fields = static_cast<field_mask>((1u << field_count) - 1);

}  // namespace ports::rules
