// Per-source rate limiting (chrony's interval/burst/leak) and prefix access lists.
#include <gtest/gtest.h>

#include <string>

#include "ports/ntp/ratelimit.hpp"

namespace {

using namespace ports::ntp;

constexpr std::uint64_t s_ns = 1'000'000'000;

rate_limit_config config(int interval, unsigned burst, unsigned leak) {
    rate_limit_config c;
    c.table_size = 1024;
    c.interval_log2 = interval;
    c.burst = burst;
    c.leak_log2 = leak;
    c.hash_seed = 12345;
    return c;
}

const address client = address::from_ipv4(0xC0000201);  // 192.0.2.1

TEST(NtpRateLimit, BurstThenLimit) {
    rate_limiter rl(config(3, 8, 0));
    EXPECT_EQ(rl.interval_ns(), 8 * s_ns);
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(rl.check(client, 1000), decision::allow) << i;
    }
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(rl.check(client, 1000 + i), decision::limit) << i;
    }
    // Another source has its own bucket.
    EXPECT_EQ(rl.check(address::from_ipv4(0xC0000202), 1000), decision::allow);
}

TEST(NtpRateLimit, RecoversAtTheInterval) {
    rate_limiter rl(config(3, 8, 0));
    const std::uint64_t t0 = 5 * s_ns;
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(rl.check(client, t0), decision::allow);
    }
    EXPECT_EQ(rl.check(client, t0 + 8 * s_ns - 1), decision::limit);
    EXPECT_EQ(rl.check(client, t0 + 8 * s_ns), decision::allow);
    EXPECT_EQ(rl.check(client, t0 + 8 * s_ns), decision::limit);
    // A source that keeps to one request per interval is always answered.
    for (std::uint64_t k = 2; k < 100; ++k) {
        EXPECT_EQ(rl.check(client, t0 + k * 8 * s_ns), decision::allow) << k;
    }
    // After a long silence the bucket is full again, but holds no more than the burst.
    const std::uint64_t later = t0 + 10'000 * s_ns;
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(rl.check(client, later), decision::allow) << i;
    }
    EXPECT_EQ(rl.check(client, later), decision::limit);
}

TEST(NtpRateLimit, LimitedRequestsDoNotDeepenTheDebt) {
    rate_limiter rl(config(0, 1, 0));  // one per second, no burst
    EXPECT_EQ(rl.check(client, 0), decision::allow);
    for (int i = 1; i < 1000; ++i) {
        EXPECT_EQ(rl.check(client, static_cast<std::uint64_t>(i) * 1'000'000), decision::limit);
    }
    EXPECT_EQ(rl.check(client, s_ns), decision::allow);
}

TEST(NtpRateLimit, SubSecondInterval) {
    rate_limiter rl(config(-19, 1, 0));  // chrony's minimum: 2^-19 s
    EXPECT_EQ(rl.interval_ns(), s_ns >> 19);
    EXPECT_EQ(rl.check(client, 0), decision::allow);
    EXPECT_EQ(rl.check(client, 1), decision::limit);
    EXPECT_EQ(rl.check(client, s_ns >> 19), decision::allow);
}

TEST(NtpRateLimit, LeakAnswersOneInTwoToTheL) {
    for (unsigned leak : {1u, 2u, 4u}) {
        rate_limiter rl(config(3, 1, leak));
        ASSERT_EQ(rl.check(client, 0), decision::allow);
        int leaked = 0;
        const int limited_requests = 1024;
        for (int i = 1; i <= limited_requests; ++i) {
            const decision d = rl.check(client, 100);
            ASSERT_NE(d, decision::allow);
            if (d == decision::leak) {
                ++leaked;
                // Deterministic: exactly every 2^L-th limited request.
                EXPECT_EQ(i % (1 << leak), 0) << leak;
            }
        }
        EXPECT_EQ(leaked, limited_requests >> leak) << leak;
    }
    rate_limiter none(config(3, 1, 0));
    ASSERT_EQ(none.check(client, 0), decision::allow);
    for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(none.check(client, 1), decision::limit);
    }
}

TEST(NtpRateLimit, DefaultsAreChronys) {
    const rate_limit_config c;
    EXPECT_EQ(c.interval_log2, 3);
    EXPECT_EQ(c.burst, 8u);
    EXPECT_EQ(c.leak_log2, 2u);
    EXPECT_EQ(c.table_size, 65536u);
}

