// The service address set and the text forms of addresses.
#include <gtest/gtest.h>

#include "ports/common/inet_checksum.hpp"
#include "ports/neighbour/addresses.hpp"

namespace {

using namespace ports::neighbour;

TEST(Addresses, ParsesIpv4AndIpv6) {
    const auto v4 = parse_ip_address("192.0.2.1");
    ASSERT_TRUE(v4.has_value());
    EXPECT_FALSE(v4->v6);
    EXPECT_EQ(*v4, ip_address::from_v4({192, 0, 2, 1}));
    const auto v6 = parse_ip_address("2001:db8::1");
    ASSERT_TRUE(v6.has_value());
    EXPECT_TRUE(v6->v6);
    EXPECT_EQ(v6->bytes[0], 0x20);
    EXPECT_EQ(v6->bytes[15], 1);
    EXPECT_FALSE(parse_ip_address("").has_value());
    EXPECT_FALSE(parse_ip_address("192.0.2").has_value());
    EXPECT_FALSE(parse_ip_address("not an address").has_value());
}

TEST(Addresses, ParsesMac) {
    const auto m = parse_mac_address("02:aB:00:00:00:ff");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->bytes, (std::array<std::uint8_t, 6>{0x02, 0xAB, 0, 0, 0, 0xFF}));
    EXPECT_FALSE(parse_mac_address("02:ab:00:00:00").has_value());
    EXPECT_FALSE(parse_mac_address("02-ab-00-00-00-ff").has_value());
    EXPECT_FALSE(parse_mac_address("02:ab:00:00:00:fg").has_value());
}

TEST(Addresses, SetRefusesNonUnicast) {
    service_addresses s;
    for (const char* bad :
         {"0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::", "::1", "ff02::1"}) {
        EXPECT_FALSE(s.add(*parse_ip_address(bad))) << bad;
    }
    EXPECT_EQ(s.v4_count(), 0u);
    EXPECT_EQ(s.v6_count(), 0u);
}

TEST(Addresses, SetHoldsEachFamilyToCapacity) {
    service_addresses s;
    for (std::uint8_t i = 1; i <= service_addresses::max_v4; ++i) {
        EXPECT_TRUE(s.add(ip_address::from_v4({10, 0, 0, i})));
    }
    EXPECT_FALSE(s.add(ip_address::from_v4({10, 0, 0, 200})));
    EXPECT_TRUE(s.add(ip_address::from_v4({10, 0, 0, 1})));  // already there
    EXPECT_TRUE(s.add(*parse_ip_address("2001:db8::1")));    // the other family has room
    EXPECT_TRUE(s.contains(ip_address::from_v4({10, 0, 0, 16})));
    EXPECT_FALSE(s.contains(ip_address::from_v4({10, 0, 0, 17})));
    EXPECT_EQ(s.v4_count(), service_addresses::max_v4);
    EXPECT_EQ(s.v6_count(), 1u);
}

TEST(Addresses, FamiliesDoNotAlias) {
    // ::c000:201 has 192.0.2.1 in its low bytes, 0.0.0.0/8 the other way round: neither
    // may match the other family's entry.
    service_addresses s;
    ASSERT_TRUE(s.add(*parse_ip_address("192.0.2.1")));
    EXPECT_FALSE(s.contains(*parse_ip_address("::c000:201")));
    EXPECT_FALSE(s.contains(*parse_ip_address("c000:201::")));
}

TEST(Checksum, IncrementalUpdateMatchesRecompute) {
    // RFC 1624's own example of the -0/+0 pitfall: a message summing to 0xFFFF... whose one
    // word changes; the update must agree with a full recompute as a verifier sees it.
    // Big-endian words throughout, as the responder loads and stores them.
    namespace cs = ports::inet_checksum;
    std::array<std::uint8_t, 8> msg = {0x08, 0x00, 0x00, 0x00, 0xF7, 0xFF, 0x00, 0x00};
    const std::uint16_t before = cs::host_to_be16(cs::finish(cs::add(0, msg.data(), msg.size())));
    msg[2] = static_cast<std::uint8_t>(before >> 8);
    msg[3] = static_cast<std::uint8_t>(before);
    ASSERT_TRUE(cs::verifies(cs::add(0, msg.data(), msg.size())));
    msg[0] = 0x00;
    const std::uint16_t after = cs::update(before, 0x0800, 0x0000);
    msg[2] = static_cast<std::uint8_t>(after >> 8);
    msg[3] = static_cast<std::uint8_t>(after);
    EXPECT_TRUE(cs::verifies(cs::add(0, msg.data(), msg.size())));
}

}  // namespace
