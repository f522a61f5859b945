// Receive timestamps for the NTP fast path: where a port's PMD stamps mbufs (the dynamic RX
// timestamp field), that stamp is the receive time; else the TSC read at the rx burst. Either
// counter maps to UTC through a linear map fitted by the control thread and published with a
// seqlock, so workers never make a syscall and never wait.
#pragma once

#include <rte_seqlock.h>

#include <atomic>
#include <cstdint>

namespace ports::pipelines {

inline constexpr std::uint64_t ntp_unix_offset_s = 2208988800ULL;  // 1900-01-01 to 1970-01-01
inline constexpr std::uint64_t ns_per_s = 1000000000ULL;

// UTC nanoseconds since the Unix epoch to an NTP timestamp (era 0: good until 2036).
constexpr std::uint64_t ntp_from_unix_ns(std::uint64_t ns) {
    const std::uint64_t sec = ns / ns_per_s + ntp_unix_offset_s;
    const std::uint64_t rem = ns % ns_per_s;
    // The fraction is rem / 1e9 in units of 2^-32 s.
    return (sec << 32) | ((rem << 32) / ns_per_s);
}

constexpr std::uint64_t unix_ns_from_ntp(std::uint64_t ntp) {
    const std::uint64_t sec = (ntp >> 32) - ntp_unix_offset_s;
    const std::uint64_t frac = ntp & 0xFFFFFFFFULL;
    return sec * ns_per_s + ((frac * ns_per_s + (1ULL << 31)) >> 32);
}

// ns = base_ns + (counter - base_counter) * ns_per_tick, with ns_per_tick in 32.32 fixed point.
struct linear_map {
    std::uint64_t base_counter = 0;
    std::uint64_t base_ns = 0;
    std::uint64_t ns_per_tick_q32 = 0;
    // How far to_ns may be from the clock it maps to: base_error_ns at base_counter, growing
    // by drift_ppb of the time since (the fit's residuals and its span; a map made from the
    // nominal rate alone says 1000 ppm).
    std::uint64_t base_error_ns = 0;
    std::uint64_t drift_ppb = 0;

    std::uint64_t error_ns(std::uint64_t counter) const {
        const std::uint64_t since = to_ns(counter) - base_ns;  // wraps to huge if before: fine
        const std::uint64_t elapsed = since > (1ULL << 62) ? base_ns - to_ns(counter) : since;
        return base_error_ns +
               static_cast<std::uint64_t>((static_cast<unsigned __int128>(elapsed) * drift_ppb) /
                                          1000000000ULL);
    }

    std::uint64_t to_ns(std::uint64_t counter) const {
        const auto delta = static_cast<std::int64_t>(counter - base_counter);
        const __int128 scaled = static_cast<__int128>(delta) * ns_per_tick_q32;
        return base_ns + static_cast<std::int64_t>(scaled >> 32);
    }
    bool valid() const { return ns_per_tick_q32 != 0; }
};

// One writer (the control thread), many readers (workers). A reader retries only while a
// write is in progress, which takes nanoseconds and happens about once a second.
class published_map {
  public:
    published_map() { rte_seqlock_init(&lock_); }

    void publish(const linear_map& m) {
        rte_seqlock_write_lock(&lock_);
        store(map_.base_counter, m.base_counter);
        store(map_.base_ns, m.base_ns);
        store(map_.ns_per_tick_q32, m.ns_per_tick_q32);
        store(map_.base_error_ns, m.base_error_ns);
        store(map_.drift_ppb, m.drift_ppb);
        rte_seqlock_write_unlock(&lock_);
    }

    linear_map read() const {
        linear_map m;
        std::uint32_t sn = 0;
        do {
            sn = rte_seqlock_read_begin(&lock_);
            m.base_counter = load(map_.base_counter);
            m.base_ns = load(map_.base_ns);
            m.ns_per_tick_q32 = load(map_.ns_per_tick_q32);
            m.base_error_ns = load(map_.base_error_ns);
            m.drift_ppb = load(map_.drift_ppb);
        } while (rte_seqlock_read_retry(&lock_, sn));
        return m;
    }

  private:
    // The seqlock orders these; relaxed atomic_ref keeps concurrent access race-free in C++.
    static void store(std::uint64_t& field, std::uint64_t v) {
        std::atomic_ref<std::uint64_t>(field).store(v, std::memory_order_relaxed);
    }
    static std::uint64_t load(const std::uint64_t& field) {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(field))
            .load(std::memory_order_relaxed);
    }

    rte_seqlock_t lock_;
    linear_map map_;
};

}  // namespace ports::pipelines
