// Ethernet, VLAN/QinQ, IPv4, IPv6 extension chains, UDP and TCP.
#include <gtest/gtest.h>

#include "ports/parsers/layers.hpp"
#include "test_util.hpp"

namespace {

using namespace ports::parsers;
using namespace ptest;

// IPv4 header (RFC 791), no options, protocol UDP, 10.0.0.1 -> 10.0.0.2.
bytes ipv4_header(std::uint16_t total_length, std::uint16_t frag = 0, std::uint8_t proto = ipproto_udp) {
    return {
        0x45, 0x00,                                                              // version 4, IHL 5; TOS
        static_cast<std::uint8_t>(total_length >> 8), static_cast<std::uint8_t>(total_length),
        0x12, 0x34,                                                              // identification
        static_cast<std::uint8_t>(frag >> 8), static_cast<std::uint8_t>(frag),  // flags, fragment offset
        0x40, proto,                                                             // TTL 64; protocol
        0x00, 0x00,                                                              // checksum (not checked)
        0x0a, 0x00, 0x00, 0x01,                                                  // source
        0x0a, 0x00, 0x00, 0x02,                                                  // destination
    };
}

// UDP 12345 -> 123, length 12, four payload bytes.
const bytes udp_datagram = {
    0x30, 0x39, 0x00, 0x7b,  // ports
    0x00, 0x0c, 0x00, 0x00,  // length 12, checksum 0
    0xde, 0xad, 0xbe, 0xef,  // payload
};

// IPv6 header (RFC 8200), 2001:db8::1 -> 2001:db8::2.
bytes ipv6_header(std::uint16_t payload_length, std::uint8_t next) {
    bytes h = {
        0x60, 0x00, 0x00, 0x00,  // version 6, traffic class, flow label
        static_cast<std::uint8_t>(payload_length >> 8), static_cast<std::uint8_t>(payload_length),
        next, 0x40,  // next header, hop limit
    };
    const bytes src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    const bytes dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
    return cat({h, src, dst});
}

bytes ipv4_udp_frame() {
    return cat({eth(ethertype_ipv4), ipv4_header(32), udp_datagram});
}

// ---- Ethernet and tags ----

TEST(Ethernet, Ipv4UdpFieldByField) {
    const bytes f = ipv4_udp_frame();
    const layers l = parse_ethernet(f);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.vlan_count, 0);
    EXPECT_EQ(l.ethertype, ethertype_ipv4);
    EXPECT_EQ(l.l3, l3_kind::ipv4);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_FALSE(l.fragment);
    EXPECT_FALSE(l.later_fragment);
    EXPECT_FALSE(l.truncated);
    EXPECT_EQ(l.l3_offset, 14);
    EXPECT_EQ(l.l4_offset, 34);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ethernet, SingleVlanTag) {
    const bytes tag = {0x00, 0x64, 0x08, 0x00};  // PCP 0, VID 100; inner type IPv4
    const bytes f = cat({eth(ethertype_vlan), tag, ipv4_header(32), udp_datagram});
    const layers l = parse_ethernet(f);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.vlan_count, 1);
    EXPECT_EQ(l.ethertype, ethertype_ipv4);
    EXPECT_EQ(l.l3_offset, 18);
    EXPECT_EQ(l.l4_offset, 38);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ethernet, QinQ88a8) {
    const bytes s_tag = {0x00, 0x0a, 0x81, 0x00};  // S-VID 10; then a C-tag
    const bytes c_tag = {0x00, 0x14, 0x08, 0x00};  // C-VID 20; then IPv4
    const bytes f = cat({eth(ethertype_qinq), s_tag, c_tag, ipv4_header(32), udp_datagram});
    const layers l = parse_ethernet(f);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.vlan_count, 2);
    EXPECT_EQ(l.l3, l3_kind::ipv4);
    EXPECT_EQ(l.l3_offset, 22);
    EXPECT_EQ(l.l4_offset, 42);
}

TEST(Ethernet, QinQ9100) {
    const bytes s_tag = {0x00, 0x0a, 0x81, 0x00};
    const bytes c_tag = {0x00, 0x14, 0x86, 0xdd};
    const bytes f = cat({eth(ethertype_qinq_old), s_tag, c_tag, ipv6_header(12, ipproto_udp), udp_datagram});
    const layers l = parse_ethernet(f);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.vlan_count, 2);
    EXPECT_EQ(l.l3, l3_kind::ipv6);
    EXPECT_EQ(l.l4_offset, 22 + 40);
}

