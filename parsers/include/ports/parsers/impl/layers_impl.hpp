// Definitions for layers.hpp. Kept inline and branch-light: the classifier calls these once
// per packet and its budget is a few dozen instructions for the whole walk.
#pragma once

namespace ports::parsers {

namespace layers_detail {

inline constexpr std::size_t ipv4_min_header = 20;
inline constexpr std::size_t ipv6_header = 40;
// Longer chains are legal but no real stack sends them; bounding the walk bounds the cost.
inline constexpr int ipv6_max_ext_headers = 8;

inline constexpr std::uint8_t ipv6_hop_by_hop = 0;
inline constexpr std::uint8_t ipv6_routing = 43;
inline constexpr std::uint8_t ipv6_fragment = 44;
inline constexpr std::uint8_t ipv6_ah = 51;
inline constexpr std::uint8_t ipv6_dest_opts = 60;

inline bool is_tag(std::uint16_t et) {
    return et == ethertype_vlan || et == ethertype_qinq || et == ethertype_qinq_old;
}

// IPv4 at frame[off..]; the caller has checked off <= frame.size(). Offsets in the result are
// from frame.data(), so parse_ethernet need not rebase them. Forced inline: the classifier
// then keeps the fields in registers instead of building a struct per packet.
[[gnu::always_inline]] inline layers parse_ipv4(byte_span frame, std::size_t off) {
    layers out;
    out.l3 = l3_kind::ipv4;
    out.ethertype = ethertype_ipv4;
    out.l3_offset = static_cast<std::uint16_t>(off);
    const std::size_t avail = frame.size() - off;
    if (avail < ipv4_min_header) [[unlikely]] {
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = frame.data() + off;
    std::size_t header_length = ipv4_min_header;
    // Version 4 without options is nearly every packet: one compare settles version and IHL.
    if (p[0] != 0x45) [[unlikely]] {
        if ((p[0] >> 4) != 4) {
            out.st = status::bad_version;
            return out;
        }
        header_length = static_cast<std::size_t>(p[0] & 0x0F) * 4;
        if (header_length < ipv4_min_header) {
            out.st = status::bad_length;
            return out;
        }
        if (avail < header_length) {
            out.st = status::truncated;
            return out;
        }
    }
    const std::size_t total_length = load_be16(p + 2);
    if (total_length < header_length) [[unlikely]] {
        out.st = status::bad_length;
        return out;
    }
    const std::uint16_t frag = load_be16(p + 6);
    out.fragment = (frag & 0x3FFF) != 0;        // MF or a nonzero offset
    out.later_fragment = (frag & 0x1FFF) != 0;  // offset only
    out.l4_proto = p[9];
    out.l4_offset = static_cast<std::uint16_t>(off + header_length);
    // A datagram longer than the frame was cut by the capture or the NIC; a shorter one
    // leaves Ethernet padding behind it, which is not transport data.
    out.truncated = total_length > avail;
    const std::size_t end = out.truncated ? avail : total_length;
    out.l4_length = static_cast<std::uint16_t>(end - header_length);
    return out;
}

[[gnu::always_inline]] inline layers parse_ipv6(byte_span l3) {
    layers out;
    out.l3 = l3_kind::ipv6;
    out.ethertype = ethertype_ipv6;
    if (l3.size() < ipv6_header) {
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = l3.data();
    if ((p[0] >> 4) != 6) {
        out.st = status::bad_version;
        return out;
    }
    const std::size_t payload_length = load_be16(p + 4);
    // Zero announces a jumbogram (RFC 2675) whose real length hides in hop-by-hop options;
    // such packets cannot appear on an Ethernet link, so the field is taken as a lie.
    if (payload_length == 0) {
        out.st = status::bad_length;
        return out;
    }
    std::size_t end = ipv6_header + payload_length;
    if (end > l3.size()) {
        out.truncated = true;
        end = l3.size();
    }
    std::uint8_t next = p[6];
    std::size_t off = ipv6_header;
    for (int walked = 0;; ++walked) {
        const bool generic =
            next == ipv6_hop_by_hop || next == ipv6_routing || next == ipv6_dest_opts;
        const bool is_ext = generic || next == ipv6_fragment || next == ipv6_ah;
        if (!is_ext) {
            break;
        }
        if (walked == ipv6_max_ext_headers) {
            out.l4_proto = next;
            out.st = status::unsupported;
            return out;
        }
        if (end - off < 8) {  // every extension header is at least 8 bytes
            out.l4_proto = next;
            out.st = status::truncated;
            return out;
        }
        const std::uint8_t* h = p + off;
        std::size_t len = 8;
        if (generic) {
            len = (static_cast<std::size_t>(h[1]) + 1) * 8;
        } else if (next == ipv6_ah) {
            len = (static_cast<std::size_t>(h[1]) + 2) * 4;
        }
        if (end - off < len) {
            out.l4_proto = next;
            out.st = status::truncated;
            return out;
        }
        if (next == ipv6_fragment) {
            const std::uint16_t fo = load_be16(h + 2);
            const bool later = (fo & 0xFFF8) != 0;
            out.fragment = out.fragment || later || (fo & 0x0001) != 0;
            if (later) {
                // Only the first fragment carries the rest of the chain and the transport header.
                out.later_fragment = true;
                next = h[0];
                off += len;
                break;
            }
        }
        next = h[0];
        off += len;
    }
    out.l4_proto = next;
    out.l4_offset = static_cast<std::uint16_t>(off);
    out.l4_length = static_cast<std::uint16_t>(end - off);
    return out;
}

// Tags, PPPoE, IPv6 and non-IP ethertypes: the frames parse_ethernet does not take in its
// untagged-IPv4 fast path. Inlined into a caller that is itself out of line (the classifier's
// walk for such frames, whose layers then stay in registers), and out of line below.
[[gnu::always_inline]] inline layers parse_ethernet_other_inline(byte_span frame) {
    constexpr std::size_t eth_header = 14;
    constexpr std::size_t tag_length = 4;
    const std::uint8_t* p = frame.data();
    std::size_t off = eth_header;
    std::uint16_t et = load_be16(p + 12);
    std::uint8_t tags = 0;
    if (is_tag(et)) {
        if (frame.size() < off + tag_length) {
            layers out;
            out.st = status::truncated;
            out.ethertype = et;
            return out;
        }
        et = load_be16(p + off + 2);
        off += tag_length;
        tags = 1;
        // 802.1ad puts a C-tag (0x8100) inside; any other tag there is not a QinQ we know.
        if (et == ethertype_vlan) {
            if (frame.size() < off + tag_length) {
                layers out;
                out.st = status::truncated;
                out.vlan_count = tags;
                out.ethertype = et;
                return out;
            }
            et = load_be16(p + off + 2);
            off += tag_length;
            tags = 2;
        }
        if (is_tag(et)) {
            layers out;
            out.st = status::unsupported;
            out.vlan_count = tags;
            out.ethertype = et;
            return out;
        }
    }
    // PPPoE session stage (RFC 2516) is framing below IP, like a tag: look through it.
    bool pppoe = false;
    if (et == ethertype_pppoe_session) {
        constexpr std::size_t pppoe_header = 8;  // ver/type, code, session, length, PPP proto
        if (frame.size() < off + pppoe_header) {
            layers out;
            out.st = status::truncated;
            out.vlan_count = tags;
            out.ethertype = et;
            return out;
        }
        if (p[off] != 0x11 || p[off + 1] != 0x00) {
            layers out;
            out.st = status::bad_value;
            out.vlan_count = tags;
            out.ethertype = et;
            return out;
        }
        const std::uint16_t ppp_proto = load_be16(p + off + 6);
        off += pppoe_header;
        pppoe = true;
        et = ppp_proto == 0x0021   ? ethertype_ipv4
             : ppp_proto == 0x0057 ? ethertype_ipv6
                                   : ethertype_pppoe_session;
    }
    // Below 0x0600 the field is an 802.3 length and LLC follows: not IP, not an error.
    layers out;
    if (et == ethertype_ipv4) {
        out = parse_ipv4(frame, off);
    } else if (et == ethertype_ipv6) {
        out = parse_ipv6(frame.subspan(off));
        if (out.l4_offset != 0) {
            out.l4_offset = static_cast<std::uint16_t>(out.l4_offset + off);
        }
    }
    out.pppoe = pppoe;
    out.vlan_count = tags;
    out.ethertype = et;
    out.l3_offset = static_cast<std::uint16_t>(off);
    return out;
}

// Out of line so that parse_ethernet's inlined fast path stays small.
[[gnu::noinline]] inline layers parse_ethernet_other(byte_span frame) {
    return parse_ethernet_other_inline(frame);
}

}  // namespace layers_detail

inline layers parse_l3(std::uint16_t ethertype, byte_span l3) {
    if (ethertype == ethertype_ipv4) {
        return layers_detail::parse_ipv4(l3, 0);
    }
    if (ethertype == ethertype_ipv6) {
        return layers_detail::parse_ipv6(l3);
    }
    layers out;
    out.ethertype = ethertype;
    return out;
}

[[gnu::always_inline]] inline layers parse_ethernet(byte_span frame) {
    constexpr std::size_t eth_header = 14;
    if (frame.size() < eth_header) [[unlikely]] {
        layers out;
        out.st = status::truncated;
        return out;
    }
    // Untagged IPv4 is most of any real mix: one compare and straight to the IP header.
    if (load_be16(frame.data() + 12) == ethertype_ipv4) [[likely]] {
        return layers_detail::parse_ipv4(frame, eth_header);
    }
    return layers_detail::parse_ethernet_other(frame);
}

// The shape of nearly every frame, decided in a few compares: untagged IPv4 without options,
// not a fragment, not cut short. Where it applies the result is exactly parse_ethernet's (and
// known to be ok, unfragmented, whole, transport at offset 34, which a caller's inlined copy
// folds into constants); anywhere else it returns nullopt and decides nothing.
[[gnu::always_inline]] inline std::optional<layers> parse_ethernet_simple_ipv4(byte_span frame) {
    constexpr std::size_t eth_header = 14;
    constexpr std::size_t l4_offset = eth_header + layers_detail::ipv4_min_header;
    // At least the headers, and at most 64 KiB (what a 16-bit offset reaches; no Ethernet frame
    // is longer): one unsigned compare, a frame under the headers' length wrapping to a huge one.
    const std::size_t after_headers = frame.size() - l4_offset;
    if (after_headers > 0xFFFF - l4_offset) [[unlikely]] {
        return std::nullopt;
    }
    const std::uint8_t* p = frame.data();
    if (load_be16(p + 12) != ethertype_ipv4 || p[eth_header] != 0x45) [[unlikely]] {
        return std::nullopt;
    }
    // The total length must cover the header and stay inside the frame: one compare checks
    // both, as the length past the header is taken in 16 bits, where a total length under the
    // header's wraps to 65516 or more, more than any frame this takes holds past its headers.
    // In 16 bits it is also the value the layers keep, computed once.
    const auto l4_length =
        static_cast<std::uint16_t>(load_be16(p + eth_header + 2) - layers_detail::ipv4_min_header);
    if (l4_length > after_headers || (load_be16(p + eth_header + 6) & 0x3FFF) != 0) [[unlikely]] {
        return std::nullopt;
    }
    return layers{
        .st = status::ok,
        .vlan_count = 0,
        .pppoe = false,
        .ethertype = ethertype_ipv4,
        .l3 = l3_kind::ipv4,
        .l4_proto = p[eth_header + 9],
        .fragment = false,
        .later_fragment = false,
        .truncated = false,
        .l3_offset = static_cast<std::uint16_t>(eth_header),
        .l4_offset = static_cast<std::uint16_t>(l4_offset),
        .l4_length = l4_length,
    };
}

inline layers parse_ip_in_ip(const layers& outer, byte_span frame) {
    const byte_span datagram = frame.first(std::size_t{outer.l4_offset} + outer.l4_length);
    const std::size_t off = outer.l4_offset;
    layers out;
    if (outer.l4_proto == ipproto_ipip) {
        out = layers_detail::parse_ipv4(datagram, off);
    } else {
        out = layers_detail::parse_ipv6(datagram.subspan(off));
        out.l3_offset = static_cast<std::uint16_t>(off);
        if (out.l4_offset != 0) {
            out.l4_offset = static_cast<std::uint16_t>(out.l4_offset + off);
        }
    }
    // An IPv6 header inside protocol 4 (or IPv4 inside 41) is refused, not re-dispatched: the
    // outer header said which one follows.
    out.vlan_count = outer.vlan_count;
    out.pppoe = outer.pppoe;
    out.ethertype = outer.ethertype;
    out.truncated = out.truncated || outer.truncated;
    out.ip_in_ip = static_cast<std::uint8_t>(outer.ip_in_ip + 1);
    out.outer_l3_offset = outer.ip_in_ip == 0 ? outer.l3_offset : outer.outer_l3_offset;
    return out;
}

// udp_view and tcp_view are built in one expression per outcome: partial writes into a
// default-initialised view made GCC keep it on the stack in the inlined classify path.
[[gnu::always_inline]] inline udp_view parse_udp(byte_span l4) {
    constexpr std::size_t udp_header = 8;
    if (l4.size() < udp_header) [[unlikely]] {
        udp_view out;
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = l4.data();
    const std::uint16_t length = load_be16(p + 4);
    const bool length_ok = length >= udp_header && length <= l4.size();
    return udp_view{
        .st = length_ok ? status::ok : status::bad_length,
        .src_port = load_be16(p),
        .dst_port = load_be16(p + 2),
        .length = length,
        .checksum = load_be16(p + 6),
        .payload = length_ok ? l4.subspan(udp_header, length - udp_header) : l4.subspan(udp_header),
    };
}

[[gnu::always_inline]] inline tcp_view parse_tcp(byte_span l4) {
    constexpr std::size_t tcp_min_header = 20;
    if (l4.size() < tcp_min_header) [[unlikely]] {
        tcp_view out;
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = l4.data();
    const auto header_length = static_cast<std::uint8_t>((p[12] >> 4) * 4);
    status st = status::ok;
    if (header_length < tcp_min_header) [[unlikely]] {
        st = status::bad_length;
    } else if (l4.size() < header_length) [[unlikely]] {
        st = status::truncated;
    }
    return tcp_view{
        .st = st,
        .src_port = load_be16(p),
        .dst_port = load_be16(p + 2),
        .seq = load_be32(p + 4),
        .ack = load_be32(p + 8),
        .flags = p[13],
        .header_length = header_length,
        .payload = st == status::ok ? l4.subspan(header_length) : byte_span{},
    };
}

}  // namespace ports::parsers
