// The NTP service stage: for a port's service addresses the worker answers ARP, IPv6 neighbour
// solicitations, ICMP/ICMPv6 echo and NTP client requests itself, in place in the received
// mbuf, and sends the replies back out of the same port. Everything else keeps its path.
//
// Two lanes. The fast lane (serve_ntp_lane) runs on the burst before classification and takes
// the request shape that is most of a server's traffic - a plain 48-byte client request in
// untagged IPv4 to this port's MAC and one of its addresses (classify.hpp's plain_ntp_v4) -
// and answers it with the general path's steps on per-burst state kept in registers, with no
// frame record: ~295 instructions per reply, engine only (tests/bench/callgrind_ntp.sh; ~110
// for the reply itself, the rest the shape test, the counts, the receive stamp and the TX
// hand-off). Every other frame takes the general path (serve, from the classifier's record):
// other shapes, signed and NTS requests (ntp::build_reply, OpenSSL, the NTS batch), ARP, ND,
// echo and the exception path.
#pragma once

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ports/neighbour/addresses.hpp"
#include "ports/ntp/interleave.hpp"
#include "ports/ntp/mac.hpp"
#include "ports/ntp/ratelimit.hpp"
#include "ports/ntp/reply.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts/server.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"
#include "ports/pipelines/timestamp.hpp"
#include "ports/pipelines/verdict.hpp"

namespace ports::pipelines {

// clang-format off
#define PORTS_SERVER_COUNTERS(X)                                                  \
    X(requests) X(replies) X(version_1) X(version_2) X(version_3) X(version_4)    \
    X(auth_ok) X(auth_fail) X(crypto_nak) X(rate_limited) X(kod_sent)             \
    X(drop_mode6) X(drop_mode7) X(drop_other_mode) X(drop_access)                 \
    X(drop_malformed) X(drop_auth_required) X(drop_unsupported_ip)                \
    X(drop_sign_failed) X(arp_replies) X(nd_adverts) X(icmp_echo_replies)         \
    X(icmp6_echo_replies) X(neighbour_malformed)                                  \
    X(nts_requests) X(nts_replies) X(nts_naks) X(nts_auth_failed)                 \
    X(nts_malformed) X(nts_cookies_issued) X(nts_rate_limited)                    \
    X(exception_to_kernel) X(exception_rate_dropped) X(exception_from_kernel)     \
    X(drop_timestamp_error) X(interleaved_replies) X(interleaved_misses)
// clang-format on

enum class server_counter : std::uint16_t {
#define PORTS_SERVER_ENUM(k) k,
    PORTS_SERVER_COUNTERS(PORTS_SERVER_ENUM)
#undef PORTS_SERVER_ENUM
};

inline constexpr std::string_view server_counter_names[] = {
#define PORTS_SERVER_NAME(k) #k,
    PORTS_SERVER_COUNTERS(PORTS_SERVER_NAME)
#undef PORTS_SERVER_NAME
};
inline constexpr std::size_t server_counter_count = std::size(server_counter_names);

// Same single-writer rule as core_counters.
struct alignas(64) server_counters {
    std::array<std::uint64_t, server_counter_count> values{};

    // Always inline: a counter bump is one instruction, a call several more (GCC kept it out
    // of line where the index is computed).
    [[gnu::always_inline]] void add(server_counter c, std::uint64_t n = 1) {
        single_writer_add(values[static_cast<std::size_t>(c)], n);
    }
    std::uint64_t load(std::size_t i) const {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(values[i]))
            .load(std::memory_order_relaxed);
    }
};

