// What a tunnel carries (tunnels::inner_of, table::update): frames cut from the shared
// captures (GRE in GRE, Ethernet over GRE, PPTP's PPP, L2TP's PPP, ERSPAN I and II) and frames
// built byte by byte per RFC around real inner packets (an NTP request, an SNMP GetRequest) cut
// from the shared captures too. Each inner packet's offset is computed here from the headers'
// RFC layouts, and its class is what the classifier says of those bytes alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "capture_frames.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/tunnels/table.hpp"
#include "ports/tunnels/track.hpp"

using namespace ports;
using pipelines::traffic_class;

namespace {

using bytes = std::vector<std::uint8_t>;

template <class Frame>
parsers::byte_span span_of(const Frame& f) {
    return {f.data(), f.size()};
}

template <class Frame>
bytes bytes_of(const Frame& f) {
    return bytes(f.begin(), f.end());
}

// The bytes of f from `offset`: the inner packet a test expects.
template <class Frame>
bytes from(const Frame& f, std::size_t offset) {
    return bytes(f.begin() + static_cast<std::ptrdiff_t>(offset), f.end());
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

void put16(bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

// Ethernet/IPv4 192.0.2.src -> 192.0.2.dst, protocol proto.
bytes ipv4_frame(std::uint8_t src, std::uint8_t dst, std::uint8_t proto, const bytes& l4) {
    bytes eth = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00};
    bytes ip = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 192, 0, 2, src, 192, 0, 2, dst};
    put16(ip, 2, static_cast<std::uint16_t>(20 + l4.size()));
    return cat({eth, ip, l4});
}

constexpr std::size_t eth = 14;
constexpr std::size_t ipv4 = 20;

// Real inner packets: an NTPv4 client request over IPv4 and over IPv6, an SNMPv1 GetRequest
// over IPv4 (their IP packets, without the Ethernet header), and a whole 802.1Q SNMP frame.
const bytes ntp_ipv4 = from(capture::ntp_v4_client_frame, eth);
const bytes ntp_ipv6 = from(capture::ntp_v4_mac16_frame, eth);
const bytes snmp_ipv4 = from(capture::snmp_v1_get_frame, eth);
const bytes snmp_vlan_ethernet = bytes_of(capture::snmp_v2c_vlan_frame);

// GRE v0 (RFC 2784) with the given protocol; S set when sequenced (ERSPAN II and III).
bytes gre_v0(std::uint16_t protocol, const bytes& payload, bool sequenced = false) {
    bytes g = {static_cast<std::uint8_t>(sequenced ? 0x10 : 0x00), 0x00, 0, 0};
    put16(g, 2, protocol);
    if (sequenced) {
        g.insert(g.end(), {0, 0, 0, 7});
    }
    return cat({g, payload});
}

// RFC 2637 4.1 enhanced GRE: K and S set, version 1, PPP.
bytes gre_v1(std::uint16_t call_id, const bytes& ppp) {
    bytes g = {0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1};
    put16(g, 4, static_cast<std::uint16_t>(ppp.size()));
    put16(g, 6, call_id);
    return cat({g, ppp});
}

// PPP (RFC 1661): FF 03 and a two-octet protocol, or both compressed (ACFC, PFC: 0x21).
bytes ppp(std::uint16_t protocol, const bytes& payload, bool compressed = false) {
    if (compressed) {
        return cat({{static_cast<std::uint8_t>(protocol)}, payload});
    }
    return cat({{0xff, 0x03, static_cast<std::uint8_t>(protocol >> 8),
                 static_cast<std::uint8_t>(protocol)},
                payload});
}

bytes udp(std::uint16_t sport, std::uint16_t dport, const bytes& payload) {
    bytes u(8, 0);
    put16(u, 0, sport);
    put16(u, 2, dport);
    put16(u, 4, static_cast<std::uint16_t>(8 + payload.size()));
    return cat({u, payload});
}

// L2TPv2 data (RFC 2661 3.1): no L, S or O; the receiver's tunnel and session IDs.
bytes l2tp_v2_data(std::uint16_t tunnel, std::uint16_t session, const bytes& payload) {
    bytes h(6, 0);
    put16(h, 0, 0x0002);
    put16(h, 2, tunnel);
    put16(h, 4, session);
    return cat({h, payload});
}

pipelines::classified classified(const bytes& f) {
    return pipelines::classify_frame_full({f.data(), f.size()});
}

tunnels::inner_packet inner(const bytes& f) {
    const auto c = classified(f);
    return tunnels::inner_of(c.record, {f.data(), f.size()});
}

template <class Frame>
tunnels::inner_packet inner_of_capture(const Frame& f) {
    const auto c = pipelines::classify_frame_full(span_of(f));
    return tunnels::inner_of(c.record, span_of(f));
}

// The class the classifier gives the expected inner bytes alone, from their first header.
traffic_class class_of_l3(std::uint16_t ethertype, const bytes& b) {
    return pipelines::classify_l3(ethertype, {b.data(), b.size()}).cls;
}
traffic_class class_of_ethernet(const bytes& b) {
    return pipelines::classify_frame({b.data(), b.size()}).cls;
}

void expect_inner(const tunnels::inner_packet& got, traffic_class cls, std::size_t size,
                  std::uint8_t depth = 1) {
    EXPECT_TRUE(got.present);
    EXPECT_EQ(got.cls, cls);
    EXPECT_EQ(got.bytes, size);
    EXPECT_EQ(got.depth, depth);
}

}  // namespace