// A million spoofed one-shot sources against 65536 slots: memory stays put, a legitimate client
// at its rate keeps being answered, and a real flooder stays limited although the flood evicts
// entries all the time.
TEST(NtpRateLimit, FixedMemoryUnderASpoofedFlood) {
    rate_limit_config c;  // 65536 slots, interval 3, burst 8
    c.leak_log2 = 0;
    c.hash_seed = 99;
    rate_limiter rl(c);
    const std::size_t capacity = rl.capacity();
    const address legit = address::from_ipv4(0xC6336401);    // 198.51.100.1
    const address flooder = address::from_ipv4(0xCB007101);  // 203.0.113.1

    const std::uint64_t spoofed = 1'000'000;
    const std::uint64_t duration = 1000 * s_ns;  // 1000 s: 1000 spoofed packets a second
    std::uint64_t legit_next = 0;
    std::uint64_t flooder_allowed = 0;
    std::uint64_t legit_asked = 0;
    std::uint64_t legit_answered = 0;
    for (std::uint64_t i = 0; i < spoofed; ++i) {
        const std::uint64_t now = i * (duration / spoofed);
        std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
        for (int b = 0; b < 8; ++b) {
            v6[8 + b] = static_cast<std::uint8_t>((i * 0x9E3779B97F4A7C15ull) >> (8 * b));
        }
        const address spoof = (i % 2 == 0) ? address::from_ipv4(static_cast<std::uint32_t>(
                                                 0x0A000000u + i))
                                           : address::from_ipv6(v6);
        (void)rl.check(spoof, now);
        if (i % 10 == 0) {  // 100 requests a second from one real address
            flooder_allowed += rl.check(flooder, now) == decision::allow;
        }
        if (now >= legit_next) {  // one request per 8 s, chrony's default minimum
            ++legit_asked;
            legit_answered += rl.check(legit, now) == decision::allow;
            legit_next += 8 * s_ns;
        }
    }
    EXPECT_EQ(rl.capacity(), capacity);
    EXPECT_EQ(rl.occupied(), capacity);
    EXPECT_GT(rl.evictions(), spoofed - capacity);
    EXPECT_EQ(legit_answered, legit_asked);
    EXPECT_EQ(legit_asked, 125u);
    // 1000 s at one answer per 8 s plus the first burst.
    EXPECT_LE(flooder_allowed, 1000 / 8 + 8 + 1);
    EXPECT_GE(flooder_allowed, 1000 / 8);
}

TEST(NtpRateLimit, Ipv6PrefixAggregation) {
    rate_limit_config c = config(3, 1, 0);
    c.ipv6_prefix_bits = 64;
    rate_limiter rl(c);
    EXPECT_EQ(rl.check(parse_address("2001:db8:1:2::1"), 0), decision::allow);
    EXPECT_EQ(rl.check(parse_address("2001:db8:1:2:ffff::7"), 0), decision::limit);
    EXPECT_EQ(rl.check(parse_address("2001:db8:1:3::1"), 0), decision::allow);
    // IPv4 stays per address (its mapped form would otherwise collapse into one /64).
    EXPECT_EQ(rl.check(parse_address("192.0.2.1"), 0), decision::allow);
    EXPECT_EQ(rl.check(parse_address("192.0.2.2"), 0), decision::allow);

    rate_limiter per_address(config(3, 1, 0));
    EXPECT_EQ(per_address.check(parse_address("2001:db8:1:2::1"), 0), decision::allow);
    EXPECT_EQ(per_address.check(parse_address("2001:db8:1:2::2"), 0), decision::allow);
}

TEST(NtpRateLimit, TimeZeroIsAValidNow) {
    rate_limiter rl(config(3, 2, 0));
    EXPECT_EQ(rl.check(client, 0), decision::allow);
    EXPECT_EQ(rl.check(client, 0), decision::allow);
    EXPECT_EQ(rl.check(client, 0), decision::limit);
    EXPECT_EQ(rl.occupied(), 1u);
}

TEST(NtpRateLimit, ConfigChecks) {
    const auto bad = [](auto change) {
        rate_limit_config c;
        change(c);
        EXPECT_THROW(rate_limiter{c}, std::invalid_argument);
    };
    bad([](rate_limit_config& c) { c.table_size = 1000; });
    bad([](rate_limit_config& c) { c.table_size = 0; });
    bad([](rate_limit_config& c) { c.probe_limit = 3; });
    bad([](rate_limit_config& c) { c.table_size = 2; });  // probe 4 > table
    bad([](rate_limit_config& c) { c.interval_log2 = -20; });
    bad([](rate_limit_config& c) { c.interval_log2 = 13; });
    bad([](rate_limit_config& c) { c.burst = 0; });
    bad([](rate_limit_config& c) { c.burst = 256; });
    bad([](rate_limit_config& c) { c.leak_log2 = 17; });
    bad([](rate_limit_config& c) { c.ipv6_prefix_bits = 0; });
    bad([](rate_limit_config& c) { c.ipv6_prefix_bits = 129; });
    rate_limit_config ok;
    ok.table_size = 4;
    EXPECT_NO_THROW(rate_limiter{ok});
}

