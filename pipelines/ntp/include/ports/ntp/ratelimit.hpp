// Per-source response rate limiting (chrony's `ratelimit interval I burst B leak L`) and
// allow/deny access lists by address prefix. Both are per lcore and lock-free by ownership.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace ports::ntp {

// An IPv6 address as two big-endian halves; IPv4 lives in its mapped form ::ffff:a.b.c.d so that
// one table and one rule set serve both families.
struct address {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;

    // p: 4 bytes in network order (an IPv4 header's source field).
    static address from_ipv4(const std::uint8_t* p) {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return {0, 0x0000FFFF00000000ull | __builtin_bswap32(v)};
    }
    // v: host order, as written in code (0xC0000201 is 192.0.2.1).
    static address from_ipv4(std::uint32_t v) { return {0, 0x0000FFFF00000000ull | v}; }
    // p: 16 bytes in network order.
    static address from_ipv6(const std::uint8_t* p) {
        std::uint64_t h;
        std::uint64_t l;
        std::memcpy(&h, p, 8);
        std::memcpy(&l, p + 8, 8);
        return {__builtin_bswap64(h), __builtin_bswap64(l)};
    }
    bool is_ipv4() const { return hi == 0 && (lo >> 32) == 0xFFFF; }

    friend bool operator==(const address&, const address&) = default;
};

// Mask to the first `bits` (0..128) bits.
inline address mask_prefix(const address& a, unsigned bits) {
    const std::uint64_t all = ~std::uint64_t{0};
    const std::uint64_t hi_mask = bits >= 64 ? all : bits == 0 ? 0 : all << (64 - bits);
    const std::uint64_t lo_mask = bits <= 64 ? 0 : all << (128 - bits);
    return {a.hi & hi_mask, a.lo & lo_mask};
}

// Setup only: "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1". Throws std::invalid_argument.
address parse_address(std::string_view text);

enum class decision : std::uint8_t {
    allow,  // within the rate: answer
    leak,   // over the rate but let through (1 in 2^leak of the limited requests): answer
    limit,  // over the rate: drop (or answer with a RATE kiss-o'-death, which is rate limited
            // by the caller)
};

struct rate_limit_config {
    // Entries in the table, a power of two. 65536 entries take 2 MiB.
    std::size_t table_size = 65536;
    // log2 of the minimum mean interval between responses to one source, in seconds: -19..12
    // (chrony's range; 3, the default, is one response per 8 s on average).
    int interval_log2 = 3;
    // Responses a source may get back to back before the interval applies: 1..255.
    unsigned burst = 8;
    // 1 in 2^leak of the limited requests is answered anyway, so that a spoofed flood cannot
    // silence the real owner of an address. chrony: 1..4, default 2 (every 4th). 0 here means no
    // leak at all. Up to 16.
    unsigned leak_log2 = 2;
    // Prefix that identifies an IPv6 source (128: per address, as chrony; 64 stops a host from
    // escaping the limit by walking its /64). IPv4 sources are always per address.
    unsigned ipv6_prefix_bits = 128;
    // Slots examined per lookup, a power of two up to the table size; they are one aligned
    // group (4 slots = 128 bytes = 2 cache lines).
    unsigned probe_limit = 4;
    // Keys the slot hash, so that outsiders cannot aim sources at one slot group. 0: random.
    std::uint64_t hash_seed = 0;
};

// A token bucket per source, kept as GCRA's theoretical arrival time (one 64-bit word): each
// answer moves it on by the interval; a request is within the limit while it is no more than
// (burst - 1) intervals ahead of now. Limited requests do not move it: a source is held to the
// rate of answers, and one that slows down to the rate is answered again at once.
//
// Memory is fixed at construction. A new source takes a free slot of its group, else replaces the
// slot whose bucket is the most refilled (smallest arrival time): such an entry forgets nothing
// when it already is full, and the entries of sources being limited, far ahead in time, are
// the last to go, so a flood of spoofed one-shot sources cannot reset a real flooder's bucket.
// A legitimate client evicted by the flood comes back as a new source with a full bucket.
class rate_limiter {
  public:
    // The table comes from mem (the engine gives its lcore's NUMA socket); throws
    // std::invalid_argument for a bad config.
    explicit rate_limiter(const rate_limit_config& config,
                          std::pmr::memory_resource* mem = std::pmr::get_default_resource());

    // now_ns: a monotonic clock (TSC converted, CLOCK_MONOTONIC); must not go backwards by much.
    decision check(const address& source, std::uint64_t now_ns) noexcept;

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::size_t occupied() const noexcept { return occupied_; }
    std::uint64_t evictions() const noexcept { return evictions_; }
    std::uint64_t interval_ns() const noexcept { return interval_ns_; }

  private:
    struct slot {
        std::uint64_t hi = 0;
        std::uint64_t lo = 0;
        std::uint64_t tat = 0;  // 0: free (a used slot is always at least one interval in)
        std::uint32_t limited = 0;
        std::uint32_t pad = 0;
    };
    static_assert(sizeof(slot) == 32);

    std::size_t group_of(const address& a) const noexcept;

    std::pmr::vector<slot> slots_;
    std::size_t group_mask_ = 0;  // over slot indices, low bits clear
    unsigned probe_ = 4;
    std::uint64_t interval_ns_ = 0;
    std::uint64_t tolerance_ns_ = 0;
    std::uint32_t leak_mask_ = 0;  // 0: no leak
    unsigned ipv6_prefix_bits_ = 128;
    std::uint64_t seed_hi_ = 0;
    std::uint64_t seed_lo_ = 0;
    std::size_t occupied_ = 0;
    std::uint64_t evictions_ = 0;
};

class access_error : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

// allow/deny by prefix; the longest matching prefix decides, the default when none matches.
// Lookup: one masked binary search per distinct prefix length present, longest first.
class access_list {
  public:
    explicit access_list(bool default_allow = true) : default_allow_(default_allow) {}

    // "allow 192.0.2.0/24", "deny 2001:db8::/32", "allow 192.0.2.7" (a host), "deny all"
    // (::/0, both families). Host bits below the prefix are ignored, as chrony does. The same
    // prefix given again replaces the earlier rule. Throws access_error.
    void add_rule(std::string_view rule);
    // bits counts in the IPv6 form: an IPv4 /24 is 96 + 24.
    void add(bool allow, const address& prefix, unsigned bits);

    // One rule per line, '#' comments; errors as "NAME:LINE: message".
    static access_list parse(std::string_view text, std::string_view name,
                             bool default_allow = true);

    bool allowed(const address& a) const noexcept;
    std::size_t size() const noexcept;

  private:
    struct rule {
        std::uint64_t hi;
        std::uint64_t lo;
        bool allow;
    };
    struct group {
        unsigned bits;
        std::vector<rule> rules;  // sorted by (hi, lo)
    };
    std::vector<group> groups_;  // longest prefix first
    bool default_allow_;
};

}  // namespace ports::ntp
