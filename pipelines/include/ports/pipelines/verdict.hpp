// What a stage decided for a frame. Stages return a verdict and never free, forward or send a
// frame themselves: process_burst alone acts on verdicts and counts them, once per frame, in the
// lcore's fate counters (worker_stats), so that for every lcore
//   rx_packets == forwarded + replied + to_kernel + released + sum(dropped by reason)
// holds at any quiet moment. tx_dropped counts, among the frames handed to TX (forwarded,
// replied, to_kernel), those a full TX ring refused.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ports::pipelines {

// clang-format off
// X(name): drop reasons, in the order of the fate counters and their JSON/MIB names.
#define PORTS_DROP_REASONS(X)                                                     \
    X(rule)            /* a drop rule matched */                                  \
    X(malformed)       /* a request or neighbour frame that cannot be answered */ \
    X(access)          /* NTP from a source the access list or address rules refuse */ \
    X(refused)         /* NTP the server does not answer: mode 6/7, auth required, IP options */ \
    X(rate_limited)    /* over the client's rate, no KoD sent */                  \
    X(auth_failed)     /* NTS authentication failed, or a reply could not be signed */ \
    X(exception_rate)  /* over the exception path's token bucket */                \
    X(timestamp_error) /* NTP whose receive stamp's bound exceeds ntp.max_timestamp_error */
// clang-format on

enum class drop_reason : std::uint8_t {
#define PORTS_DROP_ENUM(k) k,
    PORTS_DROP_REASONS(PORTS_DROP_ENUM)
#undef PORTS_DROP_ENUM
};
inline constexpr std::string_view drop_reason_names[] = {
#define PORTS_DROP_NAME(k) #k,
    PORTS_DROP_REASONS(PORTS_DROP_NAME)
#undef PORTS_DROP_NAME
};
inline constexpr std::size_t drop_reason_count = std::size(drop_reason_names);

struct verdict {
    enum class kind : std::uint8_t {
        pass,    // no stage took it: forwarded (inline mode) or released (monitor mode)
        reply,   // the frame became its reply, staged by the service for this burst's TX
        kernel,  // for the exception path's TAP
        drop,    // freed, counted by reason
    };
    kind what = kind::pass;
    drop_reason why = drop_reason::rule;

    static constexpr verdict pass() { return {kind::pass, drop_reason::rule}; }
    static constexpr verdict reply() { return {kind::reply, drop_reason::rule}; }
    static constexpr verdict kernel() { return {kind::kernel, drop_reason::rule}; }
    static constexpr verdict drop(drop_reason r) { return {kind::drop, r}; }
    constexpr bool passes() const { return what == kind::pass; }
};

}  // namespace ports::pipelines