TEST(NtpAddress, Forms) {
    const std::uint8_t v4[4] = {192, 0, 2, 1};
    EXPECT_EQ(address::from_ipv4(v4), address::from_ipv4(0xC0000201));
    EXPECT_EQ(parse_address("192.0.2.1"), address::from_ipv4(0xC0000201));
    EXPECT_EQ(parse_address("::ffff:192.0.2.1"), address::from_ipv4(0xC0000201));
    EXPECT_TRUE(parse_address("192.0.2.1").is_ipv4());
    EXPECT_FALSE(parse_address("2001:db8::1").is_ipv4());
    const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(address::from_ipv6(v6), parse_address("2001:db8::1"));
    EXPECT_EQ(parse_address("2001:db8::1").hi, 0x20010db800000000ull);
    EXPECT_EQ(parse_address("2001:db8::1").lo, 1u);
    EXPECT_THROW((void)parse_address("192.0.2.256"), std::invalid_argument);
    EXPECT_THROW((void)parse_address("host.example"), std::invalid_argument);
    EXPECT_EQ(mask_prefix(parse_address("2001:db8:ffff:ffff:ffff::1"), 36),
              parse_address("2001:db8:f000::"));
    EXPECT_EQ(mask_prefix(parse_address("192.0.2.77"), 120), parse_address("192.0.2.0"));
    EXPECT_EQ(mask_prefix(parse_address("192.0.2.77"), 0), address{});
    EXPECT_EQ(mask_prefix(parse_address("192.0.2.77"), 128), parse_address("192.0.2.77"));
}

TEST(NtpAccess, LongestPrefixWins) {
    access_list acl;
    acl.add_rule("deny 192.0.2.0/24");
    acl.add_rule("allow 192.0.2.128/25");
    acl.add_rule("deny 192.0.2.200");
    acl.add_rule("deny 2001:db8::/32");
    acl.add_rule("allow 2001:db8:1::/48");
    EXPECT_EQ(acl.size(), 5u);
    EXPECT_TRUE(acl.allowed(parse_address("192.0.3.1")));  // default
    EXPECT_FALSE(acl.allowed(parse_address("192.0.2.5")));
    EXPECT_TRUE(acl.allowed(parse_address("192.0.2.129")));
    EXPECT_TRUE(acl.allowed(parse_address("192.0.2.255")));
    EXPECT_FALSE(acl.allowed(parse_address("192.0.2.200")));
    EXPECT_FALSE(acl.allowed(parse_address("2001:db8:2::1")));
    EXPECT_TRUE(acl.allowed(parse_address("2001:db8:1:ffff::1")));
    EXPECT_TRUE(acl.allowed(parse_address("2001:db9::1")));
    // An IPv4 rule matches the mapped form too.
    EXPECT_FALSE(acl.allowed(parse_address("::ffff:192.0.2.5")));
}

TEST(NtpAccess, DenyAllThenAllow) {
    access_list acl = access_list::parse(
        "# only the lab\n"
        "deny all\n"
        "allow 10.0.0.0/8   # lab v4\n"
        "\n"
        "allow fd00::/8\n",
        "acl");
    EXPECT_FALSE(acl.allowed(parse_address("192.0.2.1")));
    EXPECT_FALSE(acl.allowed(parse_address("2001:db8::1")));
    EXPECT_TRUE(acl.allowed(parse_address("10.1.2.3")));
    EXPECT_TRUE(acl.allowed(parse_address("fd12::1")));
}

TEST(NtpAccess, Ipv4ZeroPrefixIsOnlyIpv4) {
    access_list acl;
    acl.add_rule("deny 0.0.0.0/0");
    EXPECT_FALSE(acl.allowed(parse_address("198.51.100.1")));
    EXPECT_TRUE(acl.allowed(parse_address("2001:db8::1")));
}

TEST(NtpAccess, DefaultDenyAndOverride) {
    access_list acl(false);
    EXPECT_FALSE(acl.allowed(parse_address("192.0.2.1")));
    acl.add_rule("allow 192.0.2.77/24");  // host bits below the prefix are ignored
    EXPECT_TRUE(acl.allowed(parse_address("192.0.2.1")));
    acl.add_rule("deny 192.0.2.0/24");  // the same prefix again: the later rule stands
    EXPECT_FALSE(acl.allowed(parse_address("192.0.2.1")));
    EXPECT_EQ(acl.size(), 1u);
}

TEST(NtpAccess, ParseErrors) {
    for (const char* rule : {"permit 192.0.2.1", "allow", "allow 192.0.2.1 extra",
                             "allow 192.0.2.0/33", "allow 2001:db8::/129", "allow 192.0.2.0/",
                             "allow 192.0.2.0/x", "allow 192.0.2.0/-1", "allow 300.0.0.1",
                             "allow host.example", "ALLOW 192.0.2.1", "deny /24"}) {
        access_list acl;
        EXPECT_THROW(acl.add_rule(rule), access_error) << rule;
    }
    try {
        (void)access_list::parse("allow 10.0.0.0/8\n\ndeny 10.0.0.0/40\n", "acl.conf");
        ADD_FAILURE() << "no error";
    } catch (const access_error& e) {
        EXPECT_EQ(std::string(e.what()), "acl.conf:3: invalid prefix length '40' (0..32)");
    }
}

}  // namespace
