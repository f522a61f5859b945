// The server side of NTP's interleaved client/server mode (RFC 9769), as chrony keeps it: a map
// from the receive timestamp a reply carried to the time that reply really left, measured after
// the hand-off to the PMD. An interleaved client echoes the receive timestamp of our previous
// reply as its origin; the answer then carries that previous reply's true transmit time, which a
// basic reply can only estimate (its transmit field is written before it leaves).
//
// Fixed memory, one per lcore (RSS keeps a client on one lcore). Like chrony's NTP timestamp
// map, a ring of the most recent replies in receive-stamp order: the service hands out
// increasing receive stamps (unique_receive_time in pipelines/service.cpp), so an insert is a
// store at the head and a lookup a binary search; the oldest entry goes when the ring is full.
// A stamp not newer than the last one remembered is not inserted (a net_pcap replay's stamps
// may go backwards): its reply cannot be followed in interleaved mode, and a later request
// naming it is a miss. No allocation after construction, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace ports::ntp {

class tx_map {
  public:
    // entries: a power of two, at least 4; the ring comes from mem (the engine gives the
    // lcore's NUMA socket). Throws std::invalid_argument for a bad size.
    explicit tx_map(std::size_t entries,
                    std::pmr::memory_resource* mem = std::pmr::get_default_resource())
        : slots_(check(entries), mem), mask_(entries - 1) {}

    // The reply that carried receive timestamp rx_ts left at tx_ts (NTP timestamps). False:
    // not remembered (zero, or not newer than the last stamp remembered).
    bool insert(std::uint64_t rx_ts, std::uint64_t tx_ts) noexcept {
        if (rx_ts == 0 || (count_ != 0 && rx_ts <= slots_[(head_ - 1) & mask_].rx)) {
            return false;
        }
        slots_[head_] = {rx_ts, tx_ts};
        head_ = (head_ + 1) & mask_;
        if (count_ < slots_.size()) {
            ++count_;
        } else {
            ++evictions_;
        }
        return true;
    }

    // insert(rx, tx_ts) for each stamp of rx in order (a burst's replies, which left together),
    // with the ring's state in registers for the whole run.
    void insert_all(std::span<const std::uint64_t> rx, std::uint64_t tx_ts) noexcept {
        entry* const slots = slots_.data();
        std::size_t head = head_;
        // insert's rule: newer than the newest remembered (0, never a stamp, when none is).
        std::uint64_t newest = count_ != 0 ? slots[(head - 1) & mask_].rx : 0;
        std::size_t inserted = 0;
        for (const std::uint64_t r : rx) {
            if (r > newest) {
                slots[head].rx = r;
                slots[head].tx = tx_ts;
                head = (head + 1) & mask_;
                newest = r;
                ++inserted;
            }
        }
        head_ = head;
        count_ += inserted;
        if (count_ > slots_.size()) {
            evictions_ += count_ - slots_.size();
            count_ = slots_.size();
        }
    }

    // The transmit time of the reply that carried rx_ts, if it is still remembered.
    std::optional<std::uint64_t> find(std::uint64_t rx_ts) const noexcept {
        // Binary search over the ring in insertion (= receive stamp) order: position k is
        // slot (oldest + k).
        const std::size_t oldest = (head_ - count_) & mask_;
        std::size_t lo = 0;
        std::size_t hi = count_;
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo) / 2;
            const entry& e = slots_[(oldest + mid) & mask_];
            if (e.rx < rx_ts) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo < count_) {
            const entry& e = slots_[(oldest + lo) & mask_];
            if (e.rx == rx_ts) {
                return e.tx;
            }
        }
        return std::nullopt;
    }

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::size_t size() const noexcept { return count_; }
    std::uint64_t evictions() const noexcept { return evictions_; }

  private:
    struct entry {
        std::uint64_t rx = 0;
        std::uint64_t tx = 0;
    };

    static std::size_t check(std::size_t entries) {
        if (entries < 4 || (entries & (entries - 1)) != 0) {
            throw std::invalid_argument("interleaved map size must be a power of two >= 4");
        }
        return entries;
    }

    std::pmr::vector<entry> slots_;
    std::size_t mask_;
    std::size_t head_ = 0;   // the next slot written
    std::size_t count_ = 0;  // entries remembered
    std::uint64_t evictions_ = 0;
};

}  // namespace ports::ntp