// Hand-built tunnels around real inner packets.

TEST(Inner, NtpOverGreV0IsNtpInsideGreOutside) {
    const bytes f = ipv4_frame(1, 2, 47, gre_v0(0x0800, ntp_ipv4));
    EXPECT_EQ(classified(f).c.cls, traffic_class::gre);  // the outer rule is unchanged
    expect_inner(inner(f), traffic_class::ntp, ntp_ipv4.size());
}

TEST(Inner, Ipv6OverGreV0) {
    const bytes f = ipv4_frame(1, 2, 47, gre_v0(0x86DD, ntp_ipv6));
    expect_inner(inner(f), traffic_class::ntp, ntp_ipv6.size());
}

TEST(Inner, PptpPppIpv4WithAndWithoutHeaderCompression) {
    expect_inner(inner(ipv4_frame(1, 2, 47, gre_v1(24, ppp(0x0021, snmp_ipv4)))),
                 traffic_class::snmp, snmp_ipv4.size());
    expect_inner(inner(ipv4_frame(1, 2, 47, gre_v1(24, ppp(0x0021, snmp_ipv4, true)))),
                 traffic_class::snmp, snmp_ipv4.size());
    expect_inner(inner(ipv4_frame(1, 2, 47, gre_v1(24, ppp(0x0057, ntp_ipv6)))), traffic_class::ntp,
                 ntp_ipv6.size());
}

TEST(Inner, PppThatIsNotIpIsOther) {
    // LCP Configure-Request (0xC021) and an MPPE-compressed/encrypted frame (CCP data, 0x00FD).
    const bytes lcp = {0x01, 0x01, 0x00, 0x04};
    const auto l = inner(ipv4_frame(1, 2, 47, gre_v1(24, ppp(0xC021, lcp))));
    expect_inner(l, traffic_class::other, 2 + lcp.size());  // the PPP protocol and what follows
    const bytes sealed = {0x90, 0x01, 0xde, 0xad, 0xbe, 0xef};
    expect_inner(inner(ipv4_frame(1, 2, 47, gre_v1(24, ppp(0x00FD, sealed)))), traffic_class::other,
                 2 + sealed.size());
}

TEST(Inner, L2tpV2DataCarriesPpp) {
    const bytes f =
        ipv4_frame(1, 2, 17, udp(1701, 1701, l2tp_v2_data(7, 9, ppp(0x0021, ntp_ipv4))));
    EXPECT_EQ(classified(f).c.cls, traffic_class::l2tp);
    expect_inner(inner(f), traffic_class::ntp, ntp_ipv4.size());
}

