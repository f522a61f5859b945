// Neighbour solicitations (RFC 4861 7.1.1, 7.2.3) for a service address become advertisements.
#include "fixtures.hpp"
#include "support.hpp"

namespace {

using namespace ntest;

constexpr std::size_t ip6 = 14;
constexpr std::size_t icmp6 = 54;

void expect_na_fields(std::span<const std::uint8_t> f, bool solicited) {
    ASSERT_EQ(f.size(), 86u);
    EXPECT_EQ(be16(f, 12), 0x86DD);
    EXPECT_EQ(f[ip6] >> 4, 6);
    EXPECT_EQ(be16(f, ip6 + 4), 32);  // payload length: NA with one option
    EXPECT_EQ(f[ip6 + 6], 58);
    EXPECT_EQ(f[ip6 + 7], 255);
    const std::vector<std::uint8_t> svc6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                            0,    0,    0,    0,    0, 0, 0, 1};
    EXPECT_EQ(bytes_of(f.subspan(ip6 + 8, 16)), svc6);  // source: the service address
    EXPECT_EQ(f[icmp6], 136);
    EXPECT_EQ(f[icmp6 + 1], 0);
    EXPECT_EQ(f[icmp6 + 4], solicited ? 0x60 : 0x20);  // R=0, S, O=1
    EXPECT_EQ(bytes_of(f.subspan(icmp6 + 5, 3)), (std::vector<std::uint8_t>{0, 0, 0}));
    EXPECT_EQ(bytes_of(f.subspan(icmp6 + 8, 16)), svc6);  // target
    EXPECT_EQ(f[icmp6 + 24], 2);                          // target link-layer address option
    EXPECT_EQ(f[icmp6 + 25], 1);
    EXPECT_EQ(bytes_of(f.subspan(icmp6 + 26, 6)),
              (std::vector<std::uint8_t>{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}));
    EXPECT_EQ(bytes_of(f.subspan(6, 6)),
              (std::vector<std::uint8_t>{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}));
    EXPECT_TRUE(icmpv6_checksum_ok(f.subspan(ip6, 40), f.subspan(icmp6)));
}

TEST(Nd, UnicastSolicitationWithSourceOptionBecomesAdvert) {
    const reply out = run(nfix::ns_unicast_sll);
    ASSERT_EQ(out.r.what, outcome::nd_advert);
    expect_na_fields(out.bytes, true);
    EXPECT_EQ(out.bytes, bytes_of(nfix::na_solicited_expected));
}

TEST(Nd, SolicitedNodeMulticastSolicitationBecomesAdvert) {
    const reply out = run(nfix::ns_multicast_sll);
    ASSERT_EQ(out.r.what, outcome::nd_advert);
    expect_na_fields(out.bytes, true);
    // Unicast back to the asker, not to the group it asked on.
    EXPECT_EQ(out.bytes, bytes_of(nfix::na_solicited_expected));
}

TEST(Nd, SolicitationWithoutOptionGrowsIntoAdvert) {
    // 24-byte NS, 32-byte NA: the frame grows by 8 bytes into the tailroom.
    ASSERT_EQ(nfix::ns_unicast_bare.size(), 78u);
    const reply out = run(nfix::ns_unicast_bare, 128);
    ASSERT_EQ(out.r.what, outcome::nd_advert);
    EXPECT_EQ(out.r.length, 86);
    expect_na_fields(out.bytes, true);
    EXPECT_EQ(out.bytes, bytes_of(nfix::na_solicited_expected));
}

TEST(Nd, SolicitationWithoutRoomForAdvertIsDropped) {
    const reply out = run(nfix::ns_unicast_bare, 85);
    EXPECT_EQ(out.r.what, outcome::dropped_malformed);
    EXPECT_EQ(out.bytes, bytes_of(nfix::ns_unicast_bare));
}

TEST(Nd, DadProbeGetsAdvertToAllNodes) {
    const reply out = run(nfix::ns_dad, 128);
    ASSERT_EQ(out.r.what, outcome::nd_advert);
    expect_na_fields(out.bytes, false);
    EXPECT_EQ(bytes_of(std::span(out.bytes).first(6)),
              (std::vector<std::uint8_t>{0x33, 0x33, 0, 0, 0, 1}));
    EXPECT_EQ(out.bytes, bytes_of(nfix::na_dad_expected));
}