TEST(Ethernet, DoubleDot1qIsTwoTags) {
    const bytes t1 = {0x00, 0x0a, 0x81, 0x00};
    const bytes t2 = {0x00, 0x14, 0x08, 0x00};
    const layers l = parse_ethernet(cat({eth(ethertype_vlan), t1, t2, ipv4_header(32), udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.vlan_count, 2);
}

TEST(Ethernet, ThirdTagIsUnsupported) {
    const bytes t1 = {0x00, 0x0a, 0x81, 0x00};
    const bytes t2 = {0x00, 0x14, 0x81, 0x00};
    const bytes t3 = {0x00, 0x1e, 0x08, 0x00};
    const layers l = parse_ethernet(cat({eth(ethertype_qinq), t1, t2, t3, ipv4_header(32), udp_datagram}));
    EXPECT_EQ(l.st, status::unsupported);
    EXPECT_EQ(l.l3, l3_kind::none);
}

TEST(Ethernet, ServiceTagInsideTagIsUnsupported) {
    const bytes t1 = {0x00, 0x0a, 0x88, 0xa8};
    const bytes t2 = {0x00, 0x14, 0x08, 0x00};
    const layers l = parse_ethernet(cat({eth(ethertype_vlan), t1, t2, ipv4_header(32), udp_datagram}));
    EXPECT_EQ(l.st, status::unsupported);
    EXPECT_EQ(l.l3, l3_kind::none);
}

TEST(Ethernet, Ieee8023LengthIsNotIp) {
    // 802.3 length 38 followed by LLC (STP BPDU DSAP/SSAP 0x42).
    const bytes llc = {0x42, 0x42, 0x03, 0x00, 0x00, 0x00};
    const layers l = parse_ethernet(cat({eth(0x0026), llc}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l3, l3_kind::none);
}

TEST(Ethernet, ArpIsNotIp) {
    const bytes arp = {0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01};  // Ethernet/IPv4 request
    const layers l = parse_ethernet(cat({eth(ethertype_arp), arp}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l3, l3_kind::none);
    EXPECT_EQ(l.ethertype, ethertype_arp);
}

TEST(Ethernet, EveryCutIsTruncatedOrShortDatagram) {
    const bytes tag = {0x00, 0x64, 0x08, 0x00};
    const bytes f = cat({eth(ethertype_vlan), tag, ipv4_header(32), udp_datagram});
    for (std::size_t n = 0; n < f.size(); ++n) {
        const exact_copy c(f, n);
        const layers l = parse_ethernet(c.span());
        if (n < 18 + 20) {
            EXPECT_EQ(l.st, status::truncated) << n;
        } else {
            // The IP header is whole: the datagram itself is cut, which IP reports as a flag.
            EXPECT_EQ(l.st, status::ok) << n;
            EXPECT_TRUE(l.truncated) << n;
            EXPECT_EQ(l.l4_length, n - 38) << n;
        }
    }
}

// ---- IPv4 ----

TEST(Ipv4, OptionsMoveTheTransportHeader) {
    bytes ip = ipv4_header(36);
    ip[0] = 0x46;                               // IHL 6: one word of options
    const bytes options = {0x01, 0x01, 0x01, 0x00};  // NOP NOP NOP EOL
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ip, options, udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l4_offset, 14 + 24);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv4, EthernetPaddingIsNotTransportData) {
    // 28-byte datagram (UDP without payload) padded to the 60-byte Ethernet minimum.
    const bytes udp = {0x30, 0x39, 0x00, 0x7b, 0x00, 0x08, 0x00, 0x00};
    bytes f = cat({eth(ethertype_ipv4), ipv4_header(28), udp});
    f.resize(60, 0x00);
    const layers l = parse_ethernet(f);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_FALSE(l.truncated);
    EXPECT_EQ(l.l4_length, 8);
}

TEST(Ipv4, TotalLengthBeyondFrameSetsTruncated) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ipv4_header(1500), udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_TRUE(l.truncated);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv4, TotalLengthBelowHeaderIsBadLength) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ipv4_header(19), udp_datagram}));
    EXPECT_EQ(l.st, status::bad_length);
}

