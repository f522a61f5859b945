#include "ports/pipelines/service.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>

#include "ports/common/inet_checksum.hpp"
#include "ports/neighbour/respond.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/pipelines/worker.hpp"

namespace ports::pipelines {

namespace {

using parsers::l3_kind;
using sc = server_counter;

constexpr std::uint16_t ntp_port = 123;
constexpr std::uint8_t reply_ttl = 64;

std::uint64_t mono_ns(const service_lcore& s, std::uint64_t tsc) {
    return static_cast<std::uint64_t>(
        (static_cast<unsigned __int128>(tsc) * s.mono_ns_per_tsc_q32) >> 32);
}

// A reply's root dispersion (NTP short format, 16.16 s): the clock's, plus the bound of the
// reply's receive stamp, rounded up (RFC 5905: what the server adds to the client's
// estimate of its own error).
std::uint32_t root_dispersion_with(const ntp::clock_state& clock, std::uint64_t error_ns) {
    const std::uint64_t extra = (error_ns * 65536 + ns_per_s - 1) / ns_per_s;
    const std::uint64_t total = std::uint64_t{clock.root_dispersion} + extra;
    return total > 0xFFFFFFFFULL ? 0xFFFFFFFFU : static_cast<std::uint32_t>(total);
}

// An arrival window's bound when no poll drained the queue before it: unknown, larger than
// any limit.
constexpr std::uint64_t unknown_error_ns = ~0ULL >> 2;

// Reads what the burst's replies share (see service_lcore::burst_state), once per burst. The
// software receive time is the middle of the burst's arrival window, its bound half the
// window: every frame of the burst arrived within it (poll_queue).
void refresh_burst(service_lcore& s, rx_window window) {
    const service_shared& shared = *s.shared;
    service_lcore::burst_state& b = s.burst;
    b.clock = shared.clock.read();
    b.header = ntp::make_reply_header(b.clock, shared.config.stratum, shared.config.refid, false);
    std::uint64_t middle = window.latest_tsc;
    b.software_rx_error_ns = unknown_error_ns;
    if (window.earliest_tsc != 0 && window.earliest_tsc <= window.latest_tsc) {
        const std::uint64_t half = (window.latest_tsc - window.earliest_tsc + 1) / 2;
        middle = window.latest_tsc - half;
        b.software_rx_error_ns = mono_ns(s, half) + 1;  // rounded up
    }
    const linear_map tsc_map = shared.tsc_map.read();
    if (b.software_rx_error_ns != unknown_error_ns) {
        // The TSC's map to UTC owns up to its own error too (clock.cpp's fit).
        b.software_rx_error_ns += tsc_map.error_ns(middle);
    }
    b.software_rx_ts = ntp_from_unix_ns(tsc_map.to_ns(middle));
    b.software_dispersion = root_dispersion_with(b.clock, b.software_rx_error_ns);
    b.mono_ns = mono_ns(s, window.latest_tsc);
    const std::uint16_t udp_length_be = inet_checksum::host_to_be16(8 + ntp::header_length);
    std::uint64_t sum = std::uint64_t{inet_checksum::host_to_be16(parsers::ipproto_udp)} +
                        udp_length_be + udp_length_be;
    // Without the root dispersion (header bytes 8-11, words 4-7): each reply has its own.
    std::uint8_t words[sizeof(b.header.words)];
    std::memcpy(words, b.header.words, sizeof(words));
    std::memset(words + 4, 0, 4);
    // Folded: plain_v4_partial_sum adds 32-bit words to it without carries.
    b.plain_v4_udp_sum = inet_checksum::fold(inet_checksum::add(sum, words, sizeof(words)));
    if (s.nts != nullptr) {
        // New master keys (rotation, a reloaded key file): copied into this lcore's memory,
        // so a burst works on one ring from start to end.
        const std::uint64_t version = shared.nts_keys->version();
        if (version != s.nts->ring_version) {
            s.nts->ring = shared.nts_keys->read();
            s.nts->ring_version = version;
        }
    }
    b.fresh = true;
}

// The receive time of a frame and its bound: the port's stamp where the PMD set one, else the
// middle of the burst's arrival window (converted once per burst).
[[gnu::always_inline]] inline receive_stamp receive_time(const service_lcore& s,
                                                         const port_service& svc,
                                                         const rte_mbuf* m) {
    if (svc.ts_flag != 0 && (m->ol_flags & svc.ts_flag) != 0) {
        const std::uint64_t stamp = *RTE_MBUF_DYNFIELD(m, svc.ts_offset, const std::uint64_t*);
        if (svc.ts_kind == rx_timestamp_kind::pcap_microseconds) {
            return {ntp_from_unix_ns(stamp * 1000), pcap_stamp_error_ns,
                    rx_timestamp_kind::pcap_microseconds};
        }
        if (svc.ts_kind == rx_timestamp_kind::device_ticks) {
            const linear_map map = svc.device_map.read();
            if (map.valid()) {
                const std::uint64_t trailer =
                    (std::uint64_t{m->pkt_len} + 4) * svc.ns_per_byte_q16 >> 16;
                return {ntp_from_unix_ns(map.to_ns(stamp) + trailer),
                        device_stamp_error_ns + map.error_ns(stamp),
                        rx_timestamp_kind::device_ticks};
            }
        }
    }
    return {s.burst.software_rx_ts, s.burst.software_rx_error_ns, rx_timestamp_kind::software};
}

// The receive timestamp a reply carries, never one the RX->TX map holds for another reply
// (the map's key). The service's stamps increase: a burst's frames share the window's middle,
// so an equal or just passed stamp (within 64 steps of 2^-32 s, 15 ns: far below any bound)
// moves on past the last one. A stamp from further back (a net_pcap replay) keeps its value
// unless the map holds it, and is never remembered (the map takes only newer stamps).
// last: the lcore's last receive stamp sent (service_lcore::last_rx_ts).
[[gnu::always_inline]] inline std::uint64_t unique_receive_time(std::uint64_t& last,
                                                                const ntp::tx_map* tx_times,
                                                                std::uint64_t ts) {
    constexpr std::uint64_t near = 64;
    if (ts <= last) [[unlikely]] {
        if (last - ts < near) {
            ts = last + 1;
        } else if (tx_times != nullptr) {
            for (int i = 0; i < 8 && tx_times->find(ts); ++i) {
                ++ts;
            }
        }
    }
    if (ts > last) {
        last = ts;
    }
    return ts;
}

bool unicast_source_v4(const std::uint8_t* a) {
    return a[0] != 0 && a[0] < 224 && !(a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

bool unicast_source_v6(const std::uint8_t* a) {
    if (a[0] == 0xFF) {
        return false;
    }
    for (int i = 0; i < 16; ++i) {
        if (a[i] != 0) {
            return true;
        }
    }
    return false;
}

// Rewrites Ethernet, IP and UDP headers of a request into those of its reply (addresses and
// ports swapped, lengths for `ntp_length` bytes of NTP); the UDP checksum comes later, once
// the transmit timestamp is in.
// Scalars rather than the layers: inlined with constants (the fast lane's), it folds to the
// stores that shape needs.
[[gnu::always_inline]] inline void turn_around(std::uint8_t* frame, bool v4,
                                               std::uint16_t l3_offset, std::uint16_t l4_offset,
                                               const neighbour::mac_address& mac,
                                               std::uint16_t ntp_length) {
    // Ethernet: back to the requester's MAC, from ours; VLAN tags stay as received.
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, mac.bytes.data(), 6);
    std::uint8_t* ip = frame + l3_offset;
    std::uint8_t* udp = frame + l4_offset;
    const std::uint16_t udp_length = static_cast<std::uint16_t>(8 + ntp_length);
    if (v4) {
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
        const rte_be32_t src = h->src_addr;
        h->src_addr = h->dst_addr;
        h->dst_addr = src;
        h->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(20 + udp_length));
        h->time_to_live = reply_ttl;
        h->fragment_offset = 0;
        h->hdr_checksum = 0;
        h->hdr_checksum = inet_checksum::ipv4_header(ip);
    } else {
        auto* h = reinterpret_cast<rte_ipv6_hdr*>(ip);
        std::uint8_t tmp[16];
        std::memcpy(tmp, h->src_addr, 16);
        std::memcpy(h->src_addr, h->dst_addr, 16);
        std::memcpy(h->dst_addr, tmp, 16);
        h->payload_len = rte_cpu_to_be_16(udp_length);
        h->hop_limits = reply_ttl;
    }
    auto* u = reinterpret_cast<rte_udp_hdr*>(udp);
    const rte_be16_t sport = u->src_port;
    u->src_port = u->dst_port;
    u->dst_port = sport;
    u->dgram_len = rte_cpu_to_be_16(udp_length);
    u->dgram_cksum = 0;
}

// From scratch: the request's own checksum may be unfinished (veth) or 0. The pseudo header's
// addresses sit at the same offsets of both IP headers' ends: source then destination.
void finish_udp_checksum(std::uint8_t* frame, bool ipv4, std::uint16_t l3_offset,
                         std::uint16_t l4_offset, std::uint16_t ntp_length) {
    auto* u = reinterpret_cast<rte_udp_hdr*>(frame + l4_offset);
    u->dgram_cksum = 0;
    const std::uint8_t* addresses = frame + l3_offset + (ipv4 ? 12 : 8);
    u->dgram_cksum = inet_checksum::udp(addresses, ipv4 ? 8 : 32, frame + l4_offset,
                                        static_cast<std::uint16_t>(8 + ntp_length));
}

// What a staged NTP reply adds to the RX->TX map and the per-port counters once it has left:
// its receive timestamp and that stamp's source; for an interleaved reply, its transmit field.
struct stamp_info {
    std::uint64_t rx_ts = 0;
    rx_timestamp_kind source = rx_timestamp_kind::software;
    std::uint64_t fixed_tx_be = 0;
};

[[gnu::always_inline]] inline void stage_at(service_lcore::staged& o, rte_mbuf* m,
                                            std::uint16_t port, bool v4, std::uint16_t l3_offset,
                                            std::uint16_t l4_offset, std::uint16_t payload_offset,
                                            const ntp::reply_result& r,
                                            std::uint64_t partial_udp_sum, std::uint8_t nts_slot,
                                            stamp_info stamp);

// Stages a reply for flush_replies.
[[gnu::always_inline]] inline void stage(service_lcore& s, rte_mbuf* m, std::uint16_t port, bool v4,
                                         std::uint16_t l3_offset, std::uint16_t l4_offset,
                                         std::uint16_t payload_offset, const ntp::reply_result& r,
                                         std::uint64_t partial_udp_sum, std::uint8_t nts_slot,
                                         stamp_info stamp = {}) {
    stage_at(s.out[s.out_count++], m, port, v4, l3_offset, l4_offset, payload_offset, r,
             partial_udp_sum, nts_slot, stamp);
}

[[gnu::always_inline]] inline void stage_at(service_lcore::staged& o, rte_mbuf* m,
                                            std::uint16_t port, bool v4, std::uint16_t l3_offset,
                                            std::uint16_t l4_offset, std::uint16_t payload_offset,
                                            const ntp::reply_result& r,
                                            std::uint64_t partial_udp_sum, std::uint8_t nts_slot,
                                            stamp_info stamp) {
    // Field by field: an aggregate assignment went through a temporary on the stack.
    o.m = m;
    o.partial_udp_sum = partial_udp_sum;
    o.rx_ts = stamp.rx_ts;
    o.fixed_tx_be = stamp.fixed_tx_be;
    o.rx_source = static_cast<std::uint8_t>(stamp.source);
    o.port = port;
    o.payload_offset = payload_offset;
    o.l3_offset = l3_offset;
    o.l4_offset = l4_offset;
    o.reply_length = r.reply_length;
    o.sign_key_id = r.sign_key_id;
    o.ipv4 = v4;
    o.authenticated = r.authenticated;
    o.nts_slot = nts_slot;
}

// The UDP checksum sum of a plain 48-byte IPv4 reply just turned around, but for its transmit
// timestamp (still 0): the burst's constant part plus the words that differ per reply, read
// back from the frame (the one's-complement sum does not care about order).
[[gnu::always_inline]] inline std::uint64_t plain_v4_partial_sum(std::uint64_t burst_sum,
                                                                 const std::uint8_t* frame,
                                                                 std::uint16_t l3_offset,
                                                                 std::uint16_t l4_offset,
                                                                 std::uint16_t payload_offset) {
    // 32-bit words added into 64 bits: no carry can leave the sum (burst_sum is folded to 16
    // bits), and 2^32 = 1 modulo 0xFFFF, so it folds to the same one's-complement sum as
    // inet_checksum::add's.
    const auto word = [](const std::uint8_t* q) {
        std::uint32_t v;
        std::memcpy(&v, q, 4);
        return std::uint64_t{v};
    };
    const std::uint8_t* p = frame + payload_offset;
    return burst_sum + word(p)            // LI/VN/mode, stratum, poll, precision
           + word(p + 8)                  // the reply's own root dispersion
           + word(p + 24) + word(p + 28)  // origin
           + word(p + 32) + word(p + 36)  // receive
           + word(frame + l4_offset)      // the ports (the length is in burst_sum)
           + word(frame + l3_offset + 12) + word(frame + l3_offset + 16);  // the addresses
}

bool kod_allowed(service_lcore& s, std::uint64_t now_ns) {
    if (now_ns - s.kod_window_start_ns >= ns_per_s) {
        s.kod_window_start_ns = now_ns;
        s.kod_in_window = 0;
    }
    if (s.kod_in_window >= s.shared->kod_per_second) {
        return false;
    }
    ++s.kod_in_window;
    return true;
}

// Counts why the server refused a request; the fate's reason for process_burst.
drop_reason count_drop(server_counters& c, ntp::drop_reason r) {
    switch (r) {
        case ntp::drop_reason::mode6:
            c.add(sc::drop_mode6);
            return drop_reason::refused;
        case ntp::drop_reason::mode7:
            c.add(sc::drop_mode7);
            return drop_reason::refused;
        case ntp::drop_reason::other_mode:
            c.add(sc::drop_other_mode);
            return drop_reason::refused;
        case ntp::drop_reason::auth_required:
            c.add(sc::drop_auth_required);
            return drop_reason::refused;
        default:
            c.add(sc::drop_malformed);
            return drop_reason::malformed;
    }
}

verdict serve_neighbour(service_lcore& s, const rx_queue_conf& rx, rte_mbuf* m,
                        const parsers::layers& l) {
    const bool candidate = (l.l3 == l3_kind::none && l.ethertype == parsers::ethertype_arp) ||
                           (l.l3 == l3_kind::ipv4 && l.l4_proto == 1) ||
                           (l.l3 == l3_kind::ipv6 && l.l4_proto == 58);
    if (!candidate) {
        return verdict::pass();
    }
    auto* data = rte_pktmbuf_mtod(m, std::uint8_t*);
    const std::size_t capacity = std::size_t{m->data_len} + rte_pktmbuf_tailroom(m);
    const auto res = neighbour::respond({data, m->data_len}, capacity, l, rx.service->addresses,
                                        rx.service->mac);
    switch (res.what) {
        case neighbour::outcome::not_for_us:
            return verdict::pass();
        case neighbour::outcome::dropped_malformed:
            s.counters->add(sc::neighbour_malformed);
            return verdict::drop(drop_reason::malformed);
        case neighbour::outcome::arp_reply:
            s.counters->add(sc::arp_replies);
            break;
        case neighbour::outcome::nd_advert:
            s.counters->add(sc::nd_adverts);
            break;
        case neighbour::outcome::icmp4_echo_reply:
            s.counters->add(sc::icmp_echo_replies);
            break;
        case neighbour::outcome::icmp6_echo_reply:
            s.counters->add(sc::icmp6_echo_replies);
            break;
    }
    m->data_len = res.length;
    m->pkt_len = res.length;
    stage(s, m, rx.port, l.l3 == l3_kind::ipv4, l.l3_offset, l.l4_offset, 0, {}, 0,
          service_lcore::no_nts);
    return verdict::reply();
}

// An NTS request (RFC 8915 section 5): staged now, prepared at flush with the burst's other
// NTS requests (finish_nts: cookies opened, requests verified, replies laid out, the AES-SIV
// work of up to eight requests interleaved) and sealed with S2C after the transmit timestamp.
// Rate limited NTS requests are dropped: an unauthenticated RATE KoD is ignored by NTS
// clients (RFC 8915 section 5.7), and verifying first would spend the CPU the limit protects.
verdict serve_nts(service_lcore& s, const rx_queue_conf& rx, rte_mbuf* m, const parsers::layers& l,
                  std::uint16_t payload_offset, const parsers::nts_request_view& request,
                  std::uint64_t rx_ts, std::uint32_t root_dispersion, bool limited) {
    server_counters& c = *s.counters;
    c.add(sc::nts_requests);
    if (request.st != parsers::status::ok) {
        c.add(sc::nts_malformed);
        return verdict::drop(drop_reason::malformed);
    }
    if (limited) {
        c.add(sc::nts_rate_limited);
        return verdict::drop(drop_reason::rate_limited);
    }
    nts_lcore& n = *s.nts;
    const auto slot = static_cast<std::uint8_t>(n.waiting_count++);
    nts_lcore::waiting_request& w = n.waiting[slot];
    w.service = rx.service;
    w.l = l;
    w.request = request;
    w.rx_ts = rx_ts;
    w.root_dispersion = root_dispersion;
    w.out_index = s.out_count;
    ntp::reply_result r;
    r.act = ntp::action::reply;
    stage(s, m, rx.port, l.l3 == l3_kind::ipv4, l.l3_offset, l.l4_offset, payload_offset, r, 0,
          slot);
    return verdict::reply();
}

// The burst's NTS requests prepared together; each staged entry then becomes its reply (header
// written, turned around), its NTS NAK, or nothing (m = null: freed and counted here).
void finish_nts(service_lcore& s) {
    nts_lcore& n = *s.nts;
    server_counters& c = *s.counters;
    std::array<nts::request_job, 64> jobs;  // written before read: no zeroing
    for (std::uint16_t i = 0; i < n.waiting_count; ++i) {
        const service_lcore::staged& o = s.out[n.waiting[i].out_index];
        auto* frame = rte_pktmbuf_mtod(o.m, std::uint8_t*);
        const std::span<std::uint8_t> payload(frame + o.payload_offset,
                                              o.m->data_len - std::size_t{o.payload_offset});
        // Bytes writable from the payload on: the reply is never longer than the request, but
        // the layout may use the tailroom as scratch.
        jobs[i] = {payload, payload.size() + rte_pktmbuf_tailroom(o.m), &n.waiting[i].request,
                   &n.pending[i]};
    }
    nts::prepare_replies({jobs.data(), n.waiting_count}, n.ring, n.nonces);
    for (std::uint16_t i = 0; i < n.waiting_count; ++i) {
        const nts_lcore::waiting_request& w = n.waiting[i];
        service_lcore::staged& o = s.out[w.out_index];
        const nts::prepared_reply& p = n.pending[i];
        const std::span<std::uint8_t> payload = jobs[i].payload;
        std::uint16_t length = 0;
        switch (p.what) {
            case nts::verdict::reply:
                ntp::write_reply_header(payload.data(), s.burst.header, 4, w.rx_ts);
                ntp::reply_detail::store_be32(payload.data() + 8, w.root_dispersion);
                c.add(sc::nts_cookies_issued, p.cookies);
                length = p.reply_length;
                break;
            case nts::verdict::nak: {
                // NTS NAK: a kiss-o'-death with code NTSN and the Unique Identifier,
                // unauthenticated (the client cannot have keys we could use).
                ntp::reply_header h = s.burst.header;
                const ntp::reply_header kod = ntp::make_reply_header(s.burst.clock, 0, 0, true);
                h.li_mode = kod.li_mode;
                h.stratum = 0;
                ntp::reply_detail::store_be32(h.words + 8, nts::kiss_ntsn);
                length = nts::build_nak(payload, w.request);
                if (length != 0) {
                    ntp::write_reply_header(payload.data(), h, 4, w.rx_ts);
                    c.add(sc::nts_naks);
                    o.nts_slot = service_lcore::no_nts;  // nothing to seal
                }
                break;
            }
            case nts::verdict::auth_failed:
                c.add(sc::nts_auth_failed);
                break;
            case nts::verdict::malformed:
                break;
        }
        if (length == 0) {
            // Malformed, failed, or a NAK without a Unique Identifier to echo (nothing a client
            // could match).
            const bool failed = p.what == nts::verdict::auth_failed;
            if (!failed) {
                c.add(sc::nts_malformed);
            }
            s.late[s.late_count++] = {o.m,
                                      failed ? drop_reason::auth_failed : drop_reason::malformed};
            o.m = nullptr;
            continue;
        }
        auto* frame = rte_pktmbuf_mtod(o.m, std::uint8_t*);
        turn_around(frame, w.l.l3 == l3_kind::ipv4, w.l.l3_offset, w.l.l4_offset, w.service->mac,
                    length);
        const auto frame_length = static_cast<std::uint16_t>(o.payload_offset + length);
        o.m->data_len = frame_length;
        o.m->pkt_len = frame_length;
        o.reply_length = length;
    }
}

// The exception path: a frame sent to this port's MAC for one of its service addresses (or
// for the kernel's IPv6 link-local address on the TAP, or an ARP the fast path did not
// answer: the replies to the kernel's own requests) that the fast path did not take goes to
// the kernel, within the lcore's token bucket.
verdict to_kernel(service_lcore& s, const rx_queue_conf& rx, const std::uint8_t* frame,
                  const frame_record& l, std::uint64_t burst_tsc) {
    const port_service& svc = *rx.service;
    if (std::memcmp(frame, svc.mac.bytes.data(), 6) != 0) {
        return verdict::pass();
    }
    bool ours = false;
    const std::uint8_t* ip = frame + l.l3_offset;
    if (l.l3 == l3_kind::ipv4) {
        ours = svc.addresses.contains_v4(std::span<const std::uint8_t, 4>(ip + 16, 4));
    } else if (l.l3 == l3_kind::ipv6) {
        const std::uint8_t* dst = ip + 24;
        ours = svc.addresses.contains_v6(std::span<const std::uint8_t, 16>(dst, 16)) ||
               (dst[0] == 0xFE && (dst[1] & 0xC0) == 0x80);
    } else {
        ours = l.ethertype == parsers::ethertype_arp;
    }
    if (!ours) {
        return verdict::pass();
    }
    // Token bucket in units of 1e-9 token: a flood to the address costs the workers a compare
    // and a free per frame, never the kernel's time.
    const service_shared& shared = *s.shared;
    const std::uint64_t now = mono_ns(s, burst_tsc);
    const std::uint64_t full = std::uint64_t{shared.exception_burst} * ns_per_s;
    const std::uint64_t elapsed = std::min<std::uint64_t>(now - s.exception_last_ns, 10 * ns_per_s);
    s.exception_last_ns = now;
    s.exception_tokens = std::min(full, s.exception_tokens + elapsed * shared.exception_rate);
    if (s.exception_tokens < ns_per_s) {
        s.counters->add(sc::exception_rate_dropped);
        return verdict::drop(drop_reason::exception_rate);
    }
    s.exception_tokens -= ns_per_s;
    s.counters->add(sc::exception_to_kernel);
    return verdict::kernel();
}

// The steps of answering an NTP request to one of the port's service addresses, each doing one
// thing, shared by the general path (serve_ntp: any request the classifier recorded) and the
// fast lane (serve_plain_ntp_v4: the plain IPv4 client request, recognised before
// classification). Each returns pass to go on, or the verdict that ends the request.

// Counts the request and refuses it when a reply could not echo its IP header (IPv4 options,
// IPv6 extension headers: plain_ip false), when its source is no unicast address, or when the
// access list denies it; an admitted request's version is counted.
// A source no reply may go to (not unicast) or the access list denies: admit's refusal, and the
// NTP lane's.
[[gnu::always_inline]] inline bool source_refused(const ntp_policy& policy, const std::uint8_t* src,
                                                  bool v4) {
    if (!(v4 ? unicast_source_v4(src) : unicast_source_v6(src))) {
        return true;
    }
    return policy.has_access &&
           !policy.access.allowed(v4 ? ntp::address::from_ipv4(src) : ntp::address::from_ipv6(src));
}

// Whether a receive stamp's bound exceeds ntp.max_timestamp_error (0: no limit).
[[gnu::always_inline]] inline bool beyond_limit(std::uint64_t error_ns, std::uint64_t limit_ns) {
    return limit_ns != 0 && error_ns > limit_ns;
}

[[gnu::always_inline]] inline verdict admit(service_lcore& s, const std::uint8_t* src, bool v4,
                                            bool plain_ip, std::uint8_t version) {
    server_counters& c = *s.counters;
    c.add(sc::requests);
    if (!plain_ip) {
        c.add(sc::drop_unsupported_ip);
        return verdict::drop(drop_reason::refused);
    }
    if (s.policy == nullptr) {
        // Acquire: pairs with the control side's release store of a whole generation.
        s.policy = s.shared->policy.load(std::memory_order_acquire);
    }
    if (source_refused(*s.policy, src, v4)) {
        c.add(sc::drop_access);
        return verdict::drop(drop_reason::access);
    }
    if (version >= 1 && version <= 4) {
        c.add(static_cast<sc>(static_cast<std::uint16_t>(sc::version_1) + version - 1));
    }
    return verdict::pass();
}

// A request's receive time (unique: the RX->TX map's key), the root dispersion its reply
// carries (the clock's plus the stamp's bound), and where the stamp came from.
struct request_stamp {
    verdict v;  // drop: the bound exceeds ntp.max_timestamp_error
    std::uint64_t rx_ts = 0;
    std::uint32_t dispersion = 0;
    rx_timestamp_kind source = rx_timestamp_kind::software;
};

[[gnu::always_inline]] inline request_stamp stamp_request(service_lcore& s, const rx_queue_conf& rx,
                                                          const rte_mbuf* m, rx_window window) {
    if (!s.burst.fresh) {
        refresh_burst(s, window);
    }
    const receive_stamp stamp = receive_time(s, *rx.service, m);
    if (beyond_limit(stamp.error_ns, s.shared->max_timestamp_error_ns)) {
        // The request may have waited (a descheduled worker, a backlog in the RX ring) for
        // longer than the limit: no answer beats a wrong one (the client asks again, or
        // another server).
        s.counters->add(sc::drop_timestamp_error);
        ++s.per_port[rx.port].timestamp_error_drops;
        return {verdict::drop(drop_reason::timestamp_error)};
    }
    // The software stamps of a burst share one bound, computed once per burst.
    return {verdict::pass(), unique_receive_time(s.last_rx_ts, s.tx_times, stamp.ts),
            stamp.source == rx_timestamp_kind::software
                ? s.burst.software_dispersion
                : root_dispersion_with(s.burst.clock, stamp.error_ns),
            stamp.source};
}

// Whether the source is over its rate (counted); false without a rate limiter.
[[gnu::always_inline]] inline bool over_rate(service_lcore& s, const std::uint8_t* src, bool v4) {
    if (s.limiter != nullptr &&
        s.limiter->check(v4 ? ntp::address::from_ipv4(src) : ntp::address::from_ipv6(src),
                         s.burst.mono_ns) == ntp::decision::limit) {
        s.counters->add(sc::rate_limited);
        return true;
    }
    return false;
}

// The interleaved half of answer_plain, out of line: the transmit time (wire order) of the
// earlier reply whose receive timestamp the request's origin names, or 0 (basic mode).
[[gnu::noinline]] std::uint64_t interleaved_transmit(const ntp::tx_map& tx_times,
                                                     server_counters& c, std::uint64_t origin_be,
                                                     std::uint64_t receive_be,
                                                     std::uint64_t transmit_be) {
    if (origin_be == transmit_be || receive_be == transmit_be) {
        return 0;
    }
    if (const auto tx = tx_times.find(rte_be_to_cpu_64(origin_be))) {
        return rte_cpu_to_be_64(*tx);
    }
    c.add(sc::interleaved_misses);  // answered in basic mode
    return 0;
}

// A plain 48-byte client request (ntp::is_plain_client_request) answered in place: the burst's
// header template, the reply's own dispersion and, for an interleaved request (RFC 9769)
// whose origin is the receive timestamp of one of our earlier replies the map still holds,
// that reply's true transmit time (a basic client's origin is 0 or our last transmit stamp,
// never a receive stamp, and its receive and transmit fields differ). Returns that transmit
// field in wire order, or 0: stamped at flush.
[[gnu::always_inline]] inline std::uint64_t answer_plain(const ntp::tx_map* tx_times,
                                                         server_counters& c,
                                                         const ntp::reply_header& header,
                                                         std::uint8_t* payload, std::uint64_t rx_ts,
                                                         std::uint32_t dispersion) {
    std::uint64_t origin_be;
    std::uint64_t receive_be;
    std::uint64_t transmit_be;
    std::memcpy(&origin_be, payload + 24, 8);
    std::memcpy(&receive_be, payload + 32, 8);
    std::memcpy(&transmit_be, payload + 40, 8);
    // A first request (and many a basic client's) has no origin: one test.
    const std::uint64_t fixed_tx_be =
        origin_be != 0 && tx_times != nullptr
            ? interleaved_transmit(*tx_times, c, origin_be, receive_be, transmit_be)
            : 0;
    ntp::build_plain_reply({payload, ntp::header_length}, header, rx_ts);
    ntp::reply_detail::store_be32(payload + 8, dispersion);
    if (fixed_tx_be != 0) {
        // Origin: the client's receive field; transmit: the previous reply's true time.
        std::memcpy(payload + 24, &receive_be, 8);
        std::memcpy(payload + 40, &fixed_tx_be, 8);
        c.add(sc::interleaved_replies);
    }
    return fixed_tx_be;
}

// A reply built in the request's payload (r), turned around and staged for flush_replies.
[[gnu::always_inline]] inline verdict send_reply(service_lcore& s, const rx_queue_conf& rx,
                                                 rte_mbuf* m, std::uint8_t* frame, bool v4,
                                                 std::uint16_t l3_offset, std::uint16_t l4_offset,
                                                 std::uint16_t payload_offset,
                                                 const ntp::reply_result& r,
                                                 std::uint64_t partial_udp_sum, stamp_info stamp) {
    turn_around(frame, v4, l3_offset, l4_offset, rx.service->mac, r.reply_length);
    const std::uint16_t frame_length = static_cast<std::uint16_t>(payload_offset + r.reply_length);
    m->data_len = frame_length;
    m->pkt_len = frame_length;
    stage(s, m, rx.port, v4, l3_offset, l4_offset, payload_offset, r, partial_udp_sum,
          service_lcore::no_nts, stamp);
    return verdict::reply();
}

// Any request but the plain one (signed, rate limited, other modes): ntp::build_reply's or the
// RATE kiss-o'-death's answer, or its drop. Out of line: the general parse lives here.
[[gnu::noinline]] verdict answer_general(service_lcore& s, const rx_queue_conf& rx, rte_mbuf* m,
                                         std::uint8_t* frame, const parsers::layers& l,
                                         std::uint16_t payload_offset,
                                         std::span<std::uint8_t> payload, bool limited,
                                         const request_stamp& st) {
    server_counters& c = *s.counters;
    const service_shared& shared = *s.shared;
    const parsers::ntp_view request = parsers::parse_ntp(payload);
    ntp::reply_result r;
    if (limited) {
        if (!shared.kod || !kod_allowed(s, s.burst.mono_ns)) {
            return verdict::drop(drop_reason::rate_limited);
        }
        r = ntp::build_kod_rate(payload, request, s.burst.clock, st.rx_ts);
        if (r.act == ntp::action::reply) {
            c.add(sc::kod_sent);
        }
    } else {
        const ntp_policy& policy = *s.policy;
        r = ntp::build_reply(payload, request, s.burst.clock, st.rx_ts, shared.config,
                             {policy.keys_or_null(), policy.macs[s.index].get()});
    }
    if (r.act == ntp::action::drop) {
        return verdict::drop(count_drop(c, r.reason));
    }
    if (r.authenticated) {
        c.add(sc::auth_ok);
    }
    if (r.crypto_nak) {
        c.add(sc::auth_fail);
        c.add(sc::crypto_nak);
    }
    if (!r.kod) {
        // Signed at flush, after this: the MAC covers the reply's own dispersion.
        ntp::reply_detail::store_be32(payload.data() + 8, st.dispersion);
    }
    return send_reply(s, rx, m, frame, l.l3 == l3_kind::ipv4, l.l3_offset, l.l4_offset,
                      payload_offset, r, 0,
                      {r.kod || s.tx_times == nullptr ? 0 : st.rx_ts, st.source, 0});
}

// An NTP request the classifier recorded, to one of the port's service addresses: answered,
// dropped (counted) or, when it is no NTP request to us, pass.
verdict serve_ntp(service_lcore& s, const rx_queue_conf& rx, rte_mbuf* m, std::uint8_t* frame,
                  const frame_record& rec, rx_window window) {
    // The classifier read the UDP header: whole, with a length that fits, to port 123.
    if (rec.l4_proto != parsers::ipproto_udp || !rec.whole() || !rec.has_l7 || !rec.l4_ok ||
        rec.dst_port != ntp_port) {
        return verdict::pass();
    }
    if (std::memcmp(frame, rx.service->mac.bytes.data(), 6) != 0) {
        // Not sent to this port's MAC (a mirror port sees other hosts' traffic, a broadcast is
        // nobody's request): not ours to answer.
        return verdict::pass();
    }
    const parsers::layers l = rec.layers();
    const std::uint8_t* ip = frame + l.l3_offset;
    const bool v4 = l.l3 == l3_kind::ipv4;
    const bool ours =
        v4 ? rx.service->addresses.contains_v4(std::span<const std::uint8_t, 4>(ip + 16, 4))
           : rx.service->addresses.contains_v6(std::span<const std::uint8_t, 16>(ip + 24, 16));
    if (!ours) {
        return verdict::pass();  // NTP to someone else: transit traffic
    }
    const std::uint16_t payload_offset = rec.l7.offset;
    const std::span<std::uint8_t> payload(frame + payload_offset, rec.l7.length);
    // parse_ntp's version: bits 3-5 of the first octet (none for an empty payload).
    const std::uint8_t version =
        payload.empty() ? 0 : static_cast<std::uint8_t>((payload[0] >> 3) & 0x07);
    const std::uint8_t* src = v4 ? ip + 12 : ip + 8;
    const bool plain_ip = v4 ? l.l4_offset == l.l3_offset + 20 : l.l4_offset == l.l3_offset + 40;
    if (const verdict v = admit(s, src, v4, plain_ip, version); !v.passes()) {
        return v;
    }
    const request_stamp st = stamp_request(s, rx, m, window);
    if (!st.v.passes()) {
        return st.v;
    }
    const bool limited = over_rate(s, src, v4);
    if (s.nts != nullptr && version == 4 && payload.size() > ntp::header_length &&
        (payload[0] & 0x07) == static_cast<std::uint8_t>(parsers::ntp_mode::client)) {
        const parsers::nts_request_view nts_request = parsers::parse_nts_request(payload);
        if (nts_request.is_nts) {
            return serve_nts(s, rx, m, l, payload_offset, nts_request, st.rx_ts, st.dispersion,
                             limited);
        }
    }
    if (!limited && !s.shared->config.require_auth && ntp::is_plain_client_request(payload)) {
        // The common request: build_reply's answer without the general parse (see reply.hpp).
        const std::uint64_t fixed_tx_be = answer_plain(s.tx_times, *s.counters, s.burst.header,
                                                       payload.data(), st.rx_ts, st.dispersion);
        ntp::reply_result r;
        r.act = ntp::action::reply;
        r.reply_length = ntp::header_length;
        return send_reply(s, rx, m, frame, v4, l.l3_offset, l.l4_offset, payload_offset, r,
                          v4 ? plain_v4_partial_sum(s.burst.plain_v4_udp_sum, frame, l.l3_offset,
                                                    l.l4_offset, payload_offset)
                             : 0,
                          {s.tx_times != nullptr ? st.rx_ts : 0, st.source, fixed_tx_be});
    }
    return answer_general(s, rx, m, frame, l, payload_offset, payload, limited, st);
}

// The layers of every frame the fast lane takes (classify.hpp's plain_ntp_v4 shape).
constexpr parsers::layers plain_v4_layers() {
    parsers::layers l;
    l.ethertype = parsers::ethertype_ipv4;
    l.l3 = l3_kind::ipv4;
    l.l4_proto = parsers::ipproto_udp;
    l.l3_offset = plain_ntp_v4::payload_offset - 8 - 20;
    l.l4_offset = plain_ntp_v4::payload_offset - 8;
    l.l4_length = 8 + ntp::header_length;
    return l;
}

// Whether a frame of the plain_ntp_v4 shape is for this port's service: one segment, to its
// MAC and one of its IPv4 addresses. mac_lo/mac_hi: the MAC's first four and last two bytes.
[[gnu::always_inline]] inline bool plain_v4_ours(const port_service& svc, const rte_mbuf* m,
                                                 const std::uint8_t* frame, std::uint32_t mac_lo,
                                                 std::uint16_t mac_hi) {
    std::uint32_t lo;
    std::uint16_t hi;
    std::memcpy(&lo, frame, 4);
    std::memcpy(&hi, frame + 4, 2);
    return m->nb_segs == 1 && lo == mac_lo && hi == mac_hi &&
           svc.addresses.contains_v4(std::span<const std::uint8_t, 4>(frame + 30, 4));
}

}  // namespace

// The steps are serve_ntp's (admit, stamp_request, over_rate, answer_plain, send_reply), with
// what a burst shares read once before its requests: the frames are found first (a burst
// without one costs only the scan), then answered.
lane_result serve_ntp_lane(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf* const* pkts,
                           std::uint16_t n, verdict* verdicts, rx_window window) {
    service_lcore& s = *conf.service;
    const port_service& svc = *rx.service;
    std::uint32_t mac_lo;
    std::uint16_t mac_hi;
    std::memcpy(&mac_lo, svc.mac.bytes.data(), 4);
    std::memcpy(&mac_hi, svc.mac.bytes.data() + 4, 2);
    // Whether frame i is a request for the lane, its first cache line prefetched 3 ahead
    // (process_burst did 0..2).
    const auto lane_request = [&](std::uint16_t i) {
        if (i + 3 < n) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 3], void*));
        }
        const rte_mbuf* m = pkts[i];
        const auto* frame = rte_pktmbuf_mtod(m, const std::uint8_t*);
        return plain_ntp_v4::matches(frame, m->data_len) &&
               plain_v4_ours(svc, m, frame, mac_lo, mac_hi);
    };
    // Up to the first request: a burst without one costs only this scan.
    std::uint16_t first = 0;
    while (first < n && !lane_request(first)) {
        ++first;
    }
    if (first == n) {
        return {};
    }
    constexpr std::uint16_t l3_offset = plain_v4_layers().l3_offset;
    constexpr std::uint16_t l4_offset = plain_v4_layers().l4_offset;
    constexpr std::uint16_t payload_offset = plain_ntp_v4::payload_offset;
    static_assert(std::tuple_size_v<decltype(s.out)> >= burst_size, "a burst's replies fit");
    if (!s.burst.fresh) {
        refresh_burst(s, window);
    }
    if (s.policy == nullptr) {
        // Acquire: pairs with the control side's release store of a whole generation.
        s.policy = s.shared->policy.load(std::memory_order_acquire);
    }
    // What the burst's requests share, read once into locals: the loop writes the frames
    // through byte pointers, after which the compiler would have to read every field of s
    // again. The steps are serve_ntp's; their state goes back to s after the loop.
    core_counters& counters = *conf.counters;
    server_counters& c = *s.counters;
    const ntp_policy* const policy = s.policy;
    ntp::rate_limiter* const limiter = s.limiter;
    ntp::tx_map* const tx_times = s.tx_times;
    // Rate limiting and require_auth send requests to the general path's answers: one test.
    const bool checked = limiter != nullptr || s.shared->config.require_auth;
    const std::uint64_t max_error = s.shared->max_timestamp_error_ns;
    const std::uint64_t ts_flag = svc.ts_flag;
    const neighbour::mac_address mac = svc.mac;
    const ntp::reply_header header = s.burst.header;
    const std::uint64_t burst_sum = s.burst.plain_v4_udp_sum;
    const receive_stamp software{s.burst.software_rx_ts, s.burst.software_rx_error_ns,
                                 rx_timestamp_kind::software};
    const bool software_refused = beyond_limit(software.error_ns, max_error);
    const std::uint32_t software_dispersion = s.burst.software_dispersion;
    const std::uint64_t mono_ns = s.burst.mono_ns;
    std::uint64_t last_rx_ts = s.last_rx_ts;
    service_lcore::staged* out = s.out.data() + s.out_count;
    service_lcore::lane_reply* lane_out = s.lane_out.data();
    std::uint64_t* remembered = s.remembered.data();
    std::array<std::uint64_t, rx_timestamp_kind_count> by_source{};
    std::uint32_t found = 0;
    std::uint32_t replied = 0;
    std::uint64_t bytes = 0;
    std::uint64_t sntp = 0;
    for (std::uint16_t i = first; i < n; ++i) {
        if (i != first && !lane_request(i)) {
            continue;
        }
        const std::uint32_t bit = 1u << i;
        found |= bit;
        rte_mbuf* m = pkts[i];
        auto* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
        std::uint8_t* payload = frame + payload_offset;
        // The frame never reaches the classifier: its counts, as classify_and_count makes
        // them, and the server's request count, are added once for the burst below.
        bytes += m->pkt_len;
        sntp += plain_ntp_v4::sntp(frame) ? 1 : 0;
        const std::uint8_t* src = frame + 26;
        // admit
        if (source_refused(*policy, src, true)) [[unlikely]] {
            c.add(sc::drop_access);
            verdicts[i] = verdict::drop(drop_reason::access);
            continue;
        }
        c.add(static_cast<sc>(static_cast<std::uint16_t>(sc::version_1) + ((payload[0] >> 3) & 7) -
                              1));
        // stamp_request
        receive_stamp stamp = software;
        std::uint32_t dispersion = software_dispersion;
        bool refused = software_refused;
        if ((m->ol_flags & ts_flag) != 0) [[unlikely]] {
            stamp = receive_time(s, svc, m);
            dispersion = root_dispersion_with(s.burst.clock, stamp.error_ns);
            refused = beyond_limit(stamp.error_ns, max_error);
        }
        if (refused) [[unlikely]] {
            c.add(sc::drop_timestamp_error);
            ++s.per_port[rx.port].timestamp_error_drops;
            verdicts[i] = verdict::drop(drop_reason::timestamp_error);
            continue;
        }
        const std::uint64_t rx_ts = unique_receive_time(last_rx_ts, tx_times, stamp.ts);
        if (checked) [[unlikely]] {
            // over_rate, and the general path's answer when it is over or must be signed
            const bool limited =
                limiter != nullptr &&
                limiter->check(ntp::address::from_ipv4(src), mono_ns) == ntp::decision::limit;
            if (limited) {
                c.add(sc::rate_limited);
            }
            if (limited || s.shared->config.require_auth) {
                s.last_rx_ts = last_rx_ts;
                s.out_count = static_cast<std::uint16_t>(out - s.out.data());
                verdicts[i] = answer_general(s, rx, m, frame, plain_v4_layers(), payload_offset,
                                             {payload, ntp::header_length}, limited,
                                             {verdict::pass(), rx_ts, dispersion, stamp.source});
                out = s.out.data() + s.out_count;
                if (verdicts[i].what == verdict::kind::reply) {
                    replied |= bit;
                }
                continue;
            }
        }
        const std::uint64_t fixed_tx_be =
            answer_plain(tx_times, c, header, payload, rx_ts, dispersion);
        turn_around(frame, true, l3_offset, l4_offset, mac, ntp::header_length);
        m->data_len = payload_offset + ntp::header_length;
        m->pkt_len = payload_offset + ntp::header_length;
        // For flush_replies' lane loop: the transmit timestamp and the checksum are all it lacks.
        *lane_out++ = {m, payload,
                       plain_v4_partial_sum(burst_sum, frame, l3_offset, l4_offset, payload_offset),
                       fixed_tx_be};
        if (tx_times != nullptr) {
            *remembered++ = rx_ts;
        }
        ++by_source[static_cast<std::size_t>(stamp.source)];
        // verdicts[i] stays unwritten: process_burst takes the lane's replies from `replied`.
        replied |= bit;
    }
    s.last_rx_ts = last_rx_ts;
    s.out_count = static_cast<std::uint16_t>(out - s.out.data());
    s.lane_count = static_cast<std::uint16_t>(lane_out - s.lane_out.data());
    s.remembered_count = static_cast<std::uint16_t>(remembered - s.remembered.data());
    // Replies by stamp source: a lane reply always leaves (flush_replies drops none of them).
    for (std::size_t k = 0; k < by_source.size(); ++k) {
        s.per_port[rx.port].stamped[k] += by_source[k];
    }
    const auto requests = static_cast<std::uint64_t>(__builtin_popcount(found));
    plain_ntp_v4::count(counters, requests, bytes, sntp);
    c.add(sc::requests, requests);
    return {found, replied};
}