TEST(Inner, EthernetOverGreIsClassifiedAsAFrame) {
    const bytes f = ipv4_frame(1, 2, 47, gre_v0(0x6558, snmp_vlan_ethernet));
    expect_inner(inner(f), traffic_class::snmp, snmp_vlan_ethernet.size());
}

TEST(Inner, ErspanTypesIIandIIIbyHand) {
    // Type II: GRE with S, an 8-octet header of version 1.
    const bytes type2 = {0x10, 0x01, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00};
    expect_inner(
        inner(ipv4_frame(1, 2, 47, gre_v0(0x88BE, cat({type2, snmp_vlan_ethernet}), true))),
        traffic_class::snmp, snmp_vlan_ethernet.size());
    // Type III: 12 octets of version 2, frame type 0 (Ethernet); with O, 8 octets more.
    bytes type3(12, 0);
    type3[0] = 0x20;
    expect_inner(
        inner(ipv4_frame(1, 2, 47, gre_v0(0x22EB, cat({type3, snmp_vlan_ethernet}), true))),
        traffic_class::snmp, snmp_vlan_ethernet.size());
    type3[11] = 0x01;
    expect_inner(
        inner(ipv4_frame(1, 2, 47,
                         gre_v0(0x22EB, cat({type3, bytes(8, 0xAA), snmp_vlan_ethernet}), true))),
        traffic_class::snmp, snmp_vlan_ethernet.size());
    // Frame type 2 (IP): not an Ethernet frame; other.
    type3[11] = 0x00;
    type3[10] = 2 << 2;
    EXPECT_EQ(inner(ipv4_frame(1, 2, 47, gre_v0(0x22EB, cat({type3, ntp_ipv4}), true))).cls,
              traffic_class::other);
}

TEST(Inner, TunnelsInTunnelsUpToTheDepthLimit) {
    bytes packet = ntp_ipv4;
    // Each level: IPv4 192.0.2.1 -> 192.0.2.2, GRE, the level inside.
    const auto wrap = [](const bytes& p) {
        bytes ip = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, 47, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
        const bytes g = gre_v0(0x0800, p);
        put16(ip, 2, static_cast<std::uint16_t>(20 + g.size()));
        return cat({ip, g});
    };
    const bytes two = wrap(packet);  // GRE(NTP)
    const bytes three = wrap(two);   // GRE(GRE(NTP))
    const bytes four = wrap(three);  // GRE(GRE(GRE(NTP)))
    const auto frame = [](const bytes& l3) {
        return cat({{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00}, l3});
    };
    expect_inner(inner(frame(two)), traffic_class::ntp, ntp_ipv4.size(), 1);
    expect_inner(inner(frame(three)), traffic_class::ntp, ntp_ipv4.size(), 2);
    expect_inner(inner(frame(four)), traffic_class::ntp, ntp_ipv4.size(), 3);
    // A fourth tunnel is not looked into: what the third carries is a GRE packet (the
    // fourth's, with the NTP request inside).
    const bytes five = wrap(four);
    expect_inner(inner(frame(five)), traffic_class::gre, two.size(), 3);
}

TEST(Inner, NothingInsideControlKeepalivesAndBrokenFrames) {
    EXPECT_FALSE(inner(ipv4_frame(1, 2, 47, gre_v0(0x0800, {}))).present);  // keepalive
    EXPECT_FALSE(inner_of_capture(capture::gre_v1_ack_only_frame).present);
    EXPECT_FALSE(inner_of_capture(capture::pptp_ocrq_gre_frame).present);  // PPTP control
    // A GRE frame cut short (the capture's snapshot length): malformed, not looked into.
    const auto c = pipelines::classify_l3_full(0x86DD, span_of(capture::erspan_iii_raw_frame));
    EXPECT_EQ(c.c.cls, traffic_class::gre);
    EXPECT_TRUE(c.c.malformed);
    EXPECT_FALSE(tunnels::inner_of(c.record, span_of(capture::erspan_iii_raw_frame)).present);
}

// Frames of the shared captures.