TEST(Nd, DadProbeWithNonceOptionIsAnswered) {
    const reply out = run(nfix::ns_dad_nonce);
    ASSERT_EQ(out.r.what, outcome::nd_advert);
    EXPECT_EQ(out.bytes, bytes_of(nfix::na_dad_expected));
}

TEST(Nd, DadProbeWithSourceOptionIsDropped) {
    EXPECT_EQ(run(nfix::ns_dad_with_sll).r.what, outcome::dropped_malformed);
}

TEST(Nd, DadProbeToUnicastIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::ns_dad);
    // Sent to the service address itself: the checksum is fixed up so only the rule differs.
    const std::vector<std::uint8_t> svc6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                            0,    0,    0,    0,    0, 0, 0, 1};
    const std::vector<std::uint8_t> me = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::copy(svc6.begin(), svc6.end(), f.begin() + ip6 + 24);
    std::copy(me.begin(), me.end(), f.begin());
    f[icmp6 + 2] = 0;
    f[icmp6 + 3] = 0;
    std::vector<std::uint8_t> pseudo(f.begin() + ip6 + 8, f.begin() + ip6 + 40);
    pseudo.insert(pseudo.end(), {0, 0, 0, 24, 0, 0, 0, 58});
    pseudo.insert(pseudo.end(), f.begin() + icmp6, f.end());
    const std::uint16_t c = static_cast<std::uint16_t>(~ones_sum(pseudo));
    f[icmp6 + 2] = static_cast<std::uint8_t>(c >> 8);
    f[icmp6 + 3] = static_cast<std::uint8_t>(c);
    ASSERT_TRUE(icmpv6_checksum_ok(std::span(f).subspan(ip6, 40), std::span(f).subspan(icmp6)));
    EXPECT_EQ(run(f).r.what, outcome::dropped_malformed);
}

TEST(Nd, HopLimitBelow255IsDropped) {
    const reply out = run(nfix::ns_hop_limit_64);
    EXPECT_EQ(out.r.what, outcome::dropped_malformed);
    EXPECT_EQ(out.bytes, bytes_of(nfix::ns_hop_limit_64));
}

TEST(Nd, OtherTargetIsUntouched) {
    const reply out = run(nfix::ns_other_target);
    EXPECT_EQ(out.r.what, outcome::not_for_us);
    EXPECT_EQ(out.bytes, bytes_of(nfix::ns_other_target));
}

TEST(Nd, ZeroLengthOptionIsDropped) {
    EXPECT_EQ(run(nfix::ns_zero_length_option).r.what, outcome::dropped_malformed);
}

TEST(Nd, BadChecksumIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::ns_multicast_sll);
    f[icmp6 + 3] ^= 0x01;
    EXPECT_EQ(run(f).r.what, outcome::dropped_malformed);
}

TEST(Nd, WrongSolicitedNodeGroupIsNotOurs) {
    std::vector<std::uint8_t> f = bytes_of(nfix::ns_multicast_sll);
    f[ip6 + 39] = 0x02;  // ff02::1:ff00:2 is another address's group
    f[5] = 0x02;
    EXPECT_EQ(run(f).r.what, outcome::not_for_us);
}

TEST(Nd, GroupAddressWithMismatchedMacIsNotOurs) {
    std::vector<std::uint8_t> f = bytes_of(nfix::ns_multicast_sll);
    f[5] = 0x02;  // 33:33:ff:00:00:02 does not carry ff02::1:ff00:1
    EXPECT_EQ(run(f).r.what, outcome::not_for_us);
}

TEST(Nd, VlanTaggedAdvertKeepsItsTag) {
    const reply out = run(nfix::ns_vlan);
    ASSERT_EQ(out.r.what, outcome::nd_advert);
    EXPECT_EQ(out.bytes, bytes_of(nfix::na_vlan_expected));
}

TEST(Nd, AdvertIsNotAnswered) {
    EXPECT_EQ(run(nfix::na_solicited_expected).r.what, outcome::not_for_us);
}

}  // namespace
