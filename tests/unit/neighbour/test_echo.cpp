// ICMP (RFC 792) and ICMPv6 (RFC 4443) echo requests to a service address become replies.
#include "fixtures.hpp"
#include "support.hpp"

namespace {

using namespace ntest;

constexpr std::size_t ip4 = 14;
constexpr std::size_t icmp4 = 34;
constexpr std::size_t ip6 = 14;
constexpr std::size_t icmp6 = 54;

TEST(Echo4, ReplyHasValidChecksums) {
    const reply out = run(nfix::echo4_request);
    ASSERT_EQ(out.r.what, outcome::icmp4_echo_reply);
    const std::span<const std::uint8_t> f(out.bytes);
    EXPECT_TRUE(ipv4_header_checksum_ok(f.subspan(ip4, 20)));
    const std::size_t total = be16(f, ip4 + 2);
    EXPECT_EQ(ones_sum(f.subspan(icmp4, total - 20)), 0xFFFF);
}

TEST(Echo4, ReplyFieldsSwappedAndIdSeqPayloadKept) {
    const reply out = run(nfix::echo4_request);
    ASSERT_EQ(out.r.what, outcome::icmp4_echo_reply);
    const std::span<const std::uint8_t> f(out.bytes);
    const std::span<const std::uint8_t> q(nfix::echo4_request);
    EXPECT_EQ(bytes_of(f.subspan(0, 6)), bytes_of(q.subspan(6, 6)));
    EXPECT_EQ(bytes_of(f.subspan(6, 6)), bytes_of(q.subspan(0, 6)));
    EXPECT_EQ(bytes_of(f.subspan(ip4 + 12, 4)), bytes_of(q.subspan(ip4 + 16, 4)));
    EXPECT_EQ(bytes_of(f.subspan(ip4 + 16, 4)), bytes_of(q.subspan(ip4 + 12, 4)));
    EXPECT_EQ(f[ip4 + 8], 64);  // TTL
    EXPECT_EQ(f[icmp4], 0);     // echo reply
    EXPECT_EQ(f[icmp4 + 1], 0);
    EXPECT_EQ(bytes_of(f.subspan(icmp4 + 4)), bytes_of(q.subspan(icmp4 + 4)));  // id, seq, data
    EXPECT_EQ(out.r.length, q.size());
}

TEST(Echo4, ReplyMatchesScapy) {
    EXPECT_EQ(run(nfix::echo4_request).bytes, bytes_of(nfix::echo4_reply_expected));
}

TEST(Echo4, EthernetPaddingIsKeptOutOfTheChecksum) {
    const reply out = run(nfix::echo4_request_padded);
    ASSERT_EQ(out.r.what, outcome::icmp4_echo_reply);
    EXPECT_EQ(out.bytes, bytes_of(nfix::echo4_reply_padded_expected));
}

TEST(Echo4, BadIcmpChecksumIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::echo4_request);
    f.back() ^= 0x01;
    const reply out = run(f);
    EXPECT_EQ(out.r.what, outcome::dropped_malformed);
    EXPECT_EQ(out.bytes, f);
}

TEST(Echo4, BadIpHeaderChecksumIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::echo4_request);
    f[ip4 + 10] ^= 0x40;
    EXPECT_EQ(run(f).r.what, outcome::dropped_malformed);
}

TEST(Echo4, HeaderWithOptionsIsNotAnswered) {
    const reply out = run(nfix::echo4_request_options);
    EXPECT_EQ(out.r.what, outcome::not_for_us);
    EXPECT_EQ(out.bytes, bytes_of(nfix::echo4_request_options));
}

TEST(Echo4, FragmentIsNotAnswered) {
    EXPECT_EQ(run(nfix::echo4_request_fragment).r.what, outcome::not_for_us);
}

TEST(Echo4, BroadcastSourceIsDropped) {
    EXPECT_EQ(run(nfix::echo4_request_from_broadcast).r.what, outcome::dropped_malformed);
}

TEST(Echo4, OtherDestinationIsUntouched) {
    const reply out = run(nfix::echo4_request_other_ip);
    EXPECT_EQ(out.r.what, outcome::not_for_us);
    EXPECT_EQ(out.bytes, bytes_of(nfix::echo4_request_other_ip));
}

TEST(Echo4, BroadcastEthernetDestinationIsNotAnswered) {
    std::vector<std::uint8_t> f = bytes_of(nfix::echo4_request);
    std::fill(f.begin(), f.begin() + 6, 0xFF);
    EXPECT_EQ(run(f).r.what, outcome::not_for_us);
}

TEST(Echo4, EchoReplyIsNotAnswered) {
    EXPECT_EQ(run(nfix::echo4_reply_expected).r.what, outcome::not_for_us);
}

TEST(Echo6, ReplyHasValidChecksum) {
    const reply out = run(nfix::echo6_request);
    ASSERT_EQ(out.r.what, outcome::icmp6_echo_reply);
    const std::span<const std::uint8_t> f(out.bytes);
    EXPECT_TRUE(icmpv6_checksum_ok(f.subspan(ip6, 40), f.subspan(icmp6)));
}

TEST(Echo6, ReplyFieldsSwappedAndIdSeqPayloadKept) {
    const reply out = run(nfix::echo6_request);
    ASSERT_EQ(out.r.what, outcome::icmp6_echo_reply);
    const std::span<const std::uint8_t> f(out.bytes);
    const std::span<const std::uint8_t> q(nfix::echo6_request);
    EXPECT_EQ(bytes_of(f.subspan(0, 6)), bytes_of(q.subspan(6, 6)));
    EXPECT_EQ(bytes_of(f.subspan(ip6 + 8, 16)), bytes_of(q.subspan(ip6 + 24, 16)));
    EXPECT_EQ(bytes_of(f.subspan(ip6 + 24, 16)), bytes_of(q.subspan(ip6 + 8, 16)));
    EXPECT_EQ(f[ip6 + 7], 64);  // hop limit
    EXPECT_EQ(f[icmp6], 129);
    EXPECT_EQ(bytes_of(f.subspan(icmp6 + 4)), bytes_of(q.subspan(icmp6 + 4)));
}

TEST(Echo6, ReplyMatchesScapy) {
    EXPECT_EQ(run(nfix::echo6_request).bytes, bytes_of(nfix::echo6_reply_expected));
}

TEST(Echo6, BadChecksumIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::echo6_request);
    f[icmp6 + 2] ^= 0x10;
    EXPECT_EQ(run(f).r.what, outcome::dropped_malformed);
}

TEST(Echo6, MulticastDestinationIsNotAnswered) {
    EXPECT_EQ(run(nfix::echo6_request_multicast).r.what, outcome::not_for_us);
}

TEST(Echo6, ExtensionHeadersAreNotAnswered) {
    const reply out = run(nfix::echo6_request_hop_by_hop);
    EXPECT_EQ(out.r.what, outcome::not_for_us);
    EXPECT_EQ(out.bytes, bytes_of(nfix::echo6_request_hop_by_hop));
}

TEST(Echo6, MulticastSourceIsDropped) {
    std::vector<std::uint8_t> f = bytes_of(nfix::echo6_request);
    f[ip6 + 8] = 0xFF;  // checksum no longer matters: the source is checked first either way
    EXPECT_EQ(run(f).r.what, outcome::dropped_malformed);
}

}  // namespace
