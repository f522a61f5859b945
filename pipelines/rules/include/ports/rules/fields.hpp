// The fields rules look at, read from the classifier's frame_record (pipelines/frame_record.hpp):
// header-only, DPDK-free, zero-copy (every string is a span of the frame), no allocation, no
// parsing.
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
//   pptp.call_id    the call ID a PPTP call message carries at octet 12 (RFC 2637 2.7-2.15):
//                   the sender's Call ID in OCRQ, OCRP, ICRQ, ICRP, CCRQ and CDN, the Peer's
//                   Call ID in ICCN, WEN and SLI (the only call ID they carry); and the Call ID
//                   of a GRE v1 (enhanced GRE, class gre) header, the receiver's (RFC 2637 4.1)
//   l2tp.tunnel_id  the header's Tunnel ID (L2TPv2), or Control Connection ID (L2TPv3
//                   control messages); absent in L2TPv3 data, which has none
//   l2tp.session_id the header's Session ID (L2TPv2, L2TPv3 data); absent in L2TPv3 control
//                   messages, which have none
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
#include "ports/parsers/snmp.hpp"
#include "ports/parsers/tunnels.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"

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
    pptp_call_id,
    l2tp_tunnel_id,
    l2tp_session_id,
};
inline constexpr std::size_t field_count = 14;
inline constexpr std::array<std::string_view, field_count> field_names = {
    "payload",           "snmp.community",   "snmp.user",      "snmp.pdu",       "ntp.mode",
    "ntp.version",       "ntp.request_code", "l2tp.hostname",  "pptp.hostname",  "pptp.vendor",
    "pptp.control_type", "pptp.call_id",     "l2tp.tunnel_id", "l2tp.session_id"};

// A set of fields, bit = field value.
using field_mask = std::uint16_t;
constexpr field_mask bit(field f) {
    return static_cast<field_mask>(1u << static_cast<unsigned>(f));
}

// Fields with a number (equals); snmp.pdu has both a number and a name (regex).
constexpr bool field_has_number(field f) {
    return f == field::snmp_pdu || f == field::ntp_mode || f == field::ntp_version ||
           f == field::ntp_request_code || f == field::pptp_control_type ||
           f == field::pptp_call_id || f == field::l2tp_tunnel_id || f == field::l2tp_session_id;
}
constexpr bool field_has_text(field f) {
    return f == field::snmp_pdu || !field_has_number(f);
}

// PPTP control message types from Outgoing-Call-Request (7) to Set-Link-Info (15) name a call.
inline constexpr std::uint16_t pptp_first_call_message = 7;

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

// The fields in want of a frame, from what the classifier recorded of it (frame: the bytes the
// record's offsets count from). No parsing: the classifier's walk is the only L4/L7 dispatch.
inline field_values fields_of(const pipelines::frame_record& r, byte_span frame, field_mask want) {
    using pipelines::traffic_class;
    field_values v;
    if (!r.has_l7) {
        return v;
    }
    if ((want & bit(field::payload)) != 0) {
        v.set_text(field::payload, r.l7.of(frame));
    }
    if (!r.parsed) {
        return v;
    }
    switch (r.cls) {
        case traffic_class::snmp:
        case traffic_class::snmp_trap: {
            const pipelines::snmp_fields& f = r.f.snmp;
            if ((want & bit(field::snmp_community)) != 0 && (f.version == 0 || f.version == 1)) {
                v.set_text(field::snmp_community, f.community.of(frame));
            }
            if ((want & bit(field::snmp_user)) != 0 && f.usm) {
                v.set_text(field::snmp_user, f.user.of(frame));
            }
            if ((want & bit(field::snmp_pdu)) != 0 && f.pdu_type >= parsers::snmp_pdu_get &&
                f.pdu_type <= parsers::snmp_pdu_report) {
                const unsigned n = f.pdu_type - parsers::snmp_pdu_get;
                v.set_number(field::snmp_pdu, n);
                const std::string_view name = snmp_pdu_names[n];
                v.put_text(
                    field::snmp_pdu,
                    byte_span(reinterpret_cast<const std::uint8_t*>(name.data()), name.size()));
            }
            break;
        }
        case traffic_class::ntp: {
            const pipelines::ntp_fields& f = r.f.ntp;
            if ((want & bit(field::ntp_mode)) != 0) {
                v.set_number(field::ntp_mode, f.mode);
            }
            if ((want & bit(field::ntp_version)) != 0) {
                v.set_number(field::ntp_version, f.version);
            }
            if ((want & bit(field::ntp_request_code)) != 0 &&
                f.mode == static_cast<std::uint8_t>(parsers::ntp_mode::private_)) {
                v.set_number(field::ntp_request_code, f.request_code);
            }
            break;
        }
        case traffic_class::l2tp: {
            const pipelines::l2tp_fields& f = r.f.l2tp;
            if ((want & bit(field::l2tp_hostname)) != 0 && f.has_host_name) {
                v.set_text(field::l2tp_hostname, f.host_name.of(frame));
            }
            if ((want & bit(field::l2tp_tunnel_id)) != 0 && (f.version == 2 || f.control)) {
                v.set_number(field::l2tp_tunnel_id, f.tunnel_id);
            }
            if ((want & bit(field::l2tp_session_id)) != 0 && (f.version == 2 || !f.control)) {
                v.set_number(field::l2tp_session_id, f.session_id);
            }
            break;
        }
        case traffic_class::gre:
            if ((want & bit(field::pptp_call_id)) != 0 && r.f.gre.version == 1) {
                v.set_number(field::pptp_call_id, r.f.gre.call_id);
            }
            break;
        case traffic_class::pptp: {
            const pipelines::pptp_fields& f = r.f.pptp;
            if ((want & bit(field::pptp_control_type)) != 0) {
                v.set_number(field::pptp_control_type, f.control_type);
            }
            // The message is the start of the TCP payload (the classifier parsed it there), of
            // its type's fixed length: 16 octets or more for every call message.
            if ((want & bit(field::pptp_call_id)) != 0 &&
                f.control_type >= pptp_first_call_message) {
                const byte_span m = r.l7.of(frame);
                if (m.size() >= 14) {
                    v.set_number(field::pptp_call_id, parsers::load_be16(m.data() + 12));
                }
            }
            if (f.sccr && (want & bit(field::pptp_hostname)) != 0) {
                v.set_text(field::pptp_hostname, f.host_name.of(frame));
            }
            if (f.sccr && (want & bit(field::pptp_vendor)) != 0) {
                v.set_text(field::pptp_vendor, f.vendor.of(frame));
            }
            break;
        }
        default:
            break;
    }
    return v;
}

// An Ethernet frame (classified here: tests and tools; the worker reads its burst's records).
// cls is what classify_frame said of it, so it is the record's class.
inline field_values extract_frame(byte_span frame, pipelines::traffic_class, field_mask want) {
    return fields_of(pipelines::classify_frame_full(frame).record, frame, want);
}

// A network-layer packet whose ethertype the capture's link type gives (as classify_l3).
inline field_values extract_l3(std::uint16_t ethertype, byte_span l3, pipelines::traffic_class,
                               field_mask want) {
    return fields_of(pipelines::classify_l3_full(ethertype, l3).record, l3, want);
}

inline constexpr field_mask all_fields = static_cast<field_mask>((1u << field_count) - 1);

}  // namespace ports::rules