// A trivially copyable value with one writer and lock-free readers (the seqlock of
// timestamp.hpp, for any size that is a multiple of 8 bytes).
template <typename T>
class seqlocked {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);

  public:
    seqlocked() { rte_seqlock_init(&lock_); }
    void publish(const T& v) {
        std::uint64_t words[sizeof(T) / 8];
        std::memcpy(words, &v, sizeof(T));
        rte_seqlock_write_lock(&lock_);
        for (std::size_t i = 0; i < std::size(words); ++i) {
            std::atomic_ref<std::uint64_t>(words_[i]).store(words[i], std::memory_order_relaxed);
        }
        rte_seqlock_write_unlock(&lock_);
    }
    T read() const {
        std::uint64_t words[sizeof(T) / 8];
        std::uint32_t sn = 0;
        do {
            sn = rte_seqlock_read_begin(&lock_);
            for (std::size_t i = 0; i < std::size(words); ++i) {
                words[i] = std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(words_[i]))
                               .load(std::memory_order_relaxed);
            }
        } while (rte_seqlock_read_retry(&lock_, sn));
        T v;
        std::memcpy(&v, words, sizeof(T));
        return v;
    }

  private:
    rte_seqlock_t lock_;
    std::uint64_t words_[sizeof(T) / 8] = {};
};

enum class rx_timestamp_kind : std::uint8_t {
    software,           // TSC at the rx burst, mapped to UTC
    pcap_microseconds,  // net_pcap (DPDK 22.11): microseconds since the epoch from the file
    device_ticks,       // a NIC's device clock, mapped to UTC by calibration
};
inline constexpr std::size_t rx_timestamp_kind_count = 3;
constexpr const char* to_string(rx_timestamp_kind k) {
    switch (k) {
        case rx_timestamp_kind::software:
            return "software";
        case rx_timestamp_kind::pcap_microseconds:
            return "pcap_microseconds";
        case rx_timestamp_kind::device_ticks:
            return "device_ticks";
    }
    return "?";
}

// A receive time and how far from the truth it may be: the frame arrived within
// [ts - error, ts + error]. source: which of the port's stamps gave it (a port with a
// per-packet stamp falls back to the software window for a frame the PMD did not stamp).
struct receive_stamp {
    std::uint64_t ts = 0;  // NTP timestamp format
    std::uint64_t error_ns = 0;
    rx_timestamp_kind source = rx_timestamp_kind::software;
};

// The error bound of a net_pcap stamp: microseconds, truncated.
inline constexpr std::uint64_t pcap_stamp_error_ns = 1000;
// The error bound of a NIC stamp, besides its map's (the control thread maps the device clock
// against the system clock once a second and the map owns up to its fit's error): the
// preamble-to-trailer correction and the NIC's own stamping.
inline constexpr std::uint64_t device_stamp_error_ns = 100;

// Per port and lcore: what the receive stamps of the port's NTP requests were, and how many
// were not answered because their bound exceeded the limit. Same single-writer rule.
struct port_stamp_counters {
    std::array<std::uint64_t, rx_timestamp_kind_count> stamped{};  // replies, by source
    std::uint64_t timestamp_error_drops = 0;
};

// One port's service, read-only for workers once they run (the device map is seqlocked).
struct port_service {
    neighbour::service_addresses addresses;
    neighbour::mac_address mac;
    rx_timestamp_kind ts_kind = rx_timestamp_kind::software;
    int ts_offset = -1;         // dynamic field of the RX timestamp
    std::uint64_t ts_flag = 0;  // dynamic flag saying the field is set
    published_map device_map;
    // Preamble-to-trailer correction (as chrony's hwtimestamp does): a NIC stamps the start
    // of the frame; NTP's receive time is when the whole frame is in. ns per byte, 16.16.
    std::uint64_t ns_per_byte_q16 = 0;
    // The exception path's TAP (no_peer: none): frames for the service addresses that the
    // fast path does not answer go there.
    std::uint16_t tap = UINT16_MAX;
    // When a reply handed to the PMD really leaves, for the RX->TX map of interleaved mode:
    // a PMD over a kernel socket (net_af_packet's sendto, net_tap's writev, net_pcap's
    // pcap_sendpacket) transmits somewhere inside its tx_burst: after the system call's entry
    // and the skb's build, before the kernel's own work that the call also runs (a veth peer's
    // receive path). Measured on veth (2-core VM): the start of the call was 28-32 us early,
    // its middle 12-34 us late. So the middle, within half the call, and a call longer than
    // twice ntp.max_timestamp_error leaves its replies out of the map (the next interleaved
    // request is a miss, answered in basic mode). A NIC sends once tx_burst has rung its
    // doorbell: the end of the call.
    bool tx_in_call = false;
};