TEST(Ipv4, IhlBelowFiveIsBadLength) {
    bytes ip = ipv4_header(32);
    ip[0] = 0x44;
    EXPECT_EQ(parse_ethernet(cat({eth(ethertype_ipv4), ip, udp_datagram})).st, status::bad_length);
}

TEST(Ipv4, IhlBeyondFrameIsTruncated) {
    bytes ip = ipv4_header(80);
    ip[0] = 0x4f;  // 60-byte header, but only 32 bytes follow
    EXPECT_EQ(parse_ethernet(cat({eth(ethertype_ipv4), ip, udp_datagram})).st, status::truncated);
}

TEST(Ipv4, WrongVersionIsBadVersion) {
    bytes ip = ipv4_header(32);
    ip[0] = 0x65;
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ip, udp_datagram}));
    EXPECT_EQ(l.st, status::bad_version);
    EXPECT_EQ(l.l3, l3_kind::ipv4);
}

TEST(Ipv4, FirstFragmentKeepsTransportHeader) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ipv4_header(32, 0x2000), udp_datagram}));  // MF
    EXPECT_EQ(l.st, status::ok);
    EXPECT_TRUE(l.fragment);
    EXPECT_FALSE(l.later_fragment);
    EXPECT_EQ(l.l4_offset, 34);
}

TEST(Ipv4, LaterFragment) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ipv4_header(32, 0x00b9), udp_datagram}));  // offset 185*8
    EXPECT_EQ(l.st, status::ok);
    EXPECT_TRUE(l.fragment);
    EXPECT_TRUE(l.later_fragment);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_EQ(l.l4_offset, 34);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv4, DontFragmentIsNotAFragment) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv4), ipv4_header(32, 0x4000), udp_datagram}));
    EXPECT_FALSE(l.fragment);
}

// ---- IPv6 ----

TEST(Ipv6, PlainUdp) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(12, ipproto_udp), udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l3, l3_kind::ipv6);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_EQ(l.l4_offset, 54);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv6, HopByHopRoutingDestinationChain) {
    const bytes hbh = {43, 0, 0x01, 0x04, 0, 0, 0, 0};                         // next routing; PadN
    const bytes routing = {60, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   // next dest opts; 24 bytes,
                           0, 0, 0, 0, 0, 0, 0, 0};                          // segment routing, one addr
    const bytes dst = {ipproto_udp, 0, 0x01, 0x04, 0, 0, 0, 0};
    const bytes f = cat({eth(ethertype_ipv6), ipv6_header(8 + 24 + 8 + 12, 0), hbh, routing, dst, udp_datagram});
    const layers l = parse_ethernet(f);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_EQ(l.l4_offset, 54 + 40);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv6, FirstFragmentContinuesTheWalk) {
    const bytes frag = {ipproto_udp, 0, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe};  // offset 0, M=1, id
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(20, 44), frag, udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_TRUE(l.fragment);
    EXPECT_FALSE(l.later_fragment);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_EQ(l.l4_offset, 62);
}

TEST(Ipv6, LaterFragmentStopsTheWalk) {
    // Offset 181 (x8), M=0; what follows is the middle of a datagram, here bytes that look like
    // a destination-options header to prove they are not walked.
    const bytes frag = {ipproto_udp, 0, 0x05, 0xa8, 0xca, 0xfe, 0xba, 0xbe};
    const bytes data = {60, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(20, 44), frag, data}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_TRUE(l.fragment);
    EXPECT_TRUE(l.later_fragment);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_EQ(l.l4_offset, 62);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv6, AuthenticationHeaderLengthInWords) {
    // AH (RFC 4302): payload len 4 -> (4+2)*4 = 24 bytes (12-byte ICV for HMAC-SHA1-96).
    const bytes ah = {ipproto_tcp, 4, 0, 0, 0, 0, 0x01, 0x00, 0, 0, 0, 1,  // SPI 256, seq 1
                      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};                 // ICV
    const bytes tcp = {0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0};
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(44, 51), ah, tcp}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l4_proto, ipproto_tcp);
    EXPECT_EQ(l.l4_offset, 54 + 24);
    EXPECT_EQ(l.l4_length, 20);
}

