// The fast path's checksums against DPDK's own (rte_ipv4_cksum, rte_ipv4/6_udptcp_cksum) over
// random headers and every datagram length up to 1100 bytes (NTS replies reach 1030; the sum
// takes 32 bytes a step from 64 on), odd ones included, and the edge
// sums: all-ones data (a computed 0 goes out as 0xFFFF) and zero data.
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <random>
#include <vector>

#include "ports/common/inet_checksum.hpp"

namespace {

namespace cs = ports::inet_checksum;

struct v4_datagram {
    std::vector<std::uint8_t> bytes;  // IPv4 header (20) then UDP

    rte_ipv4_hdr* ip() { return reinterpret_cast<rte_ipv4_hdr*>(bytes.data()); }
    rte_udp_hdr* udp() { return reinterpret_cast<rte_udp_hdr*>(bytes.data() + 20); }
};

v4_datagram make_v4(std::mt19937& rng, std::uint16_t udp_length, int fill) {
    v4_datagram d;
    d.bytes.resize(20 + std::size_t{udp_length});
    for (auto& b : d.bytes) {
        b = fill >= 0 ? static_cast<std::uint8_t>(fill) : static_cast<std::uint8_t>(rng());
    }
    d.ip()->version_ihl = 0x45;
    d.ip()->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(20 + udp_length));
    d.ip()->next_proto_id = 17;
    d.ip()->hdr_checksum = 0;
    d.udp()->dgram_len = rte_cpu_to_be_16(udp_length);
    d.udp()->dgram_cksum = 0;
    return d;
}

TEST(Checksum, Ipv4HeaderMatchesDpdk) {
    std::mt19937 rng(1);
    for (int i = 0; i < 20000; ++i) {
        v4_datagram d = make_v4(rng, 8, i < 2 ? (i == 0 ? 0 : 0xFF) : -1);
        ASSERT_EQ(cs::ipv4_header(d.bytes.data()), rte_ipv4_cksum(d.ip())) << i;
    }
}

TEST(Checksum, UdpOverIpv4MatchesDpdk) {
    std::mt19937 rng(2);
    for (std::uint16_t len = 8; len <= 1100; ++len) {
        for (int i = 0; i < 300; ++i) {
            v4_datagram d = make_v4(rng, len, i < 2 ? (i == 0 ? 0 : 0xFF) : -1);
            const std::uint16_t want = rte_ipv4_udptcp_cksum(d.ip(), d.udp());
            ASSERT_EQ(cs::udp(d.bytes.data() + 12, 8, d.bytes.data() + 20, len), want)
                << "length " << len << " case " << i;
        }
    }
}

TEST(Checksum, UdpOverIpv6MatchesDpdk) {
    std::mt19937 rng(3);
    for (std::uint16_t len = 8; len <= 1100; ++len) {
        for (int i = 0; i < 300; ++i) {
            std::vector<std::uint8_t> bytes(40 + std::size_t{len});
            for (auto& b : bytes) {
                b = i == 0 ? 0 : (i == 1 ? 0xFF : static_cast<std::uint8_t>(rng()));
            }
            auto* ip = reinterpret_cast<rte_ipv6_hdr*>(bytes.data());
            auto* udp = reinterpret_cast<rte_udp_hdr*>(bytes.data() + 40);
            ip->vtc_flow = rte_cpu_to_be_32(6U << 28);
            ip->payload_len = rte_cpu_to_be_16(len);
            ip->proto = 17;
            udp->dgram_len = rte_cpu_to_be_16(len);
            udp->dgram_cksum = 0;
            const std::uint16_t want = rte_ipv6_udptcp_cksum(ip, udp);
            ASSERT_EQ(cs::udp(bytes.data() + 8, 32, bytes.data() + 40, len), want)
                << "length " << len << " case " << i;
        }
    }
}

// A datagram whose sum is exactly 0xFFFF: the complement 0 goes out as 0xFFFF.
TEST(Checksum, ComputedZeroIsSentAsAllOnes) {
    std::mt19937 rng(4);
    int seen = 0;
    for (int i = 0; i < 2000000 && seen < 3; ++i) {
        v4_datagram d = make_v4(rng, 10, -1);
        if (rte_ipv4_udptcp_cksum(d.ip(), d.udp()) == 0xFFFF) {
            ++seen;
            ASSERT_EQ(cs::udp(d.bytes.data() + 12, 8, d.bytes.data() + 20, 10), 0xFFFF);
        }
    }
    EXPECT_GT(seen, 0);
}

}  // namespace