verdict serve(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf* m, const frame_record& r,
              rx_window window) {
    const port_service& svc = *rx.service;
    const bool answerable = r.cls == traffic_class::ntp || r.cls == traffic_class::other;
    if (!answerable && svc.tap == no_peer) {
        return verdict::pass();  // no other class is ever answered, nor sent to a kernel
    }
    service_lcore& s = *conf.service;
    // Inside PPPoE or IP-in-IP the frame is someone's tunnel, not a request to this port: a
    // reply would need the encapsulation rebuilt around it.
    if (s.out_count == s.out.size() || m->nb_segs != 1 || !r.has_layers ||
        r.layer_status != parsers::status::ok || r.pppoe || r.ip_in_ip != 0) {
        return verdict::pass();
    }
    auto* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
    if (r.cls == traffic_class::other) {
        if (const verdict v = serve_neighbour(s, rx, m, r.layers()); !v.passes()) {
            return v;
        }
    }
    if (r.cls == traffic_class::ntp) {
        if (const verdict v = serve_ntp(s, rx, m, frame, r, window); !v.passes()) {
            return v;
        }
    }
    return svc.tap != no_peer ? to_kernel(s, rx, frame, r, window.latest_tsc) : verdict::pass();
}

static_assert(RTE_MAX_ETHPORTS <= 64, "flush_replies marks ports in one 64-bit word");