TEST(Ipv6, EspAndNoNextHeaderEndTheChain) {
    const bytes esp = {0, 0, 1, 0, 0, 0, 0, 1};
    const layers e = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(8, 50), esp}));
    EXPECT_EQ(e.st, status::ok);
    EXPECT_EQ(e.l4_proto, 50);
    EXPECT_EQ(e.l4_offset, 54);
    const bytes hbh = {59, 0, 0x01, 0x04, 0, 0, 0, 0};
    const layers n = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(8, 0), hbh}));
    EXPECT_EQ(n.st, status::ok);
    EXPECT_EQ(n.l4_proto, 59);
    EXPECT_EQ(n.l4_length, 0);
}

TEST(Ipv6, EightExtensionHeadersAreAccepted) {
    bytes chain;
    for (int i = 0; i < 8; ++i) {
        const std::uint8_t next = i == 7 ? ipproto_udp : 60;
        chain = cat({chain, bytes{next, 0, 0x01, 0x04, 0, 0, 0, 0}});
    }
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(64 + 12, 60), chain, udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l4_proto, ipproto_udp);
    EXPECT_EQ(l.l4_offset, 54 + 64);
}

TEST(Ipv6, NinthExtensionHeaderIsUnsupported) {
    bytes chain;
    for (int i = 0; i < 9; ++i) {
        const std::uint8_t next = i == 8 ? ipproto_udp : 60;
        chain = cat({chain, bytes{next, 0, 0x01, 0x04, 0, 0, 0, 0}});
    }
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(72 + 12, 60), chain, udp_datagram}));
    EXPECT_EQ(l.st, status::unsupported);
}

TEST(Ipv6, ExtensionHeaderPastDatagramIsTruncated) {
    const bytes dst = {ipproto_udp, 1, 0x01, 0x0c, 0, 0, 0, 0};  // claims 16 bytes, 8 present
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(8, 60), dst}));
    EXPECT_EQ(l.st, status::truncated);
}

TEST(Ipv6, JumbogramPayloadLengthIsBadLength) {
    EXPECT_EQ(parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(0, ipproto_udp), udp_datagram})).st,
              status::bad_length);
}

