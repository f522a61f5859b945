#include "ports/pipelines/service.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf_dyn.h>

#include "ports/common/inet_checksum.hpp"
#include "ports/neighbour/respond.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/parsers/ntp.hpp"
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
    b.plain_v4_udp_sum = inet_checksum::add(sum, words, sizeof(words));
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
receive_stamp receive_time(const service_lcore& s, const port_service& svc, const rte_mbuf* m) {
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
std::uint64_t unique_receive_time(service_lcore& s, std::uint64_t ts) {
    constexpr std::uint64_t near = 64;
    if (ts <= s.last_rx_ts) [[unlikely]] {
        if (s.last_rx_ts - ts < near) {
            ts = s.last_rx_ts + 1;
        } else if (s.tx_times != nullptr) {
            for (int i = 0; i < 8 && s.tx_times->find(ts); ++i) {
                ++ts;
            }
        }
    }
    if (ts > s.last_rx_ts) {
        s.last_rx_ts = ts;
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
void turn_around(std::uint8_t* frame, const parsers::layers& l, const neighbour::mac_address& mac,
                 std::uint16_t ntp_length) {
    // Ethernet: back to the requester's MAC, from ours; VLAN tags stay as received.
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, mac.bytes.data(), 6);
    std::uint8_t* ip = frame + l.l3_offset;
    std::uint8_t* udp = frame + l.l4_offset;
    const std::uint16_t udp_length = static_cast<std::uint16_t>(8 + ntp_length);
    if (l.l3 == l3_kind::ipv4) {
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

[[gnu::always_inline]] inline void stage(service_lcore& s, rte_mbuf* m, std::uint16_t port,
                                         const parsers::layers& l, std::uint16_t payload_offset,
                                         const ntp::reply_result& r, std::uint64_t partial_udp_sum,
                                         std::uint8_t nts_slot, stamp_info stamp = {}) {
    // Field by field: an aggregate assignment went through a temporary on the stack.
    service_lcore::staged& o = s.out[s.out_count++];
    o.m = m;
    o.partial_udp_sum = partial_udp_sum;
    o.rx_ts = stamp.rx_ts;
    o.fixed_tx_be = stamp.fixed_tx_be;
    o.rx_source = static_cast<std::uint8_t>(stamp.source);
    o.port = port;
    o.payload_offset = payload_offset;
    o.l3_offset = l.l3_offset;
    o.l4_offset = l.l4_offset;
    o.reply_length = r.reply_length;
    o.sign_key_id = r.sign_key_id;
    o.ipv4 = l.l3 == l3_kind::ipv4;
    o.authenticated = r.authenticated;
    o.nts_slot = nts_slot;
}

// The UDP checksum sum of a plain 48-byte IPv4 reply just turned around, but for its transmit
// timestamp (still 0): the burst's constant part plus the words that differ per reply, read
// back from the frame (the one's-complement sum does not care about order).
std::uint64_t plain_v4_partial_sum(const service_lcore& s, const std::uint8_t* frame,
                                   std::uint16_t l3_offset, std::uint16_t l4_offset,
                                   std::uint16_t payload_offset) {
    namespace cs = inet_checksum;
    const std::uint8_t* p = frame + payload_offset;
    std::uint64_t sum = s.burst.plain_v4_udp_sum;
    sum = cs::add(sum, p, 4);                       // LI/VN/mode, stratum, poll, precision
    sum = cs::add(sum, p + 8, 4);                   // the reply's own root dispersion
    sum = cs::add(sum, p + 24, 16);                 // origin and receive timestamps
    sum = cs::add(sum, frame + l4_offset, 4);       // the ports (the length is in the constant)
    sum = cs::add(sum, frame + l3_offset + 12, 8);  // source and destination addresses
    return sum;
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
    stage(s, m, rx.port, l, 0, {}, 0, service_lcore::no_nts);
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
    stage(s, m, rx.port, l, payload_offset, r, 0, slot);
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
        turn_around(frame, w.l, w.service->mac, length);
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

// An NTP request to one of the port's service addresses: answered, dropped (counted) or, when
// it is no NTP request to us, false.
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
    const parsers::byte_span udp_payload(frame + rec.l7.offset, rec.l7.length);
    const std::uint8_t* ip = frame + l.l3_offset;
    const bool v4 = l.l3 == l3_kind::ipv4;
    const bool ours =
        v4 ? rx.service->addresses.contains_v4(std::span<const std::uint8_t, 4>(ip + 16, 4))
           : rx.service->addresses.contains_v6(std::span<const std::uint8_t, 16>(ip + 24, 16));
    if (!ours) {
        return verdict::pass();  // NTP to someone else: transit traffic
    }
    server_counters& c = *s.counters;
    c.add(sc::requests);
    const bool plain_ip = v4 ? l.l4_offset == l.l3_offset + 20 : l.l4_offset == l.l3_offset + 40;
    if (!plain_ip) {
        // IPv4 options or IPv6 extension headers are not echoed into replies.
        c.add(sc::drop_unsupported_ip);
        return verdict::drop(drop_reason::refused);
    }
    const std::uint8_t* src = v4 ? ip + 12 : ip + 8;
    if (!(v4 ? unicast_source_v4(src) : unicast_source_v6(src))) {
        c.add(sc::drop_access);
        return verdict::drop(drop_reason::access);
    }
    const ntp::address source = v4 ? ntp::address::from_ipv4(src) : ntp::address::from_ipv6(src);
    const service_shared& shared = *s.shared;
    if (s.policy == nullptr) {
        // Acquire: pairs with the control side's release store of a whole generation.
        s.policy = shared.policy.load(std::memory_order_acquire);
    }
    const ntp_policy& policy = *s.policy;
    if (policy.has_access && !policy.access.allowed(source)) {
        c.add(sc::drop_access);
        return verdict::drop(drop_reason::access);
    }
    // parse_ntp's version: bits 3-5 of the first octet (none for an empty payload).
    const std::uint8_t version =
        udp_payload.empty() ? 0 : static_cast<std::uint8_t>((udp_payload[0] >> 3) & 0x07);
    if (version >= 1 && version <= 4) {
        c.add(static_cast<sc>(static_cast<std::uint16_t>(sc::version_1) + version - 1));
    }
    const std::uint16_t payload_offset = rec.l7.offset;
    const std::span<std::uint8_t> payload(frame + payload_offset, udp_payload.size());
    if (!s.burst.fresh) {
        refresh_burst(s, window);
    }
    const ntp::clock_state& clock = s.burst.clock;
    const receive_stamp stamp = receive_time(s, *rx.service, m);
    if (shared.max_timestamp_error_ns != 0 && stamp.error_ns > shared.max_timestamp_error_ns) {
        // The request may have waited (a descheduled worker, a backlog in the RX ring) for
        // longer than the limit: no answer beats a wrong one (the client asks again, or
        // another server).
        c.add(sc::drop_timestamp_error);
        ++s.per_port[rx.port].timestamp_error_drops;
        return verdict::drop(drop_reason::timestamp_error);
    }
    const std::uint64_t rx_ts = unique_receive_time(s, stamp.ts);
    // The software stamps of a burst share one bound, computed once per burst.
    const std::uint32_t dispersion = stamp.source == rx_timestamp_kind::software
                                         ? s.burst.software_dispersion
                                         : root_dispersion_with(clock, stamp.error_ns);

    bool limited = false;
    const std::uint64_t now = s.burst.mono_ns;
    if (s.limiter != nullptr && s.limiter->check(source, now) == ntp::decision::limit) {
        limited = true;
        c.add(sc::rate_limited);
    }
    if (s.nts != nullptr && version == 4 && payload.size() > ntp::header_length &&
        (payload[0] & 0x07) == static_cast<std::uint8_t>(parsers::ntp_mode::client)) {
        const parsers::nts_request_view nts_request = parsers::parse_nts_request(udp_payload);
        if (nts_request.is_nts) {
            return serve_nts(s, rx, m, l, payload_offset, nts_request, rx_ts, dispersion, limited);
        }
    }
    ntp::reply_result r;
    if (!limited && !shared.config.require_auth && ntp::is_plain_client_request(payload)) {
        // The common request: build_reply's answer without the general parse (see reply.hpp).
        // Interleaved (RFC 9769): the origin is the receive timestamp of one of our earlier
        // replies, which the map still holds; the request's receive and transmit fields differ
        // (a basic client's origin is 0 or our last transmit stamp, never a receive stamp).
        std::uint64_t origin_be;
        std::uint64_t receive_be;
        std::uint64_t transmit_be;
        std::memcpy(&origin_be, payload.data() + 24, 8);
        std::memcpy(&receive_be, payload.data() + 32, 8);
        std::memcpy(&transmit_be, payload.data() + 40, 8);
        std::uint64_t fixed_tx_be = 0;
        if (s.tx_times != nullptr && origin_be != 0 && origin_be != transmit_be &&
            receive_be != transmit_be) {
            if (const auto tx = s.tx_times->find(rte_be_to_cpu_64(origin_be))) {
                fixed_tx_be = rte_cpu_to_be_64(*tx);
            } else {
                c.add(sc::interleaved_misses);  // answered in basic mode
            }
        }
        r = ntp::build_plain_reply(payload, s.burst.header, rx_ts);
        ntp::reply_detail::store_be32(payload.data() + 8, dispersion);
        if (fixed_tx_be != 0) {
            // Origin: the client's receive field; transmit: the previous reply's true time.
            std::memcpy(payload.data() + 24, &receive_be, 8);
            std::memcpy(payload.data() + 40, &fixed_tx_be, 8);
            c.add(sc::interleaved_replies);
        }
        turn_around(frame, l, rx.service->mac, r.reply_length);
        const std::uint16_t frame_length =
            static_cast<std::uint16_t>(payload_offset + r.reply_length);
        m->data_len = frame_length;
        m->pkt_len = frame_length;
        stage(s, m, rx.port, l, payload_offset, r,
              v4 ? plain_v4_partial_sum(s, frame, l.l3_offset, l.l4_offset, payload_offset) : 0,
              service_lcore::no_nts,
              {s.tx_times != nullptr ? rx_ts : 0, stamp.source, fixed_tx_be});
        return verdict::reply();
    }
    if (limited) {
        if (!shared.kod || !kod_allowed(s, now)) {
            return verdict::drop(drop_reason::rate_limited);
        }
        r = ntp::build_kod_rate(payload, parsers::parse_ntp(udp_payload), clock, rx_ts);
        if (r.act == ntp::action::reply) {
            c.add(sc::kod_sent);
        }
    } else {
        r = ntp::build_reply(payload, parsers::parse_ntp(udp_payload), clock, rx_ts, shared.config,
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
        ntp::reply_detail::store_be32(payload.data() + 8, dispersion);
    }
    turn_around(frame, l, rx.service->mac, r.reply_length);
    const std::uint16_t frame_length = static_cast<std::uint16_t>(payload_offset + r.reply_length);
    m->data_len = frame_length;
    m->pkt_len = frame_length;
    stage(s, m, rx.port, l, payload_offset, r, 0, service_lcore::no_nts,
          {r.kod || s.tx_times == nullptr ? 0 : rx_ts, stamp.source, 0});
    return verdict::reply();
}

}  // namespace

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

flush_result flush_replies(lcore_conf& conf) {
    service_lcore& s = *conf.service;
    s.burst.fresh = false;  // the next burst reads the clock and its TSC anew
    s.late_count = 0;
    const ntp_policy* const policy = s.policy;
    s.policy = nullptr;  // held for this burst only: the loop's quiescent point comes next
    flush_result result;
    result.dropped = s.late.data();
    if (s.out_count == 0) {
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
    std::uint64_t sent = 0;
    const std::uint64_t handoff_start = rte_rdtsc();  // the replies go to the PMD from here
    std::uint64_t ports_used = 0;  // bit p: a TX buffer to flush (RTE_MAX_ETHPORTS <= 64)
    for (std::uint16_t i = 0; i < s.out_count; ++i) {
        auto& o = s.out[i];
        if (o.m == nullptr) {
            continue;  // an NTS request that got no answer (finish_nts): in s.late
        }
        if (o.payload_offset != 0) {
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
                    s.late[s.late_count++] = {o.m, drop_reason::auth_failed};
                    continue;
                }
            }
            if (o.partial_udp_sum != 0) {
                // A plain IPv4 reply: the transmit timestamp was all it lacked.
                auto* u = reinterpret_cast<rte_udp_hdr*>(frame + o.l4_offset);
                const auto c =
                    static_cast<std::uint16_t>(~inet_checksum::fold(inet_checksum::add_carry(
                        o.partial_udp_sum, o.fixed_tx_be != 0 ? o.fixed_tx_be : tx_be)));
                u->dgram_cksum = c == 0 ? 0xFFFF : c;
            } else {
                finish_udp_checksum(frame, o.ipv4, o.l3_offset, o.l4_offset, o.reply_length);
            }
            ++replies;
            ++by_source[o.rx_source];
        }
        // The lcore's TX buffer of the port: the path forwarded frames take too.
        sent += rte_eth_tx_buffer(o.port, conf.tx_queue[o.port], conf.tx_buffer[o.port], o.m);
        ports_used |= std::uint64_t{1} << o.port;
    }
    // Out now, not at the drain timer: the transmit stamps are already in. Only the ports
    // this burst's replies went to (one or two, nearly always the receiving port).
    for (; ports_used != 0; ports_used &= ports_used - 1) {
        const auto port = static_cast<std::uint16_t>(__builtin_ctzll(ports_used));
        sent += rte_eth_tx_buffer_flush(port, conf.tx_queue[port], conf.tx_buffer[port]);
    }
    if (s.tx_times != nullptr) {
        // Every reply of the burst is with the PMD now. When each really left, as near as this
        // core can tell, for the interleaved requests that will name them: the middle of the
        // hand-off. A NIC sends once tx_burst has rung its doorbell, a software PMD
        // (net_af_packet's sendto, net_tap's write) while the call runs; the TSC after the
        // call alone was late by the whole system call on veth (30 us offsets, measured).
        const std::uint64_t handoff_end = rte_rdtsc();
        const std::uint64_t left = ntp_from_unix_ns(s.shared->tsc_map.read().to_ns(
            handoff_start + (handoff_end - handoff_start) / 2));
        for (std::uint16_t i = 0; i < s.out_count; ++i) {
            if (s.out[i].m != nullptr && s.out[i].rx_ts != 0) {
                s.tx_times->insert(s.out[i].rx_ts, left);
            }
        }
    }
    s.counters->add(sc::replies, replies);
    // A burst is one RX queue's: its replies all leave by that port (the first staged one's).
    for (std::size_t k = 0; k < by_source.size(); ++k) {
        s.per_port[s.out[0].port].stamped[k] += by_source[k];
    }
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
