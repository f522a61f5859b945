// Per-core traffic counters: one flat array of 64-bit counters per worker lcore, cache-line
// aligned, written only by the core that owns it and summed by readers without locks.
//
// Why relaxed atomic_ref and not plain adds: a reader on another thread loads while the owner
// stores; relaxed load/store of an aligned 64-bit word is a plain mov on x86-64 and keeps the
// program free of data races. Never fetch_add: that is a locked instruction per packet.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

namespace ports::pipelines {

enum class traffic_class : std::uint8_t { ntp, snmp, snmp_trap, l2tp, pptp, gre, other };
inline constexpr std::size_t class_count = 7;
inline constexpr std::array<std::string_view, class_count> class_names = {
    "ntp", "snmp", "snmp-trap", "l2tp", "pptp", "gre", "other"};

// X(class, key): every counter, grouped by class. The first four of every class are the same
// (packets, bytes, malformed, fragments); the rest are the class's detail counters, which count
// valid packets only, then why malformed packets were, then what was seen of the class inside
// tunnels. Names are the keys of --stats-json, ports-analyze --json and the MIB.
// clang-format off
#define PORTS_CLASS_BASE(X, c) X(c, packets) X(c, bytes) X(c, malformed) X(c, fragments)
// Why malformed packets were: the parser's status (parsers::status, truncated..unsupported, in
// that order). After the class's details.
#define PORTS_MALFORMED(X, c)                                                     \
    X(c, malformed_truncated) X(c, malformed_bad_length) X(c, malformed_bad_version) \
    X(c, malformed_bad_value) X(c, malformed_unsupported)
// Packets of the class found inside a tunnel (PPTP's GRE, L2TP data, GRE: the tunnel tables'
// inner_of) and their bytes, whatever the outer class; counted only where tunnels are tracked
// (the engine's tunnels: section, ports-analyze --tunnels/--json). Not part of the class's
// packets, which count outermost classes only. The last counters of every class.
#define PORTS_INNER(X, c) X(c, inner_packets) X(c, inner_bytes)
#define PORTS_SNMP_DETAIL(X, c)                                                   \
    X(c, version_1) X(c, version_2c) X(c, version_3)                              \
    X(c, pdu_get) X(c, pdu_get_next) X(c, pdu_response) X(c, pdu_set)             \
    X(c, pdu_trap_v1) X(c, pdu_get_bulk) X(c, pdu_inform) X(c, pdu_trap_v2)       \
    X(c, pdu_report) X(c, encrypted)
#define PORTS_COUNTERS(X)                                                         \
    PORTS_CLASS_BASE(X, ntp)                                                      \
    X(ntp, mode_reserved) X(ntp, mode_symmetric_active)                           \
    X(ntp, mode_symmetric_passive) X(ntp, mode_client) X(ntp, mode_server)        \
    X(ntp, mode_broadcast) X(ntp, mode_control) X(ntp, mode_private)              \
    X(ntp, sntp_requests) X(ntp, with_mac) X(ntp, with_extensions)                \
    PORTS_MALFORMED(X, ntp) PORTS_INNER(X, ntp)                                   \
    PORTS_CLASS_BASE(X, snmp) PORTS_SNMP_DETAIL(X, snmp) PORTS_MALFORMED(X, snmp) \
    PORTS_INNER(X, snmp)                                                          \
    PORTS_CLASS_BASE(X, snmp_trap) PORTS_SNMP_DETAIL(X, snmp_trap)                \
    PORTS_MALFORMED(X, snmp_trap) PORTS_INNER(X, snmp_trap)                       \
    PORTS_CLASS_BASE(X, l2tp)                                                     \
    X(l2tp, version_2) X(l2tp, version_3) X(l2tp, control) X(l2tp, data)          \
    X(l2tp, zlb) X(l2tp, over_tcp) X(l2tp, tcp_no_payload) X(l2tp, over_ip)       \
    PORTS_MALFORMED(X, l2tp) PORTS_INNER(X, l2tp)                                 \
    PORTS_CLASS_BASE(X, pptp)                                                     \
    X(pptp, sccrq) X(pptp, sccrp) X(pptp, stopccrq) X(pptp, stopccrp)             \
    X(pptp, echo_request) X(pptp, echo_reply) X(pptp, ocrq) X(pptp, ocrp)         \
    X(pptp, icrq) X(pptp, icrp) X(pptp, iccn) X(pptp, ccrq) X(pptp, cdn)          \
    X(pptp, wen) X(pptp, sli) X(pptp, tcp_no_payload)                             \
    PORTS_MALFORMED(X, pptp) PORTS_INNER(X, pptp)                                 \
    PORTS_CLASS_BASE(X, gre)                                                      \
    X(gre, version_0) X(gre, version_1) X(gre, inner_ipv4) X(gre, inner_ipv6)     \
    X(gre, inner_ppp) X(gre, inner_ethernet) X(gre, inner_erspan)                 \
    X(gre, inner_other) X(gre, no_payload) X(gre, udp_encap)                      \
    PORTS_MALFORMED(X, gre) PORTS_INNER(X, gre)                                   \
    PORTS_CLASS_BASE(X, other)                                                    \
    X(other, non_ip) X(other, arp) X(other, ipv4) X(other, ipv6)                  \
    X(other, later_fragment)                                                      \
    PORTS_MALFORMED(X, other) PORTS_INNER(X, other)
// clang-format on

enum class counter : std::uint16_t {
#define PORTS_COUNTER_ENUM(c, k) c##_##k,
    PORTS_COUNTERS(PORTS_COUNTER_ENUM)
#undef PORTS_COUNTER_ENUM
};

struct counter_def {
    traffic_class cls;
    std::string_view key;
};

inline constexpr counter_def counter_defs[] = {
#define PORTS_COUNTER_DEF(c, k) {traffic_class::c, #k},
    PORTS_COUNTERS(PORTS_COUNTER_DEF)
#undef PORTS_COUNTER_DEF
};
inline constexpr std::size_t counter_count = std::size(counter_defs);

// Index of a class's packets counter; bytes, malformed and fragments follow it.
inline constexpr std::array<std::uint16_t, class_count> class_base = {
    static_cast<std::uint16_t>(counter::ntp_packets),
    static_cast<std::uint16_t>(counter::snmp_packets),
    static_cast<std::uint16_t>(counter::snmp_trap_packets),
    static_cast<std::uint16_t>(counter::l2tp_packets),
    static_cast<std::uint16_t>(counter::pptp_packets),
    static_cast<std::uint16_t>(counter::gre_packets),
    static_cast<std::uint16_t>(counter::other_packets),
};
inline constexpr std::uint16_t offset_bytes = 1;
inline constexpr std::uint16_t offset_malformed = 2;
inline constexpr std::uint16_t offset_fragments = 3;

constexpr std::uint16_t index_of(counter c) {
    return static_cast<std::uint16_t>(c);
}

// Index of a class's malformed_truncated counter; the other reasons follow it in
// parsers::status order.
inline constexpr std::array<std::uint16_t, class_count> malformed_reason_base = {
    index_of(counter::ntp_malformed_truncated),       index_of(counter::snmp_malformed_truncated),
    index_of(counter::snmp_trap_malformed_truncated), index_of(counter::l2tp_malformed_truncated),
    index_of(counter::pptp_malformed_truncated),      index_of(counter::gre_malformed_truncated),
    index_of(counter::other_malformed_truncated),
};
// Index of a class's inner_packets counter; inner_bytes follows it.
inline constexpr std::array<std::uint16_t, class_count> inner_base = {
    index_of(counter::ntp_inner_packets),       index_of(counter::snmp_inner_packets),
    index_of(counter::snmp_trap_inner_packets), index_of(counter::l2tp_inner_packets),
    index_of(counter::pptp_inner_packets),      index_of(counter::gre_inner_packets),
    index_of(counter::other_inner_packets),
};
// reason: a parsers::status other than ok (1 truncated .. 5 unsupported).
template <typename Status>
constexpr std::uint16_t malformed_reason_index(traffic_class c, Status reason) {
    return static_cast<std::uint16_t>(malformed_reason_base[static_cast<std::size_t>(c)] +
                                      static_cast<unsigned>(reason) - 1);
}

// A counter that one core writes and any thread reads, moved on by n. One add to memory: an
// aligned quadword written by one instruction is seen whole by a reader on another core
// (x86-64 single-copy atomicity, as the kernel's this_cpu_add), and it takes a third of what
// a relaxed load + add + store does (three instructions: atomics are never fused). Elsewhere,
// the relaxed pair. Every per-core counter of the engine is bumped through this.
[[gnu::always_inline]] inline void single_writer_add(std::uint64_t& field, std::uint64_t n) {
#if defined(__x86_64__)
    asm("addq %1, %0" : "+m"(field) : "er"(n));
#else
    std::atomic_ref<std::uint64_t> v(field);
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
#endif
}

// The counters of one worker core. Only that core writes; anyone reads.
struct alignas(64) core_counters {
    std::array<std::uint64_t, counter_count> values{};

