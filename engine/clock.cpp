#include "clock.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <sys/timex.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace ports::engine {

namespace {

std::uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * pipelines::ns_per_s +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

std::optional<pipelines::linear_map> fit(std::span<const clock_sample> samples) {
    if (samples.size() < 2) {
        return std::nullopt;
    }
    // Relative to the newest sample, so the sums stay small and exact in long double.
    const clock_sample& last = samples.back();
    const auto relative = [&last](const clock_sample& s) {
        return std::pair{
            static_cast<long double>(static_cast<std::int64_t>(s.counter - last.counter)),
            static_cast<long double>(static_cast<std::int64_t>(s.utc_ns - last.utc_ns))};
    };
    long double sx = 0;
    long double sy = 0;
    long double sxx = 0;
    long double sxy = 0;
    for (const auto& s : samples) {
        const auto [x, y] = relative(s);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    const long double n = static_cast<long double>(samples.size());
    const long double den = n * sxx - sx * sx;
    if (den <= 0) {
        return std::nullopt;
    }
    const long double slope = (n * sxy - sx * sy) / den;
    if (slope <= 0) {
        return std::nullopt;
    }
    // The line's value at the newest counter, not the newest sample itself: one noisy sample
    // does not move "now".
    const long double intercept = (sy - slope * sx) / n;
    pipelines::linear_map m;
    m.base_counter = last.counter;
    m.base_ns = static_cast<std::uint64_t>(static_cast<long double>(last.utc_ns) + intercept);
    m.ns_per_tick_q32 = static_cast<std::uint64_t>(llroundl(slope * 4294967296.0L));
    // The error the map owns up to: the worst residual of the samples it was fitted to, plus
    // what one sample's bracketing read may hide (sample_tsc keeps the tightest of five), and a
    // rate error of that much over the samples' span, growing with the time since the base.
    constexpr long double sample_read_ns = 500;
    long double worst = 0;
    for (const auto& s : samples) {
        const auto [x, y] = relative(s);
        worst = std::max(worst, fabsl(y - (intercept + slope * x)));
    }
    const long double span_ns = static_cast<long double>(last.utc_ns - samples.front().utc_ns);
    m.base_error_ns = static_cast<std::uint64_t>(ceill(worst + sample_read_ns));
    m.drift_ppb =
        span_ns > 0
            ? static_cast<std::uint64_t>(ceill((2 * worst + 2 * sample_read_ns) * 1e9L / span_ns)) +
                  1
            : nominal_rate_drift_ppb;
    return m;
}

std::optional<pipelines::linear_map> clock_calibrator::add(clock_sample s) {
    if (!samples_.empty() && s.counter == samples_.back().counter) {
        return std::nullopt;
    }
    samples_.push_back(s);
    while (samples_.size() > window_) {
        samples_.pop_front();
    }
    const std::vector<clock_sample> v(samples_.begin(), samples_.end());
    return fit(v);
}

clock_sample sample_tsc() {
    clock_sample best{};
    std::uint64_t best_width = std::numeric_limits<std::uint64_t>::max();
    for (int i = 0; i < 5; ++i) {
        const std::uint64_t before = realtime_ns();
        const std::uint64_t tsc = rte_rdtsc_precise();
        const std::uint64_t after = realtime_ns();
        if (after - before < best_width) {
            best_width = after - before;
            best = {tsc, before + (after - before) / 2};
        }
    }
    return best;
}

std::optional<clock_sample> sample_nic(std::uint16_t port) {
    clock_sample best{};
    std::uint64_t best_width = std::numeric_limits<std::uint64_t>::max();
    for (int i = 0; i < 5; ++i) {
        std::uint64_t ticks = 0;
        const std::uint64_t before = realtime_ns();
        if (rte_eth_read_clock(port, &ticks) != 0) {
            return std::nullopt;
        }
        const std::uint64_t after = realtime_ns();
        if (after - before < best_width) {
            best_width = after - before;
            best = {ticks, before + (after - before) / 2};
        }
    }
    return best;
}

kernel_clock read_kernel_clock() {
    timex tx{};
    const int state = ntp_adjtime(&tx);
    kernel_clock k;
    k.synchronized = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0 && state >= 0;
    if (!k.synchronized) {
        k.leap = 3;
    } else if (tx.status & STA_INS) {
        k.leap = 1;
    } else if (tx.status & STA_DEL) {
        k.leap = 2;
    } else {
        k.leap = 0;
    }
    k.max_error_us = tx.maxerror > 0 ? static_cast<std::uint64_t>(tx.maxerror) : 0;
    k.est_error_us = tx.esterror > 0 ? static_cast<std::uint64_t>(tx.esterror) : 0;
    return k;
}

}  // namespace ports::engine
