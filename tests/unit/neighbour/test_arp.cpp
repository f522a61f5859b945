// ARP (RFC 826, RFC 5227 probes): requests for a service address become replies in place.
#include "fixtures.hpp"
#include "support.hpp"

namespace {

using namespace ntest;

TEST(Arp, RequestForServiceAddressBecomesReply) {
    const reply out = run(nfix::arp_request);
    ASSERT_EQ(out.r.what, outcome::arp_reply);
    ASSERT_EQ(out.r.length, nfix::arp_request.size());
    const std::span<const std::uint8_t> f(out.bytes);
    const std::vector<std::uint8_t> peer = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    const std::vector<std::uint8_t> me = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    EXPECT_EQ(bytes_of(f.subspan(0, 6)), peer);  // Ethernet destination: the requester
    EXPECT_EQ(bytes_of(f.subspan(6, 6)), me);
    EXPECT_EQ(be16(f, 12), 0x0806);
    EXPECT_EQ(be16(f, 14), 1);       // htype Ethernet
    EXPECT_EQ(be16(f, 16), 0x0800);  // ptype IPv4
    EXPECT_EQ(f[18], 6);
    EXPECT_EQ(f[19], 4);
    EXPECT_EQ(be16(f, 20), 2);  // op reply
    EXPECT_EQ(bytes_of(f.subspan(22, 6)), me);
    EXPECT_EQ(bytes_of(f.subspan(28, 4)), (std::vector<std::uint8_t>{192, 0, 2, 1}));
    EXPECT_EQ(bytes_of(f.subspan(32, 6)), peer);
    EXPECT_EQ(bytes_of(f.subspan(38, 4)), (std::vector<std::uint8_t>{192, 0, 2, 100}));
}

TEST(Arp, ReplyMatchesScapy) {
    EXPECT_EQ(run(nfix::arp_request).bytes, bytes_of(nfix::arp_reply_expected));
}

TEST(Arp, RequestForAnotherAddressIsUntouched) {
    const reply out = run(nfix::arp_request_other_ip);
    EXPECT_EQ(out.r.what, outcome::not_for_us);
    EXPECT_EQ(out.bytes, bytes_of(nfix::arp_request_other_ip));
}

TEST(Arp, ProbeFromUnspecifiedSenderIsAnswered) {
    // RFC 5227 2.1.1: the prober counts any ARP from the address as a conflict.
    const reply out = run(nfix::arp_probe);
    EXPECT_EQ(out.r.what, outcome::arp_reply);
    EXPECT_EQ(out.bytes, bytes_of(nfix::arp_probe_reply_expected));
}

TEST(Arp, ReplyAddressedToUsIsNotAnswered) {
    const reply out = run(nfix::arp_reply_to_us);
    EXPECT_EQ(out.r.what, outcome::not_for_us);
    EXPECT_EQ(out.bytes, bytes_of(nfix::arp_reply_to_us));
}

TEST(Arp, VlanTaggedReplyKeepsItsTag) {
    const reply out = run(nfix::arp_request_vlan);
    EXPECT_EQ(out.r.what, outcome::arp_reply);
    EXPECT_EQ(out.bytes, bytes_of(nfix::arp_reply_vlan_expected));
    EXPECT_EQ(be16(out.bytes, 12), 0x8100);
    EXPECT_EQ(be16(out.bytes, 14), (5 << 13) | 100);  // priority and VLAN id as received
}

TEST(Arp, QinqTaggedReplyKeepsBothTags) {
    const reply out = run(nfix::arp_request_qinq);
    EXPECT_EQ(out.r.what, outcome::arp_reply);
    EXPECT_EQ(out.bytes, bytes_of(nfix::arp_reply_qinq_expected));
}

TEST(Arp, UnicastRequestToAnotherStationIsNotAnswered) {
    std::vector<std::uint8_t> f = bytes_of(nfix::arp_request);
    f[0] = 0x52;  // some other station's unicast MAC
    f[5] = 0x99;
    EXPECT_EQ(run(f).r.what, outcome::not_for_us);
}

TEST(Arp, UnicastRequestToUsIsAnswered) {
    std::vector<std::uint8_t> f = bytes_of(nfix::arp_request);
    const std::vector<std::uint8_t> me = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::copy(me.begin(), me.end(), f.begin());
    const reply out = run(f);
    EXPECT_EQ(out.r.what, outcome::arp_reply);
    EXPECT_EQ(out.bytes, bytes_of(nfix::arp_reply_expected));
}

TEST(Arp, OwnRequestLoopedBackIsNotAnswered) {
    std::vector<std::uint8_t> f = bytes_of(nfix::arp_request);
    const std::vector<std::uint8_t> me = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::copy(me.begin(), me.end(), f.begin() + 6);
    EXPECT_EQ(run(f).r.what, outcome::not_for_us);
}

TEST(Arp, MulticastSenderHardwareAddressIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::arp_request);
    f[22] |= 0x01;  // sender hardware address gets the group bit
    const reply out = run(f);
    EXPECT_EQ(out.r.what, outcome::dropped_malformed);
    EXPECT_EQ(out.bytes, f);
}

TEST(Arp, BroadcastSenderProtocolAddressIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::arp_request);
    std::fill(f.begin() + 28, f.begin() + 32, 0xFF);
    EXPECT_EQ(run(f).r.what, outcome::dropped_malformed);
}

TEST(Arp, NonEthernetHardwareTypeIsNotOurs) {
    std::vector<std::uint8_t> f = bytes_of(nfix::arp_request);
    f[15] = 6;  // IEEE 802 networks
    EXPECT_EQ(run(f).r.what, outcome::not_for_us);
}

TEST(Arp, UnpaddedRequestIsAnswered) {
    // 42 bytes, as a local stack hands it over before the NIC pads it.
    const std::span<const std::uint8_t> f(nfix::arp_request.data(), 42);
    const reply out = run(f);
    EXPECT_EQ(out.r.what, outcome::arp_reply);
    EXPECT_EQ(out.r.length, 42);
    EXPECT_EQ(out.bytes, bytes_of(std::span(nfix::arp_reply_expected).first(42)));
}

}  // namespace
