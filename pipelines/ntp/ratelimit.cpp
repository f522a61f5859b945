#include "ports/ntp/ratelimit.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <random>
#include <string>

#include "ports/common/text.hpp"

namespace ports::ntp {

namespace {

constexpr int min_interval_log2 = -19;
constexpr int max_interval_log2 = 12;
constexpr std::uint64_t ns_per_s = 1'000'000'000;

std::uint64_t mix64(std::uint64_t x) {
    // splitmix64's finaliser: every input bit reaches every output bit.
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

bool is_power_of_two(std::size_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}

}  // namespace

address parse_address(std::string_view text) {
    const std::string s(text);
    std::uint8_t buf[16];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
        return address::from_ipv4(buf);
    }
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
        return address::from_ipv6(buf);
    }
    throw std::invalid_argument("invalid address '" + s + "'");
}

rate_limiter::rate_limiter(const rate_limit_config& config) {
    if (!is_power_of_two(config.table_size)) {
        throw std::invalid_argument("rate limit table size must be a power of two");
    }
    if (!is_power_of_two(config.probe_limit) || config.probe_limit > config.table_size) {
        throw std::invalid_argument("rate limit probe limit must be a power of two <= table size");
    }
    if (config.interval_log2 < min_interval_log2 || config.interval_log2 > max_interval_log2) {
        throw std::invalid_argument("rate limit interval must be -19..12 (log2 seconds)");
    }
    if (config.burst < 1 || config.burst > 255) {
        throw std::invalid_argument("rate limit burst must be 1..255");
    }
    if (config.leak_log2 > 16) {
        throw std::invalid_argument("rate limit leak must be 0..16 (log2)");
    }
    if (config.ipv6_prefix_bits < 1 || config.ipv6_prefix_bits > 128) {
        throw std::invalid_argument("rate limit IPv6 prefix must be 1..128 bits");
    }
    slots_.assign(config.table_size, slot{});
    probe_ = config.probe_limit;
    group_mask_ = (config.table_size - 1) & ~static_cast<std::size_t>(probe_ - 1);
    interval_ns_ = config.interval_log2 >= 0 ? ns_per_s << config.interval_log2
                                             : ns_per_s >> -config.interval_log2;
    tolerance_ns_ = interval_ns_ * (config.burst - 1);
    leak_mask_ = config.leak_log2 == 0 ? 0 : (std::uint32_t{1} << config.leak_log2) - 1;
    ipv6_prefix_bits_ = config.ipv6_prefix_bits;
    std::uint64_t seed = config.hash_seed;
    if (seed == 0) {
        std::random_device rd;
        seed = (std::uint64_t{rd()} << 32) | rd();
    }
    seed_hi_ = mix64(seed);
    seed_lo_ = mix64(seed_hi_ ^ 0x9e3779b97f4a7c15ull);
}

std::size_t rate_limiter::group_of(const address& a) const noexcept {
    const std::uint64_t h = mix64(mix64(a.hi ^ seed_hi_) ^ a.lo ^ seed_lo_);
    return static_cast<std::size_t>(h) & group_mask_;
}

decision rate_limiter::check(const address& source, std::uint64_t now_ns) noexcept {
    const address a = source.is_ipv4() ? source : mask_prefix(source, ipv6_prefix_bits_);
    slot* const group = &slots_[group_of(a)];
    slot* found = nullptr;
    slot* victim = group;
    for (unsigned i = 0; i < probe_; ++i) {
        slot& s = group[i];
        if (s.tat == 0) {
            // Slots never become free again, so the source is not further on.
            found = &s;
            found->hi = a.hi;
            found->lo = a.lo;
            found->limited = 0;
            ++occupied_;
            break;
        }
        if (s.hi == a.hi && s.lo == a.lo) {
            found = &s;
            break;
        }
        if (s.tat < victim->tat) {
            victim = &s;
        }
    }
    if (found == nullptr) {
        found = victim;
        found->hi = a.hi;
        found->lo = a.lo;
        found->tat = 0;
        found->limited = 0;
        ++evictions_;
    }

    const std::uint64_t tat = std::max(found->tat, now_ns);
    if (tat - now_ns <= tolerance_ns_) {
        found->tat = tat + interval_ns_;
        return decision::allow;
    }
    ++found->limited;
    if (leak_mask_ != 0 && (found->limited & leak_mask_) == 0) {
        return decision::leak;
    }
    return decision::limit;
}

