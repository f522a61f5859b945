// A coherent copy of one worker's counters, made by the worker itself between two loop
// iterations when a reader asks for one.
//
// Why: a worker bumps a frame's counters one after another (its class's packets, then its
// detail, its fate...), so a reader that loads them one by one while the worker runs sees some
// of a frame's increments and not the others: a class's packets one above the sum of its
// details, rx one above the fates. Every relation the MIB and --stats-json promise holds in a
// copy taken between two iterations, and only the worker can take it there without a lock.
//
// Cost on the data path: one load of `requested` per loop iteration (a line the worker only
// reads until a reader writes it) and, when asked, one copy of its counters (a few KiB) - a
// reader asks at most a few times a second. Readers are control threads, serialized by their
// caller (one request in flight per mirror); they wait for the copy, and read the live counters
// instead when the worker is not looping (before launch, after stop) or does not answer in
// time (then the copy may be incoherent by the frames in flight, as any plain read).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>
#include <type_traits>

#include "ports/pipelines/counters.hpp"

namespace ports::pipelines {

template <typename Stats>
struct alignas(64) counter_mirror {
    static_assert(std::is_trivially_copyable_v<Stats> && sizeof(Stats) % 8 == 0,
                  "Stats must be made of 64-bit counters");
    std::atomic<std::uint64_t> requested{0};  // readers write, the worker reads
    // The worker's loop: odd while it runs (it adds one at start and one at end), so that a
    // reader's direct read can tell whether the worker started or stopped meanwhile.
    std::atomic<std::uint32_t> phase{0};
    alignas(64) std::atomic<std::uint64_t> published{0};  // the worker: the request answered
    core_counters counters;
    Stats stats;
};

// The worker, once per loop iteration, with nothing of a burst half counted.
template <typename Stats>
inline void publish_if_asked(counter_mirror<Stats>& m, const core_counters& counters,
                             const Stats& stats) {
    // Relaxed on every iteration; the fence, only when asked, orders the copy after the
    // previous reader's reads of it (it asked again only once done).
    const std::uint64_t want = m.requested.load(std::memory_order_relaxed);
    if (want != m.published.load(std::memory_order_relaxed)) [[unlikely]] {
        std::atomic_thread_fence(std::memory_order_acquire);
        m.counters = counters;
        m.stats = stats;
        m.published.store(want, std::memory_order_release);
    }
}

// The worker's loop starts (online) and ends (offline: after its last count).
template <typename Stats>
inline void mirror_online(counter_mirror<Stats>& m, bool online) {
    const std::uint32_t next = m.phase.load(std::memory_order_relaxed) + 1;
    if (online) {
        // Before any count of the loop (the seqlock writer's order: mark, fence, data).
        m.phase.store(next, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
    } else {
        m.phase.store(next, std::memory_order_release);  // after the loop's last count
    }
}

// Reads what a worker owns while it is not looping (not yet, or no more), when nothing moves:
// read() then, unless the worker started or stopped during it (the phase moved). Empty when
// the worker is looping or its phase moved.
template <typename F>
inline auto read_if_idle(const std::atomic<std::uint32_t>& phase, F&& read)
    -> std::optional<decltype(read())> {
    const std::uint32_t before = phase.load(std::memory_order_acquire);
    if (before % 2 != 0) {
        return std::nullopt;
    }
    auto value = read();
    std::atomic_thread_fence(std::memory_order_acquire);
    if (phase.load(std::memory_order_relaxed) != before) {
        return std::nullopt;
    }
    return value;
}

template <typename Stats>
struct mirrored {
    core_counters counters;
    Stats stats;
    bool coherent = false;  // taken by the worker between iterations, or with the worker idle
};

// Word by word with relaxed loads: what the owner writes with single stores.
template <typename T>
inline T load_words(const T& from) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
    T to;
    auto* out = reinterpret_cast<std::uint64_t*>(&to);
    const auto* in = reinterpret_cast<const std::uint64_t*>(&from);
    for (std::size_t i = 0; i < sizeof(T) / 8; ++i) {
        out[i] = std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(in[i]))
                     .load(std::memory_order_relaxed);
    }
    return to;
}

// Asks for a copy and waits for it until `deadline`. The caller allows one reader per mirror at
// a time (the copy is the worker's to overwrite on the next request).
template <typename Stats>
inline mirrored<Stats> read_mirrored(counter_mirror<Stats>& m, const core_counters& counters,
                                     const Stats& stats,
                                     std::chrono::steady_clock::time_point deadline) {
    const std::uint64_t want = m.requested.load(std::memory_order_relaxed) + 1;
    m.requested.store(want, std::memory_order_release);
    for (;;) {
        if (m.published.load(std::memory_order_acquire) == want) {
            return {m.counters, m.stats, true};
        }
        // Not looping: the live values are one moment.
        if (auto idle = read_if_idle(m.phase, [&] {
                return mirrored<Stats>{load_words(counters), load_words(stats), true};
            })) {
            return *idle;
        }
        if (m.phase.load(std::memory_order_relaxed) % 2 == 0) {
            continue;  // it started or stopped during the read: ask again
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return {load_words(counters), load_words(stats), false};
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
}

}  // namespace ports::pipelines