flush_result flush_replies(lcore_conf& conf, const port_service& svc, std::uint16_t port) {
    service_lcore& s = *conf.service;
    s.burst.fresh = false;  // the next burst reads the clock and its TSC anew
    s.late_count = 0;
    const ntp_policy* const policy = s.policy;
    s.policy = nullptr;  // held for this burst only: the loop's quiescent point comes next
    flush_result result;
    result.dropped = s.late.data();
    if (s.out_count == 0 && s.lane_count == 0) {
        return result;
    }
    if (s.nts != nullptr && s.nts->waiting_count != 0) {
        finish_nts(s);
    }
    // As late as this core can: after every reply of the burst is built, right before TX.
    const std::uint64_t tx_ts = ntp_from_unix_ns(s.shared->tsc_map.read().to_ns(rte_rdtsc()));
    const rte_be64_t tx_be = rte_cpu_to_be_64(tx_ts);
    std::uint64_t nts_replies = 0;
    if (s.nts != nullptr && s.nts->waiting_count != 0) {
        // The NTS replies first: their transmit stamps in, then all sealed together.
        std::array<nts::seal_job, 64> seals;
        std::uint16_t count = 0;
        for (std::uint16_t i = 0; i < s.out_count; ++i) {
            const auto& o = s.out[i];
            if (o.m != nullptr && o.nts_slot != service_lcore::no_nts) {
                auto* frame = rte_pktmbuf_mtod(o.m, std::uint8_t*);
                const std::span<std::uint8_t> payload(frame + o.payload_offset, o.reply_length);
                std::memcpy(payload.data() + 40, &tx_be, 8);
                seals[count++] = {payload, &s.nts->pending[o.nts_slot]};
            }
        }
        nts::seal_replies({seals.data(), count}, s.nts->nonces);
        nts_replies = count;
    }
    std::uint64_t replies = 0;  // counted once per burst: the same sum, one counter write
    std::array<std::uint64_t, rx_timestamp_kind_count> by_source{};  // of those replies
    // After the lane's stamps (serve_ntp_lane put them there), in staging order.
    std::uint64_t* const remembered = s.remembered.data();
    std::size_t remembered_count = s.remembered_count;
    std::uint64_t sent = 0;
    // Locals throughout: the loops write frames through byte pointers, after which the
    // compiler would read s's fields again.
    const std::uint16_t lane_count = s.lane_count;
    const std::uint16_t count = s.out_count;
    service_lcore::staged* const out = s.out.data();
    const std::uint16_t tx_queue = conf.tx_queue[port];
    rte_eth_dev_tx_buffer* const tx_buffer = conf.tx_buffer[port];
    service_lcore::late_drop* const late = s.late.data();
    std::uint16_t late_count = s.late_count;
    std::array<rte_mbuf*, std::tuple_size_v<decltype(s.out)> + 32> leaving;  // in staging order
    std::uint16_t leaving_count = 0;
    // The lane's replies: the transmit timestamp, or the interleaved one already in, is all
    // their UDP checksum lacked.
    const service_lcore::lane_reply* const lane = s.lane_out.data();
    for (std::uint16_t i = 0; i < lane_count; ++i) {
        const service_lcore::lane_reply& o = lane[i];
        std::uint64_t tx_field = o.fixed_tx_be;
        if (tx_field == 0) {
            tx_field = tx_be;
            std::memcpy(o.ntp + 40, &tx_field, 8);
        }
        const auto c = static_cast<std::uint16_t>(
            ~inet_checksum::fold(inet_checksum::add_carry(o.partial_udp_sum, tx_field)));
        const std::uint16_t field = c == 0 ? 0xFFFF : c;
        std::memcpy(o.ntp - 2, &field, 2);  // the UDP header's last field
        leaving[leaving_count++] = o.m;
    }
    replies += lane_count;
    for (std::uint16_t i = 0; i < count; ++i) {
        service_lcore::staged& o = out[i];
        if (o.partial_udp_sum != 0) [[likely]] {
            // A plain IPv4 NTP reply (never signed, never NTS): the transmit timestamp, or the
            // interleaved one already in, is all its UDP checksum lacked.
            auto* frame = rte_pktmbuf_mtod(o.m, std::uint8_t*);
            std::uint64_t tx_field = o.fixed_tx_be;
            if (tx_field == 0) {
                tx_field = tx_be;
                std::memcpy(frame + o.payload_offset + 40, &tx_field, 8);
            }
            const auto c = static_cast<std::uint16_t>(
                ~inet_checksum::fold(inet_checksum::add_carry(o.partial_udp_sum, tx_field)));
            const std::uint16_t field = c == 0 ? 0xFFFF : c;
            std::memcpy(frame + o.l4_offset + 6, &field, 2);
            ++replies;
            ++by_source[o.rx_source];
            if (o.rx_ts != 0) {
                remembered[remembered_count++] = o.rx_ts;
            }
        } else if (o.m == nullptr) {
            continue;  // an NTS request that got no answer (finish_nts): in s.late
        } else if (o.payload_offset != 0) {
            auto* frame = rte_pktmbuf_mtod(o.m, std::uint8_t*);
            const std::span<std::uint8_t> payload(frame + o.payload_offset, o.reply_length);
            if (o.nts_slot != service_lcore::no_nts) {
                // Stamped and sealed above.
            } else if (o.fixed_tx_be != 0) {
                // Interleaved: its transmit field is a previous reply's, already in.
            } else if (!o.authenticated) {
                // finalize_transmit's whole work for a staged unsigned reply (its checks hold
                // by construction: a reply of reply_length >= 48 bytes).
                std::memcpy(payload.data() + 40, &tx_be, 8);
            } else {
                ntp::reply_result r;
                r.act = ntp::action::reply;
                r.reply_length = o.reply_length;
                r.authenticated = true;
                r.sign_key_id = o.sign_key_id;
                // The burst's policy: an authenticated reply was built under it (serve_ntp).
                if (!ntp::finalize_transmit(
                        payload, r, tx_ts, {policy->keys_or_null(), policy->macs[s.index].get()})) {
                    s.counters->add(sc::drop_sign_failed);
                    late[late_count++] = {o.m, drop_reason::auth_failed};
                    continue;
                }
            }
            finish_udp_checksum(frame, o.ipv4, o.l3_offset, o.l4_offset, o.reply_length);
            ++replies;
            ++by_source[o.rx_source];
            if (o.rx_ts != 0) {
                remembered[remembered_count++] = o.rx_ts;
            }
        }
        leaving[leaving_count++] = o.m;
    }
    s.late_count = late_count;
    // By the lcore's TX buffer of the port (the path forwarded frames take too), and out now,
    // not at the drain timer: the transmit stamps are already in.
    const std::uint64_t handoff_start = rte_rdtsc();  // the replies go to the PMD from here
    sent += tx_buffer_bulk(port, tx_queue, tx_buffer, leaving.data(), leaving_count);
    sent += rte_eth_tx_buffer_flush(port, tx_queue, tx_buffer);
    if (s.tx_times != nullptr && remembered_count != 0) {
        // Every reply of the burst is with the PMD now. When they really left, as near as
        // this core can tell, for the interleaved requests that will name them: the end of
        // the hand-off for a NIC; for a PMD that sends inside the call, its middle, and only
        // when half the call is within ntp.max_timestamp_error (port_service::tx_in_call):
        // an interleaved transmit time is held to the bound a receive stamp is.
        const std::uint64_t handoff_end = rte_rdtsc();
        const auto tsc_map = s.shared->tsc_map.read();
        std::uint64_t left_ns = tsc_map.to_ns(handoff_end);
        bool bounded = true;
        if (svc.tx_in_call) {
            const std::uint64_t start_ns = tsc_map.to_ns(handoff_start);
            const std::uint64_t half = (left_ns - start_ns) / 2;
            left_ns = start_ns + half;
            const std::uint64_t max_error = s.shared->max_timestamp_error_ns;
            bounded = max_error == 0 || half <= max_error;
        }
        if (bounded) {
            s.tx_times->insert_all({remembered, remembered_count}, ntp_from_unix_ns(left_ns));
        }
    }
    s.counters->add(sc::replies, replies);
    for (std::size_t k = 0; k < by_source.size(); ++k) {
        s.per_port[port].stamped[k] += by_source[k];
    }
    s.lane_count = 0;
    s.remembered_count = 0;
    if (s.nts != nullptr) {
        s.counters->add(sc::nts_replies, nts_replies);
        s.nts->waiting_count = 0;
    }
    s.out_count = 0;
    result.sent = sent;
    result.dropped_count = s.late_count;
    return result;
}