static_assert(sizeof(ntp::clock_state) % 8 == 0);

// What a reload of the symmetric keys and the access list replaces, as one generation: the
// keys, the access list and each lcore's MAC engine bound to those keys (a CMAC key its engine
// was not built with would be keyed per packet, an allocation inside OpenSSL). Immutable once
// published but for the MAC engines' contexts, each used only by its own lcore.
//
// Publication (RCU, rte_rcu_qsbr, as rules_generation): the control side builds a whole
// generation, stores its pointer (release) and frees the previous one once every serving worker
// has reported a quiescent state after the store. A worker loads the pointer (acquire) at the
// first NTP request of a burst and drops it at the burst's flush, so a request and the signing
// of its reply use one generation; it reports quiescent once per loop iteration, between bursts.
struct ntp_policy {
    ntp::key_table keys;
    ntp::access_list access;
    bool has_access = false;  // false: no access list, every unicast source is served
    std::vector<std::unique_ptr<ntp::mac_engine>> macs;  // by service_lcore::index
    std::uint64_t number = 0;                            // 1 for the generation of the start

    const ntp::key_table* keys_or_null() const { return keys.empty() ? nullptr : &keys; }
};

// Shared by every worker; the control thread writes the clock and the TSC map.
struct service_shared {
    seqlocked<ntp::clock_state> clock;
    published_map tsc_map;
    ntp::server_config config;
    std::atomic<const ntp_policy*> policy{nullptr};  // set before any lcore is made
    rte_rcu_qsbr* qsbr = nullptr;                    // the policy's grace periods
    bool kod = false;
    std::uint32_t kod_per_second = 100;        // per lcore: KoDs are replies too, never a flood
    const nts::key_store* nts_keys = nullptr;  // null: NTS requests are answered as plain NTP
    // The exception path's rate limit per lcore (token bucket).
    std::uint32_t exception_rate = 0;
    std::uint32_t exception_burst = 0;
    // A request whose receive stamp may be further than this from the truth is not answered
    // (ntp.max_timestamp_error); 0: every request is answered, whatever its bound.
    std::uint64_t max_timestamp_error_ns = 10000;
    // Interleaved mode (RFC 9769): answered when the lcore has an RX->TX map (tx_times).
    bool interleaved = true;
};

// One lcore's NTS state: its own copy of the master keys (copied again when the store's
// version moves, checked once per burst), its nonce generator, and the S2C keys of the
// burst's staged NTS replies, sealed at flush once the transmit timestamp is in.
struct nts_lcore {
    std::uint64_t ring_version = ~0ULL;
    nts::key_ring ring;
    nts::nonce_source nonces;
    // A burst's NTS requests wait here between the service stage, which stages their mbufs,
    // and the flush, which prepares them all at once (nts::prepare_replies interleaves their
    // AES-SIV work) and seals them after the transmit timestamp. waiting[i] and pending[i]
    // are request i of the burst; the staged entry's nts_slot is i.
    struct waiting_request {
        const port_service* service;
        parsers::layers l;
        parsers::nts_request_view request;
        std::uint64_t rx_ts;
        std::uint32_t root_dispersion;  // the clock's plus the receive stamp's bound (16.16)
        std::uint16_t out_index;        // its entry in service_lcore::out
    };
    std::array<waiting_request, 64> waiting;
    std::array<nts::prepared_reply, 64> pending;
    std::uint16_t waiting_count = 0;
};

