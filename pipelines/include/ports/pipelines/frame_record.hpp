// What the classifier learned of one frame, handed to the stages after it (rules, service) so
// that nothing parses a frame twice. One record per frame of a burst, in a per-lcore array:
// no allocation. Every position is an offset from the start of the bytes the classifier was
// given (the Ethernet frame, or the network header for ports-analyze's link types without
// Ethernet), so a record is plain data, copied by value.
//
// What is set: cls, reason and fragment always. The layer fields when the frame is IP or
// reached the ethertype (has_layers). l7 and the ports when a transport header was read
// (has_l7). The class fields (f.ntp, f.snmp...) only when the class's parser accepted a whole
// datagram (parsed): exactly the frames that get detail counters.
#pragma once

#include <cstdint>

#include "ports/parsers/common.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/pipelines/counters.hpp"

namespace ports::pipelines {

// A part of the frame: [offset, offset + length).
struct frame_part {
    std::uint16_t offset = 0;
    std::uint16_t length = 0;

    parsers::byte_span of(parsers::byte_span frame) const { return frame.subspan(offset, length); }
    static frame_part within(parsers::byte_span frame, parsers::byte_span part) {
        return {static_cast<std::uint16_t>(part.data() - frame.data()),
                static_cast<std::uint16_t>(part.size())};
    }
};

struct ntp_fields {
    std::uint8_t version = 0;
    std::uint8_t mode = 0;
    std::uint8_t request_code = 0;  // mode 7 only
    std::uint8_t extension_count = 0;
    bool has_mac = false;
};

struct snmp_fields {
    std::int8_t version = -1;   // 0 v1, 1 v2c, 3 v3
    std::uint8_t pdu_type = 0;  // 0xA0..0xA8; 0 when not visible
    bool encrypted = false;
    bool usm = false;      // v3 with the user-based security model
    frame_part community;  // v1/v2c
    frame_part user;       // v3 USM msgUserName
};

struct l2tp_fields {
    std::uint8_t version = 0;
    bool control = false;
    bool has_host_name = false;
    std::uint16_t message_type = 0;
    std::uint32_t tunnel_id = 0;
    std::uint32_t session_id = 0;
    frame_part host_name;  // the Host Name AVP of a control message, when not hidden
};

struct pptp_fields {
    std::uint16_t control_type = 0;
    bool sccr = false;  // a Start-Control-Connection-Request/-Reply: host_name and vendor set
    frame_part host_name;
    frame_part vendor;
};

struct gre_fields {
    std::uint8_t version = 0;
    bool key_present = false;
    std::uint16_t protocol = 0;
    std::uint16_t call_id = 0;  // v1
    std::uint32_t key = 0;
};

struct frame_record {
    traffic_class cls = traffic_class::other;
    parsers::status reason = parsers::status::ok;  // why it is malformed; ok when it is not
    bool fragment = false;
    bool has_layers = false;
    bool has_l7 = false;
    bool parsed = false;  // the class fields below are set
    // The layers (parsers::layers): layer_status is theirs, reason the whole frame's.
    parsers::status layer_status = parsers::status::ok;
    bool l4_ok = false;  // the transport header was read whole (UDP: its length fits)
    std::uint8_t vlan_count = 0;
    parsers::l3_kind l3 = parsers::l3_kind::none;
    std::uint8_t l4_proto = 0;
    std::uint16_t ethertype = 0;
    bool ip_fragment = false;  // the layers' fragment (fragment above is what was counted)
    bool later_fragment = false;
    bool truncated = false;
    bool pppoe = false;
    std::uint16_t l3_offset = 0;
    std::uint16_t l4_offset = 0;
    std::uint16_t l4_length = 0;
    // IP-in-IP headers looked through: l3 and the offsets above are the innermost IP's.
    std::uint8_t ip_in_ip = 0;
    std::uint16_t outer_l3_offset = 0;
    // The transport's payload (UDP by its length when it fits, TCP after its header, GRE after
    // its header; the IP payload of any other protocol and of a later fragment).
    frame_part l7;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    union class_fields {
        ntp_fields ntp;
        snmp_fields snmp;
        l2tp_fields l2tp;
        pptp_fields pptp;
        gre_fields gre;
        class_fields() : ntp() {}
    } f;

    bool malformed() const { return reason != parsers::status::ok; }
    // The layers as parse_ethernet gave them (only when has_layers).
    parsers::layers layers() const {
        parsers::layers l;
        l.st = layer_status;
        l.vlan_count = vlan_count;
        l.pppoe = pppoe;
        l.ethertype = ethertype;
        l.l3 = l3;
        l.l4_proto = l4_proto;
        l.fragment = ip_fragment;
        l.later_fragment = later_fragment;
        l.truncated = truncated;
        l.l3_offset = l3_offset;
        l.l4_offset = l4_offset;
        l.l4_length = l4_length;
        l.ip_in_ip = ip_in_ip;
        l.outer_l3_offset = outer_l3_offset;
        return l;
    }
    // A whole datagram: neither a fragment nor cut short.
    bool whole() const { return !ip_fragment && !truncated; }
};

}  // namespace ports::pipelines