void forward_from_kernel(lcore_conf& conf, const rx_queue_conf& rx, rte_mbuf** pkts,
                         std::uint16_t n) {
    // The kernel's own frames for the service address's clients (NTS-KE's TCP, its ARP and ND):
    // not traffic to classify, not ours to count as such; out by the port as they are.
    conf.service->counters->add(sc::exception_from_kernel, n);
    rte_eth_dev_tx_buffer* buffer = conf.tx_buffer[rx.peer];
    std::uint64_t sent = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        sent += rte_eth_tx_buffer(rx.peer, conf.tx_queue[rx.peer], buffer, pkts[i]);
    }
    sent += rte_eth_tx_buffer_flush(rx.peer, conf.tx_queue[rx.peer], buffer);
    worker_stats::add(conf.stats->tx_packets, sent);
}

void service_worker_online(service_lcore& s) {
    rte_rcu_qsbr_thread_register(s.shared->qsbr, s.index);
    rte_rcu_qsbr_thread_online(s.shared->qsbr, s.index);
}

void service_worker_offline(service_lcore& s) {
    rte_rcu_qsbr_thread_offline(s.shared->qsbr, s.index);
    rte_rcu_qsbr_thread_unregister(s.shared->qsbr, s.index);
}

}  // namespace ports::pipelines
