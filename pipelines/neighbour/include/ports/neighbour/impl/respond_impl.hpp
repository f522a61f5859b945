// Definitions for respond.hpp. Every path validates the whole request before its first write,
// so frames that are not answered leave exactly as they came.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>

#include "ports/common/inet_checksum.hpp"

namespace ports::neighbour {

namespace respond_detail {

using parsers::load_be16;

inline constexpr std::size_t eth_header = 14;
inline constexpr std::size_t tag_length = 4;
inline constexpr std::size_t arp_length = 28;  // Ethernet/IPv4 ARP body
inline constexpr std::size_t ipv4_header = 20;
inline constexpr std::size_t ipv6_header = 40;
inline constexpr std::size_t icmp_echo_header = 8;
inline constexpr std::size_t ns_length = 24;  // NS without options
inline constexpr std::size_t na_length = 32;  // NA with the target link-layer option
inline constexpr std::uint8_t ipproto_icmp = 1;
inline constexpr std::uint8_t ipproto_icmpv6 = 58;
// Linux's default for both; any value works, the far end only needs it nonzero on arrival.
inline constexpr std::uint8_t reply_ttl = 64;
inline constexpr std::uint8_t nd_hop_limit = 255;

inline constexpr std::uint8_t icmp4_echo_reply_type = 0;
inline constexpr std::uint8_t icmp4_echo_request_type = 8;
inline constexpr std::uint8_t icmp6_echo_request_type = 128;
inline constexpr std::uint8_t icmp6_echo_reply_type = 129;
inline constexpr std::uint8_t nd_solicitation_type = 135;
inline constexpr std::uint8_t nd_advertisement_type = 136;
inline constexpr std::uint8_t nd_option_source_ll = 1;
inline constexpr std::uint8_t nd_option_target_ll = 2;
inline constexpr std::uint8_t nd_flag_solicited = 0x40;
inline constexpr std::uint8_t nd_flag_override = 0x20;

inline constexpr std::array<std::uint8_t, 16> all_nodes = {0xFF, 0x02, 0, 0, 0, 0, 0, 0,
                                                           0,    0,    0, 0, 0, 0, 0, 1};
inline constexpr std::array<std::uint8_t, 6> all_nodes_mac = {0x33, 0x33, 0, 0, 0, 1};

inline result keep(std::span<const std::uint8_t> frame, outcome what) {
    return {what, static_cast<std::uint16_t>(frame.size())};
}

inline void store_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

inline bool same_mac(const std::uint8_t* p, const mac_address& m) {
    return std::memcmp(p, m.bytes.data(), m.bytes.size()) == 0;
}

// The I/G bit: broadcast is a multicast address too.
inline bool is_group_mac(const std::uint8_t* p) {
    return (p[0] & 0x01) != 0;
}

inline bool is_broadcast_mac(const std::uint8_t* p) {
    return (p[0] & p[1] & p[2] & p[3] & p[4] & p[5]) == 0xFF;
}

inline std::span<const std::uint8_t, 4> v4_at(const std::uint8_t* p) {
    return std::span<const std::uint8_t, 4>(p, 4);
}
inline std::span<const std::uint8_t, 16> v6_at(const std::uint8_t* p) {
    return std::span<const std::uint8_t, 16>(p, 16);
}

// A source one may answer: not 0/8, loopback, multicast, class E or the limited broadcast.
inline bool is_unicast_v4(const std::uint8_t* p) {
    return p[0] != 0 && p[0] != 127 && p[0] < 224;
}

inline bool is_unspecified_v6(const std::uint8_t* p) {
    std::uint8_t any = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        any = static_cast<std::uint8_t>(any | p[i]);
    }
    return any == 0;
}

inline bool is_multicast_v6(const std::uint8_t* p) {
    return p[0] == 0xFF;
}

// ff02::1:ffXX:XXXX with the target's low 24 bits (RFC 4291 2.7.1).
inline bool is_solicited_node_of(const std::uint8_t* dst, const std::uint8_t* target) {
    static constexpr std::array<std::uint8_t, 13> prefix = {0xFF, 0x02, 0, 0, 0, 0,   0,
                                                            0,    0,    0, 0, 1, 0xFF};
    return std::memcmp(dst, prefix.data(), prefix.size()) == 0 && dst[13] == target[13] &&
           dst[14] == target[14] && dst[15] == target[15];
}

// The MAC an IPv6 multicast destination maps to (RFC 2464 7): 33:33 and its low 32 bits.
inline bool is_multicast_mac_of(const std::uint8_t* mac, const std::uint8_t* ip6) {
    return mac[0] == 0x33 && mac[1] == 0x33 && std::memcmp(mac + 2, ip6 + 12, 4) == 0;
}

// Reply to whoever sent the frame, from us; the tags behind the addresses stay as received.
inline void address_reply(std::uint8_t* eth, const mac_address& my_mac) {
    std::memmove(eth, eth + 6, 6);
    std::memcpy(eth + 6, my_mac.bytes.data(), 6);
}

inline result respond_arp(std::span<std::uint8_t> frame, const parsers::layers& l,
                          const service_addresses& addrs, const mac_address& my_mac) {
    const std::size_t off = eth_header + l.vlan_count * tag_length;
    if (frame.size() < off + arp_length) {
        return keep(frame, outcome::not_for_us);
    }
    std::uint8_t* eth = frame.data();
    std::uint8_t* a = eth + off;
    const bool ethernet_ipv4_request = load_be16(a) == 1 && load_be16(a + 2) == 0x0800 &&
                                       a[4] == 6 && a[5] == 4 && load_be16(a + 6) == 1;
    if (!ethernet_ipv4_request) {
        return keep(frame, outcome::not_for_us);
    }
    std::uint8_t* sha = a + 8;
    std::uint8_t* spa = a + 14;
    std::uint8_t* tha = a + 18;
    std::uint8_t* tpa = a + 24;
    if (!addrs.contains_v4(v4_at(tpa))) {
        return keep(frame, outcome::not_for_us);
    }
    // A unicast request to another station is a cache refresh aimed at a previous owner of the
    // address (or a promiscuous port's view of someone else's traffic); ours come to us.
    if (!is_broadcast_mac(eth) && !same_mac(eth, my_mac)) {
        return keep(frame, outcome::not_for_us);
    }
    // Our own request looped back by a switch or a tap.
    if (same_mac(eth + 6, my_mac)) {
        return keep(frame, outcome::not_for_us);
    }
    // A group address cannot be a requester; 0.0.0.0 can (an RFC 5227 probe), the rest cannot.
    const bool probe = load_be16(spa) == 0 && load_be16(spa + 2) == 0;
    if (is_group_mac(eth + 6) || is_group_mac(sha) || (!probe && !is_unicast_v4(spa))) {
        return keep(frame, outcome::dropped_malformed);
    }
    std::array<std::uint8_t, 4> service{};
    std::memcpy(service.data(), tpa, 4);
    store_be16(a + 6, 2);
    std::memcpy(tha, sha, 6);
    std::memcpy(tpa, spa, 4);
    std::memcpy(sha, my_mac.bytes.data(), 6);
    std::memcpy(spa, service.data(), 4);
    address_reply(eth, my_mac);
    return keep(frame, outcome::arp_reply);
}

inline result respond_icmp4(std::span<std::uint8_t> frame, const parsers::layers& l,
                            const service_addresses& addrs, const mac_address& my_mac) {
    if (l.st != parsers::status::ok || l.truncated || l.pppoe || l.l4_proto != ipproto_icmp) {
        return keep(frame, outcome::not_for_us);
    }
    const std::size_t ip_off = l.l3_offset;
    const std::size_t icmp_off = l.l4_offset;
    const std::size_t icmp_len = l.l4_length;
    if (ip_off < eth_header || ip_off + ipv4_header > frame.size()) {
        return keep(frame, outcome::not_for_us);
    }
    std::uint8_t* eth = frame.data();
    std::uint8_t* ip = eth + ip_off;
    if (!addrs.contains_v4(v4_at(ip + 16))) {
        return keep(frame, outcome::not_for_us);
    }
    // Options would have to be reversed (source route, record route) or stripped; fragments
    // would need reassembly. Neither is worth it for ping: left to the rest of the engine.
    if (ip[0] != 0x45 || l.fragment) {
        return keep(frame, outcome::not_for_us);
    }
    if (icmp_off != ip_off + ipv4_header || icmp_off + icmp_len > frame.size() || icmp_len == 0) {
        return keep(frame, outcome::not_for_us);
    }
    std::uint8_t* icmp = eth + icmp_off;
    if (icmp[0] != icmp4_echo_request_type) {
        return keep(frame, outcome::not_for_us);
    }
    if (!same_mac(eth, my_mac) || same_mac(eth + 6, my_mac)) {
        return keep(frame, outcome::not_for_us);
    }
    const std::span<const std::uint8_t> header(ip, ipv4_header);
    const std::span<const std::uint8_t> message(icmp, icmp_len);
    const bool valid = icmp_len >= icmp_echo_header && icmp[1] == 0 && !is_group_mac(eth + 6) &&
                       is_unicast_v4(ip + 12) &&
                       inet_checksum::verifies(inet_checksum::add(0, ip, header.size())) &&
                       inet_checksum::verifies(inet_checksum::add(0, icmp, message.size()));
    if (!valid) {
        return keep(frame, outcome::dropped_malformed);
    }
    std::array<std::uint8_t, 4> peer{};
    std::memcpy(peer.data(), ip + 12, 4);
    std::memcpy(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, peer.data(), 4);
    ip[8] = reply_ttl;
    store_be16(ip + 10, 0);
    inet_checksum::store(ip + 10, inet_checksum::finish(inet_checksum::add(0, ip, header.size())));
    icmp[0] = icmp4_echo_reply_type;
    store_be16(icmp + 2, inet_checksum::update(load_be16(icmp + 2), icmp4_echo_request_type << 8,
                                               icmp4_echo_reply_type << 8));
    address_reply(eth, my_mac);
    return keep(frame, outcome::icmp4_echo_reply);
}

inline std::uint64_t icmp6_sum(const std::uint8_t* ip, std::span<const std::uint8_t> message) {
    const std::uint64_t pseudo = inet_checksum::pseudo_header(
        ip + 8, 32, ipproto_icmpv6, static_cast<std::uint32_t>(message.size()));
    return inet_checksum::add(pseudo, message.data(), message.size());
}

inline result respond_echo6(std::span<std::uint8_t> frame, std::uint8_t* ip,
                            std::span<std::uint8_t> message, const service_addresses& addrs,
                            const mac_address& my_mac) {
    std::uint8_t* eth = frame.data();
    std::uint8_t* icmp = message.data();
    if (!addrs.contains_v6(v6_at(ip + 24))) {
        return keep(frame, outcome::not_for_us);
    }
    if (!same_mac(eth, my_mac) || same_mac(eth + 6, my_mac)) {
        return keep(frame, outcome::not_for_us);
    }
    const bool valid = message.size() >= icmp_echo_header && icmp[1] == 0 &&
                       !is_group_mac(eth + 6) && !is_multicast_v6(ip + 8) &&
                       !is_unspecified_v6(ip + 8) &&
                       inet_checksum::verifies(icmp6_sum(ip, message));
    if (!valid) {
        return keep(frame, outcome::dropped_malformed);
    }
    // Swapping source and destination leaves the pseudo-header's sum as it was: only the type
    // word changes the checksum.
    std::array<std::uint8_t, 16> peer{};
    std::memcpy(peer.data(), ip + 8, 16);
    std::memcpy(ip + 8, ip + 24, 16);
    std::memcpy(ip + 24, peer.data(), 16);
    ip[7] = reply_ttl;
    icmp[0] = icmp6_echo_reply_type;
    store_be16(icmp + 2, inet_checksum::update(load_be16(icmp + 2), icmp6_echo_request_type << 8,
                                               icmp6_echo_reply_type << 8));
    address_reply(eth, my_mac);
    return keep(frame, outcome::icmp6_echo_reply);
}

inline result respond_solicitation(std::span<std::uint8_t> frame, std::size_t capacity,
                                   std::uint8_t* ip, std::span<std::uint8_t> message,
                                   const service_addresses& addrs, const mac_address& my_mac) {
    std::uint8_t* eth = frame.data();
    std::uint8_t* icmp = message.data();
    if (message.size() < ns_length) {
        return keep(frame, outcome::not_for_us);
    }
    const std::uint8_t* target = icmp + 8;
    if (!addrs.contains_v6(v6_at(target))) {
        return keep(frame, outcome::not_for_us);
    }
    const std::uint8_t* src = ip + 8;
    const std::uint8_t* dst = ip + 24;
    // Ours when sent to one of our addresses at our MAC, or to the target's solicited-node
    // group at the group's MAC; anything else is someone else's conversation.
    const bool multicast_dst = is_multicast_v6(dst);
    const bool to_us = multicast_dst
                           ? is_solicited_node_of(dst, target) && is_multicast_mac_of(eth, dst)
                           : addrs.contains_v6(v6_at(dst)) && same_mac(eth, my_mac);
    if (!to_us || same_mac(eth + 6, my_mac)) {
        return keep(frame, outcome::not_for_us);
    }
    const bool dad = is_unspecified_v6(src);
    // RFC 4861 7.1.1; a hop limit below 255 means the NS crossed a router (off-link spoofing).
    bool valid = ip[7] == nd_hop_limit && icmp[1] == 0 && !is_group_mac(eth + 6) &&
                 !is_multicast_v6(src) && (!dad || multicast_dst) &&
                 inet_checksum::verifies(icmp6_sum(ip, message));
    bool source_ll = false;
    std::size_t at = ns_length;
    while (valid && at < message.size()) {
        if (message.size() - at < 2) {
            valid = false;
            break;
        }
        const std::size_t option_length = static_cast<std::size_t>(icmp[at + 1]) * 8;
        if (option_length == 0 || option_length > message.size() - at) {
            valid = false;
            break;
        }
        source_ll = source_ll || icmp[at] == nd_option_source_ll;
        at += option_length;
    }
    // A DAD probe has no address to bind a link-layer address to (7.1.1).
    valid = valid && !(dad && source_ll);
    const std::size_t reply_end = static_cast<std::size_t>(icmp - eth) + na_length;
    if (!valid || reply_end > capacity || reply_end > 0xFFFF) {
        return keep(frame, outcome::dropped_malformed);
    }
    // From here on the NA is written over the NS, up to reply_end, within capacity.
    std::array<std::uint8_t, 16> asker{};
    std::memcpy(asker.data(), src, 16);
    // A fresh message rather than an echo: no traffic class or flow label carried over.
    ip[0] = 0x60;
    ip[1] = 0;
    ip[2] = 0;
    ip[3] = 0;
    store_be16(ip + 4, static_cast<std::uint16_t>(na_length));
    ip[7] = nd_hop_limit;
    std::memcpy(ip + 24, dad ? all_nodes.data() : asker.data(), 16);
    std::memcpy(ip + 8, target, 16);
    icmp[0] = nd_advertisement_type;
    icmp[1] = 0;
    store_be16(icmp + 2, 0);
    // Router 0: the engine forwards nothing. Override: the address is ours, not anycast.
    icmp[4] = static_cast<std::uint8_t>(nd_flag_override | (dad ? 0 : nd_flag_solicited));
    icmp[5] = 0;
    icmp[6] = 0;
    icmp[7] = 0;
    icmp[24] = nd_option_target_ll;
    icmp[25] = 1;
    std::memcpy(icmp + 26, my_mac.bytes.data(), 6);
    const std::span<const std::uint8_t> advert(icmp, na_length);
    inet_checksum::store(icmp + 2, inet_checksum::finish(icmp6_sum(ip, advert)));
    if (dad) {
        std::memcpy(eth, all_nodes_mac.data(), 6);
        std::memcpy(eth + 6, my_mac.bytes.data(), 6);
    } else {
        address_reply(eth, my_mac);
    }
    return {outcome::nd_advert, static_cast<std::uint16_t>(reply_end)};
}

inline result respond_ipv6(std::span<std::uint8_t> frame, std::size_t capacity,
                           const parsers::layers& l, const service_addresses& addrs,
                           const mac_address& my_mac) {
    if (l.st != parsers::status::ok || l.truncated || l.pppoe || l.l4_proto != ipproto_icmpv6) {
        return keep(frame, outcome::not_for_us);
    }
    const std::size_t ip_off = l.l3_offset;
    const std::size_t icmp_off = l.l4_offset;
    const std::size_t icmp_len = l.l4_length;
    // Extension headers (a fragment header among them) put l4 further than 40 bytes in: see
    // respond.hpp for why those are not answered.
    if (ip_off < eth_header || icmp_off != ip_off + ipv6_header ||
        icmp_off + icmp_len > frame.size() || icmp_len == 0) {
        return keep(frame, outcome::not_for_us);
    }
    std::uint8_t* ip = frame.data() + ip_off;
    const std::span<std::uint8_t> message = frame.subspan(icmp_off, icmp_len);
    if (message[0] == icmp6_echo_request_type) {
        return respond_echo6(frame, ip, message, addrs, my_mac);
    }
    if (message[0] == nd_solicitation_type) {
        return respond_solicitation(frame, capacity, ip, message, addrs, my_mac);
    }
    return keep(frame, outcome::not_for_us);
}

}  // namespace respond_detail

inline result respond(std::span<std::uint8_t> frame, std::size_t capacity, const parsers::layers& l,
                      const service_addresses& addrs, const mac_address& my_mac) {
    if (frame.size() < respond_detail::eth_header || frame.size() > 0xFFFF) {
        return respond_detail::keep(frame, outcome::not_for_us);
    }
    switch (l.l3) {
        case parsers::l3_kind::none:
            if (l.ethertype == parsers::ethertype_arp && !l.pppoe && l.st == parsers::status::ok &&
                l.vlan_count <= 2) {
                return respond_detail::respond_arp(frame, l, addrs, my_mac);
            }
            return respond_detail::keep(frame, outcome::not_for_us);
        case parsers::l3_kind::ipv4:
            return respond_detail::respond_icmp4(frame, l, addrs, my_mac);
        case parsers::l3_kind::ipv6:
            return respond_detail::respond_ipv6(frame, std::max(capacity, frame.size()), l, addrs,
                                                my_mac);
    }
    return respond_detail::keep(frame, outcome::not_for_us);
}

}  // namespace ports::neighbour