TEST(Ipv6, PayloadLengthBeyondFrameSetsTruncated) {
    const layers l = parse_ethernet(cat({eth(ethertype_ipv6), ipv6_header(100, ipproto_udp), udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_TRUE(l.truncated);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv6, PaddingAfterPayloadIgnored) {
    bytes f = cat({eth(ethertype_ipv6), ipv6_header(12, ipproto_udp), udp_datagram});
    f.resize(f.size() + 6, 0);
    const layers l = parse_ethernet(f);
    EXPECT_FALSE(l.truncated);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(Ipv6, WrongVersionIsBadVersion) {
    bytes ip = ipv6_header(12, ipproto_udp);
    ip[0] = 0x40;
    EXPECT_EQ(parse_ethernet(cat({eth(ethertype_ipv6), ip, udp_datagram})).st, status::bad_version);
}

TEST(Ipv6, EveryCutOfAnExtensionChain) {
    const bytes hbh = {44, 0, 0x01, 0x04, 0, 0, 0, 0};
    const bytes frag = {ipproto_udp, 0, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe};
    const bytes f = cat({ipv6_header(28, 0), hbh, frag, udp_datagram});
    for (std::size_t n = 0; n < f.size(); ++n) {
        const exact_copy c(f, n);
        const layers l = parse_l3(ethertype_ipv6, c.span());
        if (n < 56) {
            EXPECT_EQ(l.st, status::truncated) << n;
        } else {
            EXPECT_EQ(l.st, status::ok) << n;
            EXPECT_TRUE(l.truncated) << n;
            EXPECT_EQ(l.l4_offset + l.l4_length, n) << n;
        }
    }
}

// ---- parse_l3 ----

TEST(L3, RawIpv4HasOffsetsFromNetworkHeader) {
    const layers l = parse_l3(ethertype_ipv4, cat({ipv4_header(32), udp_datagram}));
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l3_offset, 0);
    EXPECT_EQ(l.l4_offset, 20);
    EXPECT_EQ(l.l4_length, 12);
}

TEST(L3, OtherEthertypeIsNone) {
    const layers l = parse_l3(ethertype_arp, udp_datagram);
    EXPECT_EQ(l.st, status::ok);
    EXPECT_EQ(l.l3, l3_kind::none);
}

TEST(L3, EveryCutOfIpv4Header) {
    const bytes f = cat({ipv4_header(32), udp_datagram});
    for (std::size_t n = 0; n < 20; ++n) {
        const exact_copy c(f, n);
        EXPECT_EQ(parse_l3(ethertype_ipv4, c.span()).st, status::truncated) << n;
    }
}

// ---- UDP ----

TEST(Udp, FieldByField) {
    const udp_view u = parse_udp(udp_datagram);
    EXPECT_EQ(u.st, status::ok);
    EXPECT_EQ(u.src_port, 12345);
    EXPECT_EQ(u.dst_port, 123);
    EXPECT_EQ(u.length, 12);
    EXPECT_EQ(u.checksum, 0);
    ASSERT_EQ(u.payload.size(), 4u);
    EXPECT_EQ(u.payload[0], 0xde);
}

TEST(Udp, LengthBeyondBytesIsBadLengthWithWhatIsPresent) {
    bytes d = udp_datagram;
    put16(d, 4, 100);
    const udp_view u = parse_udp(d);
    EXPECT_EQ(u.st, status::bad_length);
    EXPECT_EQ(u.payload.size(), 4u);
}

TEST(Udp, LengthBelowBytesCutsPayload) {
    bytes d = udp_datagram;
    put16(d, 4, 10);
    const udp_view u = parse_udp(d);
    EXPECT_EQ(u.st, status::ok);
    EXPECT_EQ(u.payload.size(), 2u);
}

TEST(Udp, LengthBelowHeaderIsBadLength) {
    bytes d = udp_datagram;
    put16(d, 4, 7);
    EXPECT_EQ(parse_udp(d).st, status::bad_length);
}

TEST(Udp, EveryCut) {
    for (std::size_t n = 0; n < udp_datagram.size(); ++n) {
        const exact_copy c(udp_datagram, n);
        const udp_view u = parse_udp(c.span());
        EXPECT_EQ(u.st, n < 8 ? status::truncated : status::bad_length) << n;
        EXPECT_TRUE(within(u.payload, c.span()));
    }
}

// ---- TCP ----

// TCP 49152 -> 1723, seq 1, ack 2, PSH|ACK, data offset 6 (MSS option), two payload bytes.
const bytes tcp_segment = {
    0xc0, 0x00, 0x06, 0xbb,  // ports
    0x00, 0x00, 0x00, 0x01,  // seq
    0x00, 0x00, 0x00, 0x02,  // ack
    0x60, 0x18, 0xff, 0xff,  // offset 6, flags PSH|ACK, window
    0x00, 0x00, 0x00, 0x00,  // checksum, urgent
    0x02, 0x04, 0x05, 0xb4,  // MSS 1460
    0xaa, 0xbb,              // payload
};

TEST(Tcp, FieldByField) {
    const tcp_view t = parse_tcp(tcp_segment);
    EXPECT_EQ(t.st, status::ok);
    EXPECT_EQ(t.src_port, 49152);
    EXPECT_EQ(t.dst_port, 1723);
    EXPECT_EQ(t.seq, 1u);
    EXPECT_EQ(t.ack, 2u);
    EXPECT_EQ(t.flags, 0x18);
    EXPECT_EQ(t.header_length, 24);
    ASSERT_EQ(t.payload.size(), 2u);
    EXPECT_EQ(t.payload[0], 0xaa);
}

TEST(Tcp, DataOffsetBelowFiveIsBadLength) {
    bytes s = tcp_segment;
    s[12] = 0x40;
    EXPECT_EQ(parse_tcp(s).st, status::bad_length);
}

TEST(Tcp, DataOffsetBeyondBytesIsTruncated) {
    bytes s = tcp_segment;
    s[12] = 0xf0;
    EXPECT_EQ(parse_tcp(s).st, status::truncated);
}

TEST(Tcp, EveryCut) {
    for (std::size_t n = 0; n < tcp_segment.size(); ++n) {
        const exact_copy c(tcp_segment, n);
        const tcp_view t = parse_tcp(c.span());
        EXPECT_EQ(t.st, n < 24 ? status::truncated : status::ok) << n;
        EXPECT_TRUE(within(t.payload, c.span()));
    }
}

}  // namespace