// One lcore's part of the service.
struct service_lcore {
    const service_shared* shared = nullptr;
    unsigned index = 0;  // qsbr thread id, and this lcore's MAC engine in every ntp_policy
    // The generation of keys and access list of the burst in progress (null between bursts:
    // loaded at its first NTP request, dropped at flush_replies).
    const ntp_policy* policy = nullptr;
    ntp::rate_limiter* limiter = nullptr;  // null: no rate limiting
    server_counters* counters = nullptr;
    std::uint64_t mono_ns_per_tsc_q32 = 0;  // TSC to monotonic ns for the rate limiter
    std::uint64_t kod_window_start_ns = 0;
    std::uint32_t kod_in_window = 0;
    nts_lcore* nts = nullptr;         // set when the service has NTS keys
    ntp::tx_map* tx_times = nullptr;  // interleaved mode's RX->TX map; null: basic mode only
    // The last receive timestamp sent: each reply's is unique, the map's key (see tx_map).
    std::uint64_t last_rx_ts = 0;
    std::array<port_stamp_counters, RTE_MAX_ETHPORTS> per_port{};
    // Exception path token bucket: tokens scaled by 2^20 refill at exception_rate per second.
    std::uint64_t exception_tokens = 0;
    std::uint64_t exception_last_ns = 0;

    // What every NTP reply of a burst shares, read once at the burst's first NTP request
    // rather than per packet (seqlock reads, the time conversions, the header template);
    // flush_replies, at the end of every burst, marks it stale.
    struct burst_state {
        bool fresh = false;
        ntp::clock_state clock;
        ntp::reply_header header;                // from clock and the server config
        std::uint64_t software_rx_ts = 0;        // the middle of the burst's arrival window (NTP)
        std::uint64_t software_rx_error_ns = 0;  // half the window
        std::uint32_t software_dispersion = 0;   // the clock's root dispersion plus that
        std::uint64_t mono_ns = 0;               // the burst's TSC for the rate limiter
        // The one's-complement sum of what every plain IPv4 reply's UDP checksum covers and
        // the clock alone decides: header bytes 4-23 but the root dispersion (each reply's
        // own: the clock's plus its stamp's bound), the protocol and the UDP length (twice:
        // pseudo header and UDP header) of a 48-byte reply.
        std::uint64_t plain_v4_udp_sum = 0;
    };
    burst_state burst;

    // What flush_replies needs of a staged reply, and no more (48 bytes: staging it is a few
    // stores). The reply_result of an authenticated reply is rebuilt from reply_length,
    // authenticated and sign_key_id: the fields finalize_transmit reads.
    struct staged {
        rte_mbuf* m;
        // Plain IPv4 replies: the UDP checksum's sum of everything but the transmit
        // timestamp (never 0: the protocol is in it); 0: computed from scratch at flush.
        std::uint64_t partial_udp_sum;
        // The receive timestamp the reply carries (the RX->TX map's key once it has left); 0:
        // not remembered (no map, or not an NTP reply).
        std::uint64_t rx_ts;
        // An interleaved reply's transmit field, already known (a previous reply's true
        // transmit time), wire order; 0: stamped at flush.
        std::uint64_t fixed_tx_be;
        std::uint16_t port;
        std::uint16_t payload_offset;  // NTP payload, from the frame start; 0: not NTP
        std::uint16_t l3_offset;
        std::uint16_t l4_offset;
        std::uint16_t reply_length;
        std::uint16_t sign_key_id;
        bool ipv4;
        bool authenticated;
        std::uint8_t nts_slot;   // index into nts->pending; no_nts for other replies
        std::uint8_t rx_source;  // rx_timestamp_kind of its receive stamp
    };
    static constexpr std::uint8_t no_nts = 0xFF;
    std::array<staged, 64> out{};  // a burst's replies, sent at the end of the burst
    std::uint16_t out_count = 0;
    // The fast lane's replies (serve_ntp_lane): plain IPv4, each lacking only its transmit
    // timestamp (or carrying its interleaved one) and the UDP checksum that follows from it.
    struct lane_reply {
        rte_mbuf* m;
        std::uint8_t* ntp;              // the reply's NTP header in the frame
        std::uint64_t partial_udp_sum;  // everything but the transmit timestamp
        std::uint64_t fixed_tx_be;      // interleaved: its transmit field; 0: stamped at flush
    };
    std::array<lane_reply, 32> lane_out{};
    std::uint16_t lane_count = 0;
    // The receive stamps of the burst's replies that the RX->TX map remembers once they have
    // left, in the order the stamps were given (increasing): the lane's, then the others'.
    std::array<std::uint64_t, 96> remembered{};
    std::uint16_t remembered_count = 0;
    // Staged replies that could not be sent after all (an NTS request failing verification at
    // flush, a MAC that could not be computed): handed back to process_burst, which frees and
    // counts them.
    struct late_drop {
        rte_mbuf* m;
        drop_reason why;
    };
    std::array<late_drop, 64> late{};
    std::uint16_t late_count = 0;
};

