// The engine's neighbour responder: for the NTP service's own addresses it answers ARP requests,
// IPv6 neighbour solicitations and ICMP/ICMPv6 echo requests itself, turning the received frame
// into its reply in place. DPDK-free and pure: no allocation, no logging, no syscalls; every
// length is checked against the frame before it is read.
//
// Replies go back to the requesting frame's source MAC (there is no routing table), on the VLAN
// tags the request came with. What is answered, and what is not:
//
// - ARP (RFC 826): Ethernet/IPv4 requests for a service address, sent to broadcast or to us.
//   Probes (sender IP 0.0.0.0, RFC 5227) are answered too: the prober learns the address is
//   taken. Replies, other hardware types and truncated ARP are not ours.
// - ICMP echo (RFC 792) to a service address, Ethernet destination my_mac: answered when the
//   IPv4 header has no options (IHL 5) and the datagram is not a fragment; other echoes are left
//   to the rest of the engine (not_for_us) rather than half-answered.
// - ICMPv6 echo (RFC 4443) likewise, only without extension headers (a routing or hop-by-hop
//   header would have to be reversed or dropped, which a fixed-size rewrite cannot do right).
// - Neighbour solicitation (RFC 4861 7.1.1, 7.2.3/7.2.4) for a service address, sent to that
//   address or to its solicited-node multicast group with the matching 33:33 MAC: answered by a
//   neighbour advertisement (Override, Solicited unless DAD, target link-layer option); DAD
//   probes from :: get it on all-nodes ff02::1 (RFC 4862 5.4.3 defence).
//
// Echo replies keep the request's length (Ethernet padding included), IPv4 ID and TOS, IPv6
// traffic class and flow label; TTL/hop limit becomes 64. The NA is always 32 bytes of ICMPv6
// (options of the NS are not echoed) with traffic class and flow label 0. Frames inside PPPoE
// sessions, and frames whose Ethernet source is my_mac (our own, looped back), are not_for_us.
//
// dropped_malformed: the message is addressed to us and of a kind we answer, but fails
// validation (NS hop limit != 255, bad checksum, bad options, a broadcast/multicast or otherwise
// bogus source, no room for the NA): the caller drops it; the frame is untouched. Invalid
// checksums are reasons to drop (RFC 1122 3.2.1.2 for the IPv4 header; ICMP and ICMPv6 as Linux
// does): veth and af_packet hand over fully computed checksums, so nothing valid is lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ports/neighbour/addresses.hpp"
#include "ports/parsers/layers.hpp"

namespace ports::neighbour {

enum class outcome : std::uint8_t {
    not_for_us,  // untouched; the rest of the engine handles it
    arp_reply,
    nd_advert,
    icmp4_echo_reply,
    icmp6_echo_reply,
    dropped_malformed,  // untouched; to be dropped
};

constexpr const char* to_string(outcome o) {
    switch (o) {
        case outcome::not_for_us:
            return "not_for_us";
        case outcome::arp_reply:
            return "arp_reply";
        case outcome::nd_advert:
            return "nd_advert";
        case outcome::icmp4_echo_reply:
            return "icmp4_echo_reply";
        case outcome::icmp6_echo_reply:
            return "icmp6_echo_reply";
        case outcome::dropped_malformed:
            return "dropped_malformed";
    }
    return "?";
}

struct result {
    outcome what = outcome::not_for_us;
    // The frame's length after the call: the reply's when one was written, else frame.size().
    std::uint16_t length = 0;
};

// frame: the whole Ethernet frame as received, writable. capacity: how many bytes may be
// written from frame.data() (data_len plus the mbuf's tailroom); an NA can be 8 bytes longer
// than an NS without a source link-layer option. Values below frame.size() count as
// frame.size(). l: parsers::parse_ethernet(frame); its offsets are checked against the frame
// before use, so a mismatched one yields not_for_us, never an out-of-bounds access.
inline result respond(std::span<std::uint8_t> frame, std::size_t capacity, const parsers::layers& l,
                      const service_addresses& addrs, const mac_address& my_mac);

}  // namespace ports::neighbour

#include "ports/neighbour/impl/respond_impl.hpp"