    void add(std::uint16_t index, std::uint64_t n) { single_writer_add(values[index], n); }
    std::uint64_t load(std::size_t index) const {
        // atomic_ref<const T> is C++26; the const_cast only lets the load be atomic.
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(values[index]))
            .load(std::memory_order_relaxed);
    }
};

// A sum over cores, taken at one moment: what every reader (stats JSON, logs, SNMP) prints.
struct counter_snapshot {
    std::array<std::uint64_t, counter_count> values{};

    void accumulate(const core_counters& c) {
        for (std::size_t i = 0; i < counter_count; ++i) {
            values[i] += c.load(i);
        }
    }
    std::uint64_t get(counter c) const { return values[index_of(c)]; }
    std::uint64_t packets(traffic_class c) const {
        return values[class_base[static_cast<std::size_t>(c)]];
    }
    std::uint64_t bytes(traffic_class c) const {
        return values[class_base[static_cast<std::size_t>(c)] + offset_bytes];
    }
    std::uint64_t total_packets() const {
        std::uint64_t n = 0;
        for (auto b : class_base) {
            n += values[b];
        }
        return n;
    }
    std::uint64_t total_bytes() const {
        std::uint64_t n = 0;
        for (auto b : class_base) {
            n += values[b + offset_bytes];
        }
        return n;
    }
};

inline counter_snapshot snapshot(std::span<const core_counters> cores) {
    counter_snapshot s;
    for (const auto& c : cores) {
        s.accumulate(c);
    }
    return s;
}

}  // namespace ports::pipelines