struct lcore_conf;
struct rx_queue_conf;

// When a burst's frames arrived (TSC), as poll_queue measured it: after earliest_tsc (0:
// unknown) and before latest_tsc.
struct rx_window {
    std::uint64_t earliest_tsc = 0;
    std::uint64_t latest_tsc = 0;
};

// Offers a received frame to the service, with what the classifier recorded of it (nothing is
// parsed again). reply: the mbuf is staged, turned into its reply (the service owns it until
// flush_replies hands it to TX); kernel: for the exception path's TAP; drop: the caller frees
// it; pass: untouched, it keeps its path. The service never frees or sends a frame here.
verdict serve(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf* m, const frame_record& r,
              rx_window window);

// The fast lane of the NTP server, run on a burst before classification: each frame of
// classify.hpp's plain_ntp_v4 shape to this port's MAC and one of its IPv4 service addresses
// is counted as the classifier would count it and answered (or dropped, counted) without a
// frame record; its verdict (reply or drop, as serve's) is written and its bit (1 << index)
// set in taken, and in replied when the verdict is reply. Every other frame is left
// untouched, uncounted: it takes the general path (classify, rules, serve). n <= 32.
struct lane_result {
    std::uint32_t taken = 0;
    std::uint32_t replied = 0;
};
lane_result serve_ntp_lane(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf* const* pkts,
                           std::uint16_t n, verdict* verdicts, rx_window window);

// What flush_replies did: frames handed to the PMD, and the staged replies that turned into
// drops (in service_lcore::late, valid until the next burst).
struct flush_result {
    std::uint64_t sent = 0;
    const service_lcore::late_drop* dropped = nullptr;
    std::uint16_t dropped_count = 0;
};

// Stamps the transmit time into the staged NTP replies, signs them, finishes their checksums
// and hands them to the lcore's TX buffer of `port` - the burst's RX port, whose service svc is,
// and which every reply of the burst leaves by - and flushes it (the TX path of every frame
// the lcore sends: one tx_dropped).
flush_result flush_replies(lcore_conf& conf, const port_service& svc, std::uint16_t port);

// Worker start / loop / end for the ntp_policy grace periods (as rules_worker_online...):
// register and go online; report a quiescent state where the worker holds no policy (between
// bursts); go offline so a reload never waits on a stopped worker.
void service_worker_online(service_lcore& s);
[[gnu::always_inline]] inline void service_quiescent(service_lcore* s) {
    if (s != nullptr) {
        rte_rcu_qsbr_quiescent(s->shared->qsbr, s->index);
    }
}
void service_worker_offline(service_lcore& s);

// What the kernel sent into an exception path TAP queue: out by the port (rx.peer).
void forward_from_kernel(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf** pkts,
                         std::uint16_t n);

}  // namespace ports::pipelines