TEST(InnerCaptures, GreInGreCarriesRip) {
    // Ethernet, IPv4, GRE v0 (4), IPv4, GRE v0 (4), then the RIP datagram's IPv4 packet.
    const auto& f = capture::gre_in_gre_rip_frame;
    const bytes rip = from(f, eth + ipv4 + 4 + ipv4 + 4);
    const auto got = inner_of_capture(f);
    expect_inner(got, class_of_l3(0x0800, rip), rip.size(), 2);
    EXPECT_EQ(got.cls, traffic_class::other);  // UDP 520
}

TEST(InnerCaptures, EthernetOverGreCarriesTcp) {
    const auto& f = capture::gre_teb_tcp_frame;
    const bytes inner_frame = from(f, eth + ipv4 + 8);  // GRE with a key
    expect_inner(inner_of_capture(f), class_of_ethernet(inner_frame), inner_frame.size());
}

TEST(InnerCaptures, PptpPppCarriesIcmpAndPap) {
    // GRE v1 with S (and no A): 12 octets; PPP FF 03 00 21.
    const auto& icmp = capture::gre_ppp_icmp_frame;
    const bytes ip = from(icmp, eth + ipv4 + 12 + 4);
    expect_inner(inner_of_capture(icmp), class_of_l3(0x0800, ip), ip.size());
    // PAP (0xC023): not IP.
    const auto pap = inner_of_capture(capture::gre_pap_frame);
    EXPECT_TRUE(pap.present);
    EXPECT_EQ(pap.cls, traffic_class::other);
}

TEST(InnerCaptures, PptpOver4in6CarriesDns) {
    // Ethernet, 802.1Q, IPv6 (40), IPv4 (20), GRE v1 with S (12), PPP FF 03 00 21.
    const auto& f = capture::gre_4in6_ppp_dns_frame;
    const bytes ip = from(f, eth + 4 + 40 + ipv4 + 12 + 4);
    expect_inner(inner_of_capture(f), class_of_l3(0x0800, ip), ip.size());
}

TEST(InnerCaptures, ErspanTypesIAndII) {
    // Type I: GRE without a sequence number (4 octets), the mirrored frame right after.
    const auto& one = capture::erspan_i_frame;
    const bytes a = from(one, eth + ipv4 + 4);
    expect_inner(inner_of_capture(one), class_of_ethernet(a), a.size());
    // Type II: GRE with a sequence number (8), its own 8-octet header.
    const auto& two = capture::erspan_ii_frame;
    const bytes b = from(two, eth + ipv4 + 8 + 8);
    expect_inner(inner_of_capture(two), class_of_ethernet(b), b.size());
}

TEST(InnerCaptures, L2tpDataCarriesPppLcp) {
    const auto got = inner_of_capture(capture::l2tp_pppoe_frame);
    EXPECT_TRUE(got.present);
    EXPECT_EQ(got.cls, traffic_class::other);
}

// Per object and per class.