void access_list::add(bool allow, const address& prefix, unsigned bits) {
    if (bits > 128) {
        throw access_error("prefix length above 128");
    }
    const address masked = mask_prefix(prefix, bits);
    auto g = std::find_if(groups_.begin(), groups_.end(),
                          [bits](const group& x) { return x.bits <= bits; });
    if (g == groups_.end() || g->bits != bits) {
        g = groups_.insert(g, group{bits, {}});
    }
    const auto less = [](const rule& r, const address& v) {
        return r.hi < v.hi || (r.hi == v.hi && r.lo < v.lo);
    };
    auto it = std::lower_bound(g->rules.begin(), g->rules.end(), masked, less);
    if (it != g->rules.end() && it->hi == masked.hi && it->lo == masked.lo) {
        it->allow = allow;
        return;
    }
    g->rules.insert(it, rule{masked.hi, masked.lo, allow});
}

void access_list::add_rule(std::string_view line) {
    // The directive and its target, and a third slot to see what follows them.
    std::array<std::string_view, 3> words;
    if (text::split_fields(line, words) != 2) {
        throw access_error("expected 'allow PREFIX' or 'deny PREFIX'");
    }
    bool allow = false;
    if (words[0] == "allow") {
        allow = true;
    } else if (words[0] != "deny") {
        throw access_error("unknown directive '" + std::string(words[0]) + "' (allow or deny)");
    }
    const std::string_view target = words[1];
    if (target == "all") {
        add(allow, address{}, 0);
        return;
    }
    const std::size_t slash = target.find('/');
    const address a = [&] {
        try {
            return parse_address(target.substr(0, slash));
        } catch (const std::invalid_argument& e) {
            throw access_error(e.what());
        }
    }();
    const bool v4 = target.substr(0, slash).find(':') == std::string_view::npos;
    const unsigned family_bits = v4 ? 32 : 128;
    unsigned bits = family_bits;
    if (slash != std::string_view::npos) {
        const std::string_view len = target.substr(slash + 1);
        const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
        if (len.empty() || ec != std::errc() || end != len.data() + len.size() ||
            bits > family_bits) {
            throw access_error("invalid prefix length '" + std::string(len) + "' (0.." +
                               std::to_string(family_bits) + ")");
        }
    }
    add(allow, a, v4 ? 96 + bits : bits);
}

access_list access_list::parse(std::string_view file_text, std::string_view name,
                               bool default_allow) {
    access_list list(default_allow);
    text::line_reader lines(file_text);
    std::string_view line;
    while (lines.next(line)) {
        line = text::strip_comment(line);
        if (text::is_blank_line(line)) {
            continue;
        }
        try {
            list.add_rule(line);
        } catch (const access_error& e) {
            throw access_error(std::string(name) + ":" + std::to_string(lines.number()) + ": " +
                               e.what());
        }
    }
    return list;
}

bool access_list::allowed(const address& a) const noexcept {
    for (const group& g : groups_) {
        const address m = mask_prefix(a, g.bits);
        const auto it = std::lower_bound(g.rules.begin(), g.rules.end(), m,
                                         [](const rule& r, const address& v) {
                                             return r.hi < v.hi || (r.hi == v.hi && r.lo < v.lo);
                                         });
        if (it != g.rules.end() && it->hi == m.hi && it->lo == m.lo) {
            return it->allow;
        }
    }
    return default_allow_;
}

std::size_t access_list::size() const noexcept {
    std::size_t n = 0;
    for (const group& g : groups_) {
        n += g.rules.size();
    }
    return n;
}

}  // namespace ports::ntp
