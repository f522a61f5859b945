// Clocks and timestamps: fitting counter -> UTC maps from samples, sampling the TSC and NIC
// device clocks against CLOCK_REALTIME, and reading the kernel clock's sync state.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>

#include "ports/pipelines/timestamp.hpp"

namespace ports::engine {

struct clock_sample {
    std::uint64_t counter;  // TSC or NIC device-clock ticks
    std::uint64_t utc_ns;   // CLOCK_REALTIME at the same moment
};

// The rate error a map made from the nominal TSC rate alone owns up to (1000 ppm): until a
// second sample, the engine's stamps' bounds grow by 1 us per ms.
inline constexpr std::uint64_t nominal_rate_drift_ppb = 1000000;

// Least-squares line through the samples (at least two with distinct counters), anchored at
// the newest sample so recent time is exact to the sample's own error.
std::optional<pipelines::linear_map> fit(std::span<const clock_sample> samples);

// Keeps the last N samples of one counter and refits on each new one.
class clock_calibrator {
  public:
    explicit clock_calibrator(std::size_t window = 16) : window_(window) {}
    std::optional<pipelines::linear_map> add(clock_sample s);

  private:
    std::size_t window_;
    std::deque<clock_sample> samples_;
};

// A TSC read bracketed by two CLOCK_REALTIME reads, the tightest of a few tries.
clock_sample sample_tsc();

// The NIC's device clock against CLOCK_REALTIME; nothing when the PMD has no readable clock.
std::optional<clock_sample> sample_nic(std::uint16_t port);

// What the kernel clock says of itself (ntp_adjtime): leap, sync and error bounds.
struct kernel_clock {
    bool synchronized = false;  // STA_UNSYNC clear and the call did not return TIME_ERROR
    std::uint8_t leap = 3;      // 0 none, 1 insert, 2 delete, 3 unsynchronized
    std::uint64_t max_error_us = 0;
    std::uint64_t est_error_us = 0;
};
kernel_clock read_kernel_clock();

}  // namespace ports::engine