TEST(InnerTable, CountedPerObjectAndInTheClassCounters) {
    tunnels::table t(16, 60'000'000'000);
    pipelines::core_counters c;
    const bytes ntp_in_gre = ipv4_frame(1, 2, 47, gre_v0(0x0800, ntp_ipv4));
    const bytes snmp_in_gre = ipv4_frame(2, 1, 47, gre_v0(0x0800, snmp_ipv4));
    for (const bytes* f : {&ntp_in_gre, &ntp_in_gre, &snmp_in_gre}) {
        // As the worker: counted, its record filled in the same walk, and tracked.
        const parsers::byte_span s(f->data(), f->size());
        const auto size = static_cast<std::uint32_t>(f->size());
        ASSERT_TRUE(tunnels::is_tunnel_class(tunnels::count_and_track(t, c, s, size, 1)));
    }
    const tunnels::table* one[] = {&t};
    const auto rows = tunnels::merge(one);
    ASSERT_EQ(rows.size(), 1u);  // one tunnel, both ways
    const auto ntp = static_cast<std::size_t>(traffic_class::ntp);
    const auto snmp = static_cast<std::size_t>(traffic_class::snmp);
    EXPECT_EQ(rows[0].e.inner_packets[ntp], 2u);
    EXPECT_EQ(rows[0].e.inner_bytes[ntp], 2 * ntp_ipv4.size());
    EXPECT_EQ(rows[0].e.inner_packets[snmp], 1u);
    pipelines::counter_snapshot s;
    s.accumulate(c);
    EXPECT_EQ(s.get(pipelines::counter::ntp_inner_packets), 2u);
    EXPECT_EQ(s.get(pipelines::counter::ntp_inner_bytes), 2 * ntp_ipv4.size());
    EXPECT_EQ(s.get(pipelines::counter::snmp_inner_packets), 1u);
    // The outer counts: three GRE frames, no NTP or SNMP packet.
    EXPECT_EQ(s.packets(traffic_class::gre), 3u);
    EXPECT_EQ(s.packets(traffic_class::ntp), 0u);
}

TEST(InnerTable, ClassCountersStillCountWhenTheTableIsFull) {
    tunnels::table t(1, 60'000'000'000);
    pipelines::core_counters c;
    for (std::uint8_t host = 1; host <= 3; ++host) {
        const bytes f = ipv4_frame(host, 9, 47, gre_v0(0x0800, ntp_ipv4));
        tunnels::count_and_track(t, c, {f.data(), f.size()}, static_cast<std::uint32_t>(f.size()),
                                 1);
    }
    EXPECT_EQ(t.stats().table_full, 2u);
    pipelines::counter_snapshot s;
    s.accumulate(c);
    EXPECT_EQ(s.get(pipelines::counter::ntp_inner_packets), 3u);
}

TEST(InnerTable, CarriedOnAnotherLcoreIsMergedIntoItsCall) {
    // Lcore A sees the call set up (OCRQ 100 / OCRP 200), lcore B only its GRE frames with
    // NTP inside: the merged call says what it carried.
    const auto pptp = [](std::uint16_t type, std::uint16_t call, std::uint16_t peer) {
        static constexpr std::uint16_t lengths[] = {0, 156, 156, 16, 16, 16, 20, 168, 32};
        bytes m(lengths[type], 0);
        put16(m, 0, lengths[type]);
        put16(m, 2, 1);
        m[4] = 0x1a, m[5] = 0x2b, m[6] = 0x3c, m[7] = 0x4d;
        put16(m, 8, type);
        put16(m, 12, call);
        put16(m, 14, peer);
        m[16] = 1;
        bytes t(20, 0);
        put16(t, 0, type == 7 ? 40000 : 1723);
        put16(t, 2, type == 7 ? 1723 : 40000);
        t[12] = 0x50;
        t[13] = 0x18;
        return cat({t, m});
    };
    tunnels::table a(16, 60'000'000'000);
    tunnels::table b(16, 60'000'000'000);
    pipelines::core_counters c;
    const auto feed = [&c](tunnels::table& t, const bytes& f) {
        tunnels::count_and_track(t, c, {f.data(), f.size()}, static_cast<std::uint32_t>(f.size()),
                                 1);
    };
    feed(a, ipv4_frame(1, 2, 6, pptp(7, 100, 0)));
    feed(a, ipv4_frame(2, 1, 6, pptp(8, 200, 100)));
    feed(b, ipv4_frame(1, 2, 47, gre_v1(200, ppp(0x0021, ntp_ipv4))));
    feed(b, ipv4_frame(2, 1, 47, gre_v1(100, ppp(0x0021, ntp_ipv4))));
    const tunnels::table* both[] = {&a, &b};
    const auto rows = tunnels::merge(both);
    const tunnels::row* call = nullptr;
    for (const auto& r : rows) {
        EXPECT_NE(r.e.k, tunnels::kind::pptp_data);  // every data frame found its call
        call = r.e.k == tunnels::kind::pptp_call ? &r : call;
    }
    ASSERT_NE(call, nullptr);
    EXPECT_EQ(call->e.inner_packets[static_cast<std::size_t>(traffic_class::ntp)], 2u);
    EXPECT_EQ(call->e.packets[0] + call->e.packets[1], 2u);
    EXPECT_TRUE(call->e.was_up);  // OCRP said connected
}
