// Link, network and transport headers: Ethernet, 802.1Q/802.1ad tags, IPv4, IPv6 with its
// extension-header chain, UDP and TCP.
#pragma once

#include <optional>

#include "ports/parsers/common.hpp"

namespace ports::parsers {

inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_arp = 0x0806;
inline constexpr std::uint16_t ethertype_ipv6 = 0x86DD;
inline constexpr std::uint16_t ethertype_vlan = 0x8100;
inline constexpr std::uint16_t ethertype_qinq = 0x88A8;
inline constexpr std::uint16_t ethertype_qinq_old = 0x9100;
inline constexpr std::uint16_t ethertype_pppoe_session = 0x8864;

inline constexpr std::uint8_t ipproto_tcp = 6;
inline constexpr std::uint8_t ipproto_udp = 17;
inline constexpr std::uint8_t ipproto_gre = 47;
inline constexpr std::uint8_t ipproto_ipip = 4;    // IPv4 inside (RFC 2003; in IPv6, RFC 2473)
inline constexpr std::uint8_t ipproto_ipv6 = 41;   // IPv6 inside (RFC 4213; in IPv6, RFC 2473)
inline constexpr std::uint8_t ipproto_l2tp = 115;  // L2TPv3 directly over IP (RFC 3931)

// How many IP-in-IP headers parse_ip_in_ip looks through, like the two VLAN tags: one covers
// every tunnel seen in practice (6in4, 4in6, IPIP), the second a tunnel inside one of those;
// deeper nesting is unsupported, which bounds the walk.
inline constexpr std::uint8_t ip_in_ip_max_depth = 2;

enum class l3_kind : std::uint8_t { none, ipv4, ipv6 };

// What the walk from the first byte of a frame down to the transport header found.
// Offsets are from the start of the span given to parse_ethernet/parse_l3.
struct layers {
    status st = status::ok;     // first problem met; the fields before it stay valid
    std::uint8_t vlan_count = 0;  // 0..2 (802.1Q, 802.1ad/0x9100 outer)
    bool pppoe = false;           // IP was found inside a PPPoE session frame
    std::uint16_t ethertype = 0;  // after the tags
    l3_kind l3 = l3_kind::none;
    std::uint8_t l4_proto = 0;    // IPv4 protocol or the last IPv6 next-header value
    bool fragment = false;        // part of a fragmented datagram (MF set or offset != 0)
    bool later_fragment = false;  // fragment offset != 0: no transport header here
    bool truncated = false;       // IP's own length claims more bytes than the frame holds
    std::uint16_t l3_offset = 0;
    std::uint16_t l4_offset = 0;
    // Bytes from l4_offset to the end of the IP datagram as IP declares it, cut at the end of
    // the frame: trailing Ethernet padding is not part of it.
    std::uint16_t l4_length = 0;
    // IP-in-IP headers looked through (0..ip_in_ip_max_depth): l3 and the offsets above are
    // then the innermost IP header's, and outer_l3_offset the outermost one's.
    std::uint8_t ip_in_ip = 0;
    std::uint16_t outer_l3_offset = 0;
};

// Ethernet II frame (with up to two VLAN tags, then optionally a PPPoE session header) down to
// the transport header.
// st != ok with l3 == none means the frame is not IP or is broken below IP.
inline layers parse_ethernet(byte_span frame);

// parse_ethernet's common case only: parse_ethernet(frame) for an untagged IPv4 frame without
// options that is neither a fragment nor cut short; nullopt for anything else.
inline std::optional<layers> parse_ethernet_simple_ipv4(byte_span frame);

// Same walk starting at a network header whose ethertype is already known (pcap link types
// without Ethernet: raw IP, Linux cooked, BSD loopback). Offsets are from l3.data().
inline layers parse_l3(std::uint16_t ethertype, byte_span l3);

// The IP header inside an IP-in-IP datagram: outer is an ok result (of parse_ethernet,
// parse_l3 or this) whose l4_proto is ipproto_ipip or ipproto_ipv6, not a fragment, with
// outer.ip_in_ip < ip_in_ip_max_depth; frame: the span its offsets count from. The inner
// header is read within the outer datagram only (never its Ethernet padding); tags, PPPoE
// and ethertype stay the outer frame's, truncated is set when either datagram was cut.
// A protocol 4 header that is not IPv4 (41, not IPv6) is bad_version, as a broken IP header
// after a tag is.
inline layers parse_ip_in_ip(const layers& outer, byte_span frame);

struct udp_view {
    status st = status::ok;  // truncated: < 8 bytes; bad_length: length field < 8 or > bytes
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint16_t length = 0;    // the header's length field
    std::uint16_t checksum = 0;
    byte_span payload;           // by the length field when it fits, else what is present
};
inline udp_view parse_udp(byte_span l4);

struct tcp_view {
    status st = status::ok;  // truncated: < 20 bytes or < data offset; bad_length: offset < 5
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint8_t header_length = 0;  // data offset * 4
    byte_span payload;
};
inline tcp_view parse_tcp(byte_span l4);

}  // namespace ports::parsers

#include "ports/parsers/impl/layers_impl.hpp"
