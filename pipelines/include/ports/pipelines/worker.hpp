// The per-lcore run-to-completion loop (after DPDK's l3fwd): rx burst -> classify -> count ->
// act (free in monitor mode, forward to the peer port in inline mode) -> tx, with TX buffers
// drained on a TSC timer.
#pragma once

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "ports/pipelines/counter_mirror.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"
#include "ports/pipelines/verdict.hpp"

namespace ports::pipelines {

inline constexpr std::uint16_t burst_size = 32;
inline constexpr std::uint16_t max_rx_per_lcore = 16;
inline constexpr std::uint16_t no_peer = UINT16_MAX;

struct port_service;
struct service_lcore;
struct rules_lcore;
struct tunnel_lcore;

struct rx_queue_conf {
    std::uint16_t port = 0;
    std::uint16_t queue = 0;
    std::uint16_t peer = no_peer;           // inline mode: the port rx traffic is forwarded to
    const port_service* service = nullptr;  // the port's NTP service, if it has one
    // An exception path TAP queue: what the kernel sends there leaves by `peer` unclassified.
    bool from_kernel = false;
    // When the frames of the queue's last poll arrived, for a port without per-packet receive
    // stamps (poll_queue): after `earliest`, the start of the last poll that left the queue
    // empty (a full burst may have left older frames behind), and before `latest`, the end of
    // the poll that returned them. TSC; 0: unknown (no poll has drained the queue yet).
    std::uint64_t drained_tsc = 0;
    std::uint64_t earliest_tsc = 0;
    std::uint64_t latest_tsc = 0;
};

// Figures of the loop itself, beside the traffic counters; same single-writer rule.
struct alignas(64) worker_stats {
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_dropped = 0;  // TX ring full: freed, never retried (no head-of-line wait)
    // Fates (verdict.hpp): rx_packets == forwarded + replied + to_kernel + released + dropped.
    std::uint64_t forwarded = 0;
    std::uint64_t replied = 0;
    std::uint64_t to_kernel = 0;
    std::uint64_t released = 0;  // monitor mode: seen, counted, freed
    std::array<std::uint64_t, drop_reason_count> dropped{};
    // Frames received from each port by destination MAC, for IF-MIB's
    // In{Ucast,Multicast,Broadcast}Pkts (most PMDs cannot split them): unicast, multicast (group
    // bit set, not all ones) and broadcast (all ones), each counted on its own so that a reader
    // sees three monotonic counters.
    std::array<std::uint64_t, RTE_MAX_ETHPORTS> rx_unicast{};
    std::array<std::uint64_t, RTE_MAX_ETHPORTS> rx_multicast{};
    std::array<std::uint64_t, RTE_MAX_ETHPORTS> rx_broadcast{};
    std::uint64_t busy_cycles = 0;  // TSC cycles of iterations that received something
    std::uint64_t total_cycles = 0;
    std::uint64_t loops = 0;

    static void add(std::uint64_t& field, std::uint64_t n) { single_writer_add(field, n); }
    static std::uint64_t load(const std::uint64_t& field) {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(field))
            .load(std::memory_order_relaxed);
    }
};

// Everything one worker lcore touches, allocated on its socket before launch.
struct alignas(64) lcore_conf {
    unsigned lcore_id = 0;
    std::uint16_t rx_count = 0;
    std::array<rx_queue_conf, max_rx_per_lcore> rx{};
    // This lcore's TX queue and buffer on each port it sends to (null buffer: never sends).
    std::array<std::uint16_t, RTE_MAX_ETHPORTS> tx_queue{};
    std::array<rte_eth_dev_tx_buffer*, RTE_MAX_ETHPORTS> tx_buffer{};
    core_counters* counters = nullptr;
    worker_stats* stats = nullptr;
    // Where readers get a coherent copy of both (counter_mirror.hpp); null: none asked.
    counter_mirror<worker_stats>* mirror = nullptr;
    service_lcore* service = nullptr;  // set when any port this lcore polls has a service
    rules_lcore* rules = nullptr;      // set when the engine has a rules file
    tunnel_lcore* tunnels = nullptr;   // set when the config has a tunnels: section
    // The burst's frame records (classify -> rules -> service), by frame index.
    std::array<frame_record, burst_size> records{};
    const std::atomic<bool>* stop = nullptr;
};

// Polls one queue (rte_eth_rx_burst) and, on a port with a service, records when its frames
// arrived (the window of rx_queue_conf): two TSC reads per poll of such a queue, none on other
// queues. The worker's poll; benchmarks and in-process tests call it too.
inline std::uint16_t poll_queue(rx_queue_conf& rx, rte_mbuf** pkts) {
    if (rx.service == nullptr) {
        return rte_eth_rx_burst(rx.port, rx.queue, pkts, burst_size);
    }
    const std::uint64_t start = rte_rdtsc();
    const std::uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, pkts, burst_size);
    if (n != 0) {
        rx.earliest_tsc = rx.drained_tsc;
        rx.latest_tsc = rte_rdtsc();
    }
    if (n < burst_size) {
        rx.drained_tsc = start;  // nothing older than this poll's start is left behind
    }
    return n;
}

// Hands n frames to an lcore's TX buffer of a port, as rte_eth_tx_buffer does for each (the
// buffer sends when full; the frames a full TX ring refuses go to its error callback, the
// lcore's tx_dropped), with one copy per buffer's worth instead of a call per frame. Returns
// the frames the PMD took.
inline std::uint64_t tx_buffer_bulk(std::uint16_t port, std::uint16_t queue,
                                    rte_eth_dev_tx_buffer* buffer, rte_mbuf* const* pkts,
                                    std::uint16_t n) {
    std::uint64_t sent = 0;
    while (n != 0) {
        const std::uint16_t room = static_cast<std::uint16_t>(buffer->size - buffer->length);
        const std::uint16_t take = n < room ? n : room;
        std::memcpy(&buffer->pkts[buffer->length], pkts, std::size_t{take} * sizeof(rte_mbuf*));
        buffer->length = static_cast<std::uint16_t>(buffer->length + take);
        pkts += take;
        n = static_cast<std::uint16_t>(n - take);
        if (buffer->length == buffer->size) {
            sent += rte_eth_tx_buffer_flush(port, queue, buffer);
        }
    }
    return sent;
}

// Processes one received burst (the part benchmarks and in-process tests call directly).
void process_burst(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf** pkts, std::uint16_t n);

// Flushes every TX buffer of the lcore.
void drain_tx(lcore_conf& conf);

// rte_eal_remote_launch entry: arg is an lcore_conf*. Returns 0 when *stop is set.
int worker_main(void* arg);

}  // namespace ports::pipelines
