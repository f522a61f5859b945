// Tunnel tables: see table.hpp. The message fields are RFC 2637 (PPTP: 2.0, the control
// message layouts of 2.1-2.13) and RFC 2661/3931 (L2TP: the Message Type and AVP numbers of
// 4.4 and 5.4).
#include "ports/tunnels/table.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "ports/parsers/tunnels.hpp"
#include "ports/pipelines/classify.hpp"

namespace ports::tunnels {

namespace {

using parsers::byte_span;
using parsers::load_be16;
using parsers::load_be32;

// PPTP control message types (RFC 2637 2.0).
enum : std::uint16_t {
    pptp_sccrq = 1,
    pptp_sccrp = 2,
    pptp_stopccrq = 3,
    pptp_stopccrp = 4,
    pptp_ocrq = 7,
    pptp_ocrp = 8,
    pptp_icrq = 9,
    pptp_icrp = 10,
    pptp_iccn = 11,
    pptp_ccrq = 12,
    pptp_cdn = 13,
};

// L2TP message types (RFC 2661 3.2, RFC 3931 3.1) and AVPs (RFC 2661 4.4, RFC 3931 5.4).
enum : std::uint16_t {
    l2tp_sccrq = 1,
    l2tp_sccrp = 2,
    l2tp_scccn = 3,
    l2tp_stopccn = 4,
    l2tp_hello = 6,
    l2tp_ocrq = 7,
    l2tp_ocrp = 8,
    l2tp_occn = 9,
    l2tp_icrq = 10,
    l2tp_icrp = 11,
    l2tp_iccn = 12,
    l2tp_cdn = 14,
};
enum : std::uint16_t {
    avp_host_name = 7,
    avp_assigned_tunnel_id = 9,
    avp_assigned_session_id = 14,
    avp_assigned_connection_id = 61,  // v3: the control connection's 32-bit ID
    avp_local_session_id = 63,        // v3
    avp_remote_session_id = 64,       // v3
};

ip_address address_at(const pipelines::frame_record& r, parsers::byte_span frame, bool source) {
    ip_address a;
    const std::uint8_t* ip = frame.data() + r.l3_offset;
    if (r.l3 == parsers::l3_kind::ipv4) {
        std::memcpy(a.bytes.data(), ip + (source ? 12 : 16), 4);
    } else {
        a.v6 = true;
        std::memcpy(a.bytes.data(), ip + (source ? 8 : 24), 16);
    }
    return a;
}

template <std::size_t N>
std::uint8_t copy_name(std::array<char, N>& to, byte_span from) {
    const std::size_t n = std::min(from.size(), N);
    std::memcpy(to.data(), from.data(), n);
    return static_cast<std::uint8_t>(n);
}

// The AVPs of an L2TP control message this table reads.
struct l2tp_avps {
    std::optional<std::uint32_t> tunnel_id;   // the sender's (Assigned Tunnel / Connection ID)
    std::optional<std::uint32_t> session_id;  // the sender's (Assigned / Local Session ID)
    std::optional<std::uint32_t> remote_session_id;  // v3: the receiver's
    std::optional<byte_span> host_name;
};

l2tp_avps read_avps(byte_span body) {
    l2tp_avps out;
    parsers::l2tp_avp_iterator it(body);
    while (const auto a = it.next()) {
        if (a->vendor_id != 0 || a->hidden) {
            continue;
        }
        const byte_span v = a->value;
        switch (a->type) {
            case avp_host_name:
                out.host_name = v;
                break;
            case avp_assigned_tunnel_id:
            case avp_assigned_session_id:
                if (v.size() == 2) {
                    (a->type == avp_assigned_tunnel_id ? out.tunnel_id : out.session_id) =
                        load_be16(v.data());
                }
                break;
            case avp_assigned_connection_id:
            case avp_local_session_id:
            case avp_remote_session_id:
                if (v.size() == 4) {
                    const std::uint32_t x = load_be32(v.data());
                    if (a->type == avp_assigned_connection_id) {
                        out.tunnel_id = x;
                    } else if (a->type == avp_local_session_id) {
                        out.session_id = x;
                    } else {
                        out.remote_session_id = x;
                    }
                }
                break;
            default:
                break;
        }
    }
    return out;
}

// A session's key ID: v2 data headers carry (tunnel, session) of the receiver, v3 ones only
// the session.
std::uint64_t session_key_id(std::uint8_t version, std::uint64_t tunnel, std::uint64_t session) {
    return version == 2 ? (tunnel << 32) | session : session;
}

void set_state(entry& x, state s) {
    x.st = s;
    x.was_up = x.was_up || s == state::established;
}

// What a tunnel frame carries, before it is classified.
struct payload {
    enum class kind : std::uint8_t { none, l3, ethernet, other } k = kind::none;
    std::uint16_t ethertype = 0;  // l3
    byte_span bytes;
};

// PPP (RFC 1661) as PPTP and L2TPv2 carry it: the address and control octets FF 03 unless
// compressed away (ACFC, RFC 1661 6.6), then the protocol in one octet when that octet is odd
// (PFC, 6.5) or in two. IPv4 (0x0021, RFC 1332) and IPv6 (0x0057, RFC 5072) are classified;
// every other protocol (LCP, CHAP, IPCP, CCP and MPPE's compressed or encrypted frames) is
// other.
payload ppp_payload(byte_span b) {
    if (b.size() >= 2 && b[0] == 0xFF && b[1] == 0x03) {
        b = b.subspan(2);
    }
    if (b.empty()) {
        return {};
    }
    std::uint16_t protocol = b[0];
    std::size_t header = 1;
    if ((b[0] & 1) == 0) {
        if (b.size() < 2) {
            return {payload::kind::other, 0, b};
        }
        protocol = load_be16(b.data());
        header = 2;
    }
    if (protocol == 0x0021 || protocol == 0x0057) {
        return {payload::kind::l3,
                protocol == 0x0021 ? parsers::ethertype_ipv4 : parsers::ethertype_ipv6,
                b.subspan(header)};
    }
    return {payload::kind::other, 0, b};
}

// ERSPAN (draft-foschiano-erspan): type I has no header of its own (GRE without a sequence
// number), type II an 8-octet one (version 1), type III a 12-octet one (version 2) and, with
// its O bit, an 8-octet platform-specific subheader; III's frame type 0 is Ethernet.
payload erspan_payload(const pipelines::frame_record& r, byte_span frame, byte_span p) {
    if (r.f.gre.protocol == parsers::gre_proto_erspan2) {
        // The GRE header's S bit, read again (the record keeps no flags): right at the IP
        // payload, or after the UDP header of GRE in UDP.
        const std::size_t gre_at =
            r.l4_offset + (r.l4_proto == parsers::ipproto_gre ? 0u : 8u);  // 8: a UDP header
        if (gre_at + 2 > frame.size()) {
            return {payload::kind::other, 0, p};
        }
        if ((frame[gre_at] & 0x10) == 0) {
            return {payload::kind::ethernet, 0, p};  // type I
        }
        if (p.size() < 8 || (p[0] >> 4) != 1) {
            return {payload::kind::other, 0, p};
        }
        return {payload::kind::ethernet, 0, p.subspan(8)};
    }
    if (p.size() < 12 || (p[0] >> 4) != 2) {
        return {payload::kind::other, 0, p};
    }
    const std::size_t header = 12 + ((p[11] & 1) != 0 ? 8 : 0);
    const unsigned frame_type = (p[10] >> 2) & 0x1F;
    if (p.size() < header || frame_type != 0) {
        return {payload::kind::other, 0, p};
    }
    return {payload::kind::ethernet, 0, p.subspan(header)};
}

payload payload_of(const pipelines::frame_record& r, byte_span frame) {
    if (!r.parsed || r.malformed() || r.fragment || !r.has_l7) {
        return {};
    }
    const byte_span p = r.l7.of(frame);
    switch (r.cls) {
        case pipelines::traffic_class::gre:
            if (p.empty()) {
                return {};  // a keepalive or a PPTP acknowledgement
            }
            switch (r.f.gre.protocol) {
                case parsers::ethertype_ipv4:
                case parsers::ethertype_ipv6:
                    return {payload::kind::l3, r.f.gre.protocol, p};
                case parsers::gre_proto_ppp:
                    return ppp_payload(p);
                case parsers::gre_proto_teb:
                    return {payload::kind::ethernet, 0, p};
                case parsers::gre_proto_erspan2:
                case parsers::gre_proto_erspan3:
                    return erspan_payload(r, frame, p);
                default:
                    return {payload::kind::other, 0, p};
            }
        case pipelines::traffic_class::l2tp: {
            const pipelines::l2tp_fields& f = r.f.l2tp;
            if (f.control) {
                return {};
            }
            const parsers::l2tp_view v = r.l4_proto == parsers::ipproto_l2tp
                                             ? parsers::parse_l2tp_ip(p)
                                             : parsers::parse_l2tp(p);
            if (v.st != parsers::status::ok || v.body.empty()) {
                return {};
            }
            // L2TPv3: a cookie and a sublayer of lengths only the session's configuration
            // knows come first, so what follows cannot be found from the frame.
            return v.version == 2 ? ppp_payload(v.body) : payload{payload::kind::other, 0, v.body};
        }
        default:
            return {};
    }
}

}  // namespace

inner_packet inner_of(const pipelines::frame_record& r, parsers::byte_span frame) {
    inner_packet out;
    const pipelines::frame_record* outer = &r;
    byte_span outer_frame = frame;
    pipelines::frame_record inner;  // the inner packet's record, when it is a tunnel again
    for (std::uint8_t depth = 1; depth <= max_inner_depth; ++depth) {
        const payload p = payload_of(*outer, outer_frame);
        if (p.k == payload::kind::none) {
            break;
        }
        out.present = true;
        out.depth = depth;
        out.bytes = static_cast<std::uint32_t>(p.bytes.size());
        if (p.k == payload::kind::other) {
            out.cls = pipelines::traffic_class::other;
            break;
        }
        // The same classifier as the outer frame's, from the inner packet's first header; a
        // record only (no counter, no detail list), as classify_count_record fills one.
        inner.has_layers = false;
        inner.has_l7 = false;
        inner.parsed = false;
        const pipelines::record_sink sink{&inner, p.bytes.data()};
        if (p.k == payload::kind::l3) {
            pipelines::classify_l3_into(p.ethertype, p.bytes, sink);
        } else {
            pipelines::classify_frame_into(p.bytes, sink);
        }
        out.cls = inner.cls;
        if (inner.cls != pipelines::traffic_class::gre &&
            inner.cls != pipelines::traffic_class::l2tp) {
            break;
        }
        // A tunnel in the tunnel: what it carries, if anything, is the packet counted.
        outer = &inner;
        outer_frame = p.bytes;
    }
    return out;
}

std::string ip_address::text() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
    return buf;
}

table::table(std::uint32_t capacity, std::uint64_t idle_timeout_ns,
             std::pmr::memory_resource* memory)
    : entries_(std::max<std::uint32_t>(capacity, 1), memory),
      free_(memory),
      index_(memory),
      index_keys_(memory),
      idle_timeout_ns_(idle_timeout_ns) {
    std::size_t slots = 4;
    while (slots < std::size_t{4} * entries_.size()) {
        slots *= 2;
    }
    index_.assign(slots, 0);
    index_keys_.assign(slots, key{});
    free_.reserve(entries_.size());
    for (std::uint32_t i = static_cast<std::uint32_t>(entries_.size()); i-- > 0;) {
        free_.push_back(i);
    }
}

std::size_t table::memory_bytes() const {
    return entries_.capacity() * sizeof(entry) + free_.capacity() * sizeof(std::uint32_t) +
           index_.capacity() * sizeof(std::uint32_t) + index_keys_.capacity() * sizeof(key);
}

void table::copy_to(table& to) const {
    // Same capacity: every vector keeps its storage, so assignment copies without allocating.
    std::copy(entries_.begin(), entries_.end(), to.entries_.begin());
    to.free_.resize(free_.size());
    std::copy(free_.begin(), free_.end(), to.free_.begin());
    std::copy(index_.begin(), index_.end(), to.index_.begin());
    std::copy(index_keys_.begin(), index_keys_.end(), to.index_keys_.begin());
    to.used_ = used_;
    to.cursor_ = cursor_;
    to.idle_timeout_ns_ = idle_timeout_ns_;
    to.stats_ = stats_;
}

table::key table::make_key(kind k, const ip_address& a, const ip_address& b, std::uint64_t id,
                           std::uint32_t extra) {
    key out;
    auto* p = reinterpret_cast<std::uint8_t*>(out.w.data());
    p[0] = static_cast<std::uint8_t>(k);
    p[1] = a.v6;
    p[2] = b.v6;
    std::memcpy(p + 4, a.bytes.data(), 16);
    std::memcpy(p + 20, b.bytes.data(), 16);
    std::memcpy(p + 36, &id, 8);
    std::memcpy(p + 44, &extra, 4);
    return out;
}

std::uint64_t table::hash(const key& k) {
#if defined(__SSE4_2__)
    // One crc32 per word (x86-64-v3 has it): a few cycles where the multiplications below take
    // tens; the index (at most 2^24 slots) is addressed with its low bits.
    std::uint64_t h = 0x9E3779B9u;
    for (const std::uint64_t w : k.w) {
        h = __builtin_ia32_crc32di(h, w);
    }
    return h;
#else
    std::uint64_t h = 0x9E3779B97F4A7C15ull;
    for (const std::uint64_t w : k.w) {
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    return h;
#endif
}

std::uint32_t table::find(const key& k) const {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = hash(k) & mask;; i = (i + 1) & mask) {
        if (index_[i] == 0) {
            return npos;
        }
        if (index_keys_[i] == k) {
            return index_[i] - 1;
        }
    }
}

void table::index_add(const key& k, std::uint32_t e) {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = hash(k) & mask;; i = (i + 1) & mask) {
        if (index_[i] == 0 || index_keys_[i] == k) {
            index_[i] = e + 1;
            index_keys_[i] = k;
            return;
        }
    }
}

void table::index_remove(const key& k) {
    const std::size_t mask = index_.size() - 1;
    std::size_t i = hash(k) & mask;
    while (true) {
        if (index_[i] == 0) {
            return;
        }
        if (index_keys_[i] == k) {
            break;
        }
        i = (i + 1) & mask;
    }
    // Backward shift: every key after the hole that may not stay behind it moves into it.
    for (std::size_t j = (i + 1) & mask; index_[j] != 0; j = (j + 1) & mask) {
        const std::size_t home = hash(index_keys_[j]) & mask;
        const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) {
            continue;
        }
        index_[i] = index_[j];
        index_keys_[i] = index_keys_[j];
        i = j;
    }
    index_[i] = 0;
}

std::uint32_t table::keys_of(const entry& e, std::array<key, 2>& out) {
    std::uint32_t n = 0;
    switch (e.k) {
        case kind::pptp_control: {
            const std::uint32_t ports = (std::uint32_t{e.client_port} << 16) | e.server_port;
            const std::uint32_t back = (std::uint32_t{e.server_port} << 16) | e.client_port;
            out[n++] = make_key(e.k, e.client, e.server, ports);
            out[n++] = make_key(e.k, e.server, e.client, back);
            break;
        }
        case kind::pptp_call:
        case kind::l2tp_tunnel:
        case kind::l2tp_session: {
            const bool session = e.k == kind::l2tp_session;
            if (e.has_client_id) {
                out[n++] = make_key(
                    e.k, e.client, e.server,
                    session ? session_key_id(e.l2tp_version, e.tunnel_client_id, e.client_id)
                            : e.client_id);
            }
            if (e.has_server_id) {
                out[n++] = make_key(
                    e.k, e.server, e.client,
                    session ? session_key_id(e.l2tp_version, e.tunnel_server_id, e.server_id)
                            : e.server_id);
            }
            break;
        }
        case kind::gre_tunnel:
            out[n++] = make_key(e.k, e.client, e.server, e.client_id, e.gre_key_present);
            out[n++] = make_key(e.k, e.server, e.client, e.client_id, e.gre_key_present);
            break;
        case kind::pptp_data:
        case kind::l2tp_data:
            out[n++] = make_key(e.k, e.server, e.client, e.server_id);
            break;
        case kind::none:
            break;
    }
    return n;
}

void table::reindex(std::uint32_t e, const std::array<key, 2>& before, std::uint32_t n_before) {
    for (std::uint32_t i = 0; i < n_before; ++i) {
        if (find(before[i]) == e) {
            index_remove(before[i]);
        }
    }
    std::array<key, 2> now;
    const std::uint32_t n = keys_of(entries_[e], now);
    for (std::uint32_t i = 0; i < n; ++i) {
        // A key another entry holds: that entry's ID was given out again (call-ID reuse), so
        // the older entry is over.
        const std::uint32_t other = find(now[i]);
        if (other != npos && other != e) {
            ++stats_.reused;
            release(other);
        }
        index_add(now[i], e);
    }
}

std::uint32_t table::allocate(std::uint64_t now_ns) {
    if (free_.empty()) {
        ++stats_.table_full;
        return npos;
    }
    const std::uint32_t e = free_.back();
    free_.pop_back();
    entries_[e] = entry{};
    entries_[e].first_ns = now_ns;
    entries_[e].last_ns = now_ns;
    ++used_;
    ++stats_.created;
    return e;
}

void table::release(std::uint32_t e) {
    std::array<key, 2> keys;
    const std::uint32_t n = keys_of(entries_[e], keys);
    for (std::uint32_t i = 0; i < n; ++i) {
        if (find(keys[i]) == e) {
            index_remove(keys[i]);
        }
    }
    entries_[e].k = kind::none;
    free_.push_back(e);
    --used_;
}

std::uint32_t table::expire(std::uint64_t now_ns, std::uint32_t max_scan) {
    std::uint32_t gone = 0;
    const auto n = static_cast<std::uint32_t>(entries_.size());
    for (std::uint32_t i = 0; i < std::min(max_scan, n); ++i) {
        const std::uint32_t e = cursor_;
        cursor_ = cursor_ + 1 == n ? 0 : cursor_ + 1;
        const entry& x = entries_[e];
        if (x.k != kind::none && now_ns > x.last_ns && now_ns - x.last_ns > idle_timeout_ns_) {
            release(e);
            ++gone;
        }
    }
    stats_.expired += gone;
    return gone;
}

void table::count(entry& e, int direction, std::uint32_t bytes, std::uint64_t now_ns,
                  const inner_packet& inner) {
    ++e.packets[direction];
    e.bytes[direction] += bytes;
    e.last_ns = std::max(e.last_ns, now_ns);
    if (inner.present) {
        const auto c = static_cast<std::size_t>(inner.cls);
        ++e.inner_packets[c];
        e.inner_bytes[c] += inner.bytes;
    }
}

namespace {

// What one entry carried, into another (the same object, or a call's data seen before it).
void add_inner(entry& to, const entry& from) {
    for (std::size_t c = 0; c < pipelines::class_count; ++c) {
        to.inner_packets[c] += from.inner_packets[c];
        to.inner_bytes[c] += from.inner_bytes[c];
    }
}

}  // namespace

void table::absorb_data(std::uint32_t into, kind data_kind, const ip_address& receiver,
                        const ip_address& sender, std::uint64_t id, int direction) {
    const std::uint32_t d = find(make_key(data_kind, receiver, sender, id));
    if (d == npos) {
        return;
    }
    entry& to = entries_[into];
    const entry& from = entries_[d];
    to.packets[direction] += from.packets[0];
    to.bytes[direction] += from.bytes[0];
    to.first_ns = std::min(to.first_ns, from.first_ns);
    to.last_ns = std::max(to.last_ns, from.last_ns);
    add_inner(to, from);
    release(d);
}

void table::data_frame(kind call_kind, kind data_kind, const ip_address& src, const ip_address& dst,
                       std::uint64_t receiver_id, std::uint32_t bytes, std::uint64_t now_ns,
                       const inner_packet& inner) {
    const std::uint32_t e = find(make_key(call_kind, dst, src, receiver_id));
    if (e != npos) {
        entry& x = entries_[e];
        count(x, x.client == dst ? 1 : 0, bytes, now_ns, inner);
        return;
    }
    std::uint32_t d = find(make_key(data_kind, dst, src, receiver_id));
    if (d == npos) {
        d = allocate(now_ns);
        if (d == npos) {
            return;
        }
        entry& x = entries_[d];
        x.k = data_kind;
        set_state(x, state::data);
        x.client = src;
        x.server = dst;
        x.server_id = receiver_id;
        x.has_server_id = true;
        reindex(d, {}, 0);
    }
    count(entries_[d], 0, bytes, now_ns, inner);
}

inner_packet table::update(const pipelines::frame_record& r, parsers::byte_span frame,
                           std::uint32_t bytes, std::uint64_t now_ns) {
    if (!r.parsed || r.malformed() || r.fragment || !r.has_layers ||
        r.l3 == parsers::l3_kind::none) {
        return {};
    }
    if (r.cls != pipelines::traffic_class::pptp && r.cls != pipelines::traffic_class::gre &&
        r.cls != pipelines::traffic_class::l2tp) {
        return {};
    }
    ++stats_.frames;
    const ip_address src = address_at(r, frame, true);
    const ip_address dst = address_at(r, frame, false);
    const inner_packet inner =
        r.cls == pipelines::traffic_class::pptp ? inner_packet{} : inner_of(r, frame);
    switch (r.cls) {
        case pipelines::traffic_class::pptp:
            on_pptp(r, frame, src, dst, bytes, now_ns);
            break;
        case pipelines::traffic_class::gre:
            on_gre(r, src, dst, bytes, now_ns, inner);
            break;
        default:
            on_l2tp(r, frame, src, dst, bytes, now_ns, inner);
            break;
    }
    return inner;
}

void table::on_gre(const pipelines::frame_record& r, const ip_address& src, const ip_address& dst,
                   std::uint32_t bytes, std::uint64_t now_ns, const inner_packet& inner) {
    const pipelines::gre_fields& g = r.f.gre;
    if (g.version == 1) {
        // RFC 2637 4.1: the call ID is the receiver's ("the peer's call ID").
        data_frame(kind::pptp_call, kind::pptp_data, src, dst, g.call_id, bytes, now_ns, inner);
        return;
    }
    const std::uint64_t id = g.key_present ? g.key : 0;
    std::uint32_t e = find(make_key(kind::gre_tunnel, src, dst, id, g.key_present));
    if (e == npos) {
        e = allocate(now_ns);
        if (e == npos) {
            return;
        }
        entry& x = entries_[e];
        x.k = kind::gre_tunnel;
        set_state(x, state::data);
        x.client = src;
        x.server = dst;
        x.client_id = id;
        x.server_id = id;
        x.has_client_id = g.key_present;
        x.has_server_id = g.key_present;
        x.gre_key_present = g.key_present;
        reindex(e, {}, 0);
    }
    entry& x = entries_[e];
    count(x, x.client == src ? 0 : 1, bytes, now_ns, inner);
}

void table::on_pptp(const pipelines::frame_record& r, parsers::byte_span frame,
                    const ip_address& src, const ip_address& dst, std::uint32_t bytes,
                    std::uint64_t now_ns) {
    const byte_span m = r.l7.of(frame);
    const std::uint16_t type = r.f.pptp.control_type;
    if (m.size() < 12 || type == 0) {
        return;  // a segment without payload: nothing to learn
    }
    // The control connection: found from either side; created by any message, the client
    // being the side away from port 1723 (the SCCRQ's sender in every capture we have).
    const std::uint32_t ports = (std::uint32_t{r.src_port} << 16) | r.dst_port;
    const std::uint32_t back = (std::uint32_t{r.dst_port} << 16) | r.src_port;
    std::uint32_t c = find(make_key(kind::pptp_control, src, dst, ports));
    if (c == npos) {
        c = find(make_key(kind::pptp_control, dst, src, back));
    }
    if (c == npos || (type == pptp_sccrq && entries_[c].st == state::closed)) {
        if (c != npos) {
            release(c);
        }
        c = allocate(now_ns);
        if (c != npos) {
            entry& x = entries_[c];
            x.k = kind::pptp_control;
            const bool from_client = r.dst_port == 1723 || type == pptp_sccrq;
            x.client = from_client ? src : dst;
            x.server = from_client ? dst : src;
            x.client_port = from_client ? r.src_port : r.dst_port;
            x.server_port = from_client ? r.dst_port : r.src_port;
            reindex(c, {}, 0);
        }
    }
    if (c != npos) {
        entry& x = entries_[c];
        const bool from_client = x.client == src && x.client_port == r.src_port;
        count(x, from_client ? 0 : 1, bytes, now_ns);
        ++x.control_messages;
        if (type == pptp_sccrq || type == pptp_sccrp) {
            if (const auto f = parsers::pptp_sccr(parsers::parse_pptp(m))) {
                if (from_client) {
                    x.client_name_length = copy_name(x.client_name, f->host_name);
                    x.vendor_length = copy_name(x.vendor, f->vendor);
                } else {
                    x.server_name_length = copy_name(x.server_name, f->host_name);
                }
            }
            if (type == pptp_sccrq) {
                set_state(x, state::requested);
            } else {
                // RFC 2637 2.2: result code 1 is "successful channel establishment".
                set_state(x, m.size() > 14 && m[14] == 1 ? state::established : state::closed);
            }
        } else if (type == pptp_stopccrq) {
            set_state(x, state::stopping);
        } else if (type == pptp_stopccrp) {
            set_state(x, state::closed);
        }
    }
    if (m.size() < 16) {
        return;
    }
    const std::uint16_t call_id = load_be16(m.data() + 12);
    const std::uint16_t peer_id = load_be16(m.data() + 14);
    switch (type) {
        case pptp_ocrq:
        case pptp_icrq: {
            // A new call: the requester is its client, its call ID the client's.
            const std::uint32_t old = find(make_key(kind::pptp_call, src, dst, call_id));
            if (old != npos) {
                ++stats_.reused;
                release(old);
            }
            const std::uint32_t e = allocate(now_ns);
            if (e == npos) {
                return;
            }
            entry& x = entries_[e];
            x.k = kind::pptp_call;
            set_state(x, state::requested);
            x.client = src;
            x.server = dst;
            x.client_id = call_id;
            x.has_client_id = true;
            x.control_messages = 1;
            reindex(e, {}, 0);
            // GRE frames to the client carry its call ID.
            absorb_data(e, kind::pptp_data, src, dst, call_id, 1);
            return;
        }
        case pptp_ocrp:
        case pptp_icrp: {
            // The reply: its sender's call ID, and the requester's as the peer's.
            const std::uint32_t e = find(make_key(kind::pptp_call, dst, src, peer_id));
            if (e == npos) {
                ++stats_.unknown;
                return;
            }
            std::array<key, 2> before;
            const std::uint32_t n = keys_of(entries_[e], before);
            entry& x = entries_[e];
            x.server_id = call_id;
            x.has_server_id = true;
            ++x.control_messages;
            x.last_ns = std::max(x.last_ns, now_ns);
            // RFC 2637 2.8/2.10: result code 1 is "connected" / "connect".
            const bool ok = m.size() > 16 && m[16] == 1;
            set_state(
                x, !ok ? state::closed : (type == pptp_ocrp ? state::established : state::replied));
            reindex(e, before, n);
            absorb_data(e, kind::pptp_data, src, dst, call_id, 0);
            return;
        }
        case pptp_iccn:
        case pptp_ccrq:
        case pptp_cdn: {
            // ICCN names the receiver's call ID (the peer's); CCRQ and CDN the sender's own.
            std::uint32_t e = type == pptp_iccn
                                  ? find(make_key(kind::pptp_call, dst, src, call_id))
                                  : find(make_key(kind::pptp_call, src, dst, call_id));
            if (e == npos && type == pptp_cdn) {
                // Some PACs name the PNS's call ID in their CDN instead (Microsoft's, in
                // ndpi/pptp.pcap: Call ID 0, the PNS's, where its own is 11755).
                e = find(make_key(kind::pptp_call, dst, src, call_id));
            }
            if (e == npos) {
                ++stats_.unknown;
                return;
            }
            entry& x = entries_[e];
            ++x.control_messages;
            x.last_ns = std::max(x.last_ns, now_ns);
            set_state(x, type == pptp_iccn ? state::established
                                           : (type == pptp_ccrq ? state::stopping : state::closed));
            return;
        }
        default:
            return;
    }
}

void table::on_l2tp(const pipelines::frame_record& r, parsers::byte_span frame,
                    const ip_address& src, const ip_address& dst, std::uint32_t bytes,
                    std::uint64_t now_ns, const inner_packet& inner) {
    const pipelines::l2tp_fields& f = r.f.l2tp;
    const std::uint8_t version = f.version;
    if (!f.control) {
        // The header names the receiver's IDs.
        data_frame(kind::l2tp_session, kind::l2tp_data, src, dst,
                   session_key_id(version, f.tunnel_id, f.session_id), bytes, now_ns, inner);
        return;
    }
    if (f.message_type == 0) {
        // A ZLB acknowledgement: the tunnel's, by the receiver's tunnel ID.
        const std::uint32_t t = find(make_key(kind::l2tp_tunnel, dst, src, f.tunnel_id));
        if (t != npos) {
            entry& x = entries_[t];
            count(x, x.client == dst ? 1 : 0, bytes, now_ns);
        }
        return;
    }
    const byte_span payload = r.l7.of(frame);
    const parsers::l2tp_view v = r.l4_proto == parsers::ipproto_l2tp
                                     ? parsers::parse_l2tp_ip(payload)
                                     : parsers::parse_l2tp(payload);
    if (v.st != parsers::status::ok) {
        return;
    }
    const l2tp_avps avps = read_avps(v.body);
    const std::uint16_t type = f.message_type;

    // The tunnel: created by SCCRQ, found by the receiver's ID in the header, or - a StopCCN
    // before the peer's ID was known - by the sender's assigned one.
    std::uint32_t t = npos;
    if (type == l2tp_sccrq) {
        if (!avps.tunnel_id) {
            ++stats_.unknown;
            return;
        }
        const std::uint32_t old = find(make_key(kind::l2tp_tunnel, src, dst, *avps.tunnel_id));
        if (old != npos) {
            if (entries_[old].st == state::requested) {
                t = old;  // a retransmission
            } else {
                ++stats_.reused;
                release(old);
            }
        }
        if (t == npos) {
            t = allocate(now_ns);
            if (t == npos) {
                return;
            }
            entry& x = entries_[t];
            x.k = kind::l2tp_tunnel;
            set_state(x, state::requested);
            x.l2tp_version = version;
            x.client = src;
            x.server = dst;
            x.client_id = *avps.tunnel_id;
            x.has_client_id = true;
            reindex(t, {}, 0);
        }
    } else {
        t = find(make_key(kind::l2tp_tunnel, dst, src, f.tunnel_id));
        if (t == npos && avps.tunnel_id) {
            t = find(make_key(kind::l2tp_tunnel, src, dst, *avps.tunnel_id));
        }
    }
    if (t == npos) {
        ++stats_.unknown;
        return;
    }
    {
        entry& x = entries_[t];
        const bool from_client = x.client == src;
        count(x, from_client ? 0 : 1, bytes, now_ns);
        ++x.control_messages;
        if (avps.host_name && (type == l2tp_sccrq || type == l2tp_sccrp)) {
            if (from_client) {
                x.client_name_length = copy_name(x.client_name, *avps.host_name);
            } else {
                x.server_name_length = copy_name(x.server_name, *avps.host_name);
            }
        }
        switch (type) {
            case l2tp_sccrp:
                if (avps.tunnel_id && !from_client) {
                    std::array<key, 2> before;
                    const std::uint32_t n = keys_of(x, before);
                    x.server_id = *avps.tunnel_id;
                    x.has_server_id = true;
                    reindex(t, before, n);
                }
                set_state(entries_[t], state::replied);
                break;
            case l2tp_scccn:
                set_state(x, state::established);
                break;
            case l2tp_stopccn:
                set_state(x, state::closed);
                break;
            default:
                break;
        }
    }
    const entry& tunnel = entries_[t];
    // The tunnel IDs of either side, as v2 data headers name them.
    const std::uint64_t src_tunnel = tunnel.client == src ? tunnel.client_id : tunnel.server_id;
    const std::uint64_t dst_tunnel = tunnel.client == src ? tunnel.server_id : tunnel.client_id;
    switch (type) {
        case l2tp_icrq:
        case l2tp_ocrq: {
            if (!avps.session_id) {
                ++stats_.unknown;
                return;
            }
            const std::uint64_t kid = session_key_id(version, src_tunnel, *avps.session_id);
            const std::uint32_t old = find(make_key(kind::l2tp_session, src, dst, kid));
            if (old != npos) {
                if (entries_[old].st == state::requested) {
                    return;  // a retransmission
                }
                ++stats_.reused;
                release(old);
            }
            const std::uint32_t s = allocate(now_ns);
            if (s == npos) {
                return;
            }
            entry& x = entries_[s];
            x.k = kind::l2tp_session;
            set_state(x, state::requested);
            x.l2tp_version = version;
            x.client = src;
            x.server = dst;
            x.client_id = *avps.session_id;
            x.has_client_id = true;
            x.tunnel_client_id = src_tunnel;
            x.tunnel_server_id = dst_tunnel;
            x.control_messages = 1;
            reindex(s, {}, 0);
            absorb_data(s, kind::l2tp_data, src, dst, kid, 1);
            return;
        }
        case l2tp_icrp:
        case l2tp_ocrp:
        case l2tp_iccn:
        case l2tp_occn:
        case l2tp_cdn: {
            // The receiver's session ID: the header's (v2) or the Remote Session ID AVP (v3).
            const std::optional<std::uint32_t> rx_session =
                version == 3 ? avps.remote_session_id : std::optional<std::uint32_t>(f.session_id);
            std::uint32_t s = npos;
            if (rx_session && *rx_session != 0) {
                s = find(make_key(kind::l2tp_session, dst, src,
                                  session_key_id(version, dst_tunnel, *rx_session)));
            }
            if (s == npos && type == l2tp_cdn && avps.session_id) {
                s = find(make_key(kind::l2tp_session, src, dst,
                                  session_key_id(version, src_tunnel, *avps.session_id)));
            }
            if (s == npos) {
                ++stats_.unknown;
                return;
            }
            entry& x = entries_[s];
            ++x.control_messages;
            x.last_ns = std::max(x.last_ns, now_ns);
            if ((type == l2tp_icrp || type == l2tp_ocrp) && avps.session_id) {
                std::array<key, 2> before;
                const std::uint32_t n = keys_of(x, before);
                x.server_id = *avps.session_id;
                x.has_server_id = true;
                set_state(x, state::replied);
                reindex(s, before, n);
                absorb_data(s, kind::l2tp_data, src, dst,
                            session_key_id(version, src_tunnel, *avps.session_id), 0);
            } else if (type == l2tp_iccn || type == l2tp_occn) {
                set_state(x, state::established);
            } else if (type == l2tp_cdn) {
                set_state(x, state::closed);
            }
            return;
        }
        default:
            return;
    }
}

std::vector<row> merge(std::span<const table* const> tables) {
    std::vector<std::span<const entry>> lists;
    for (const table* t : tables) {
        lists.emplace_back(t->entries_.data(), t->entries_.size());
    }
    return merge(std::span<const std::span<const entry>>(lists));
}

table_stats operator+(const table_stats& a, const table_stats& b) {
    return {a.frames + b.frames,         a.created + b.created, a.table_full + b.table_full,
            a.expired + b.expired,       a.reused + b.reused,   a.unknown + b.unknown};
}

std::vector<row> merge(std::span<const std::span<const entry>> lists) {
    std::vector<row> rows;
    // Every key of every call-like row -> its row.
    std::unordered_map<std::string, std::size_t> by_key;
    auto key_text = [](const table::key& k) {
        return std::string(reinterpret_cast<const char*>(k.w.data()), sizeof k.w);
    };
    std::vector<entry> data;
    for (const auto& list : lists) {
        for (const entry& e : list) {
            if (e.k == kind::none) {
                continue;
            }
            if (e.k == kind::pptp_data || e.k == kind::l2tp_data) {
                data.push_back(e);
                continue;
            }
            std::array<table::key, 2> keys;
            const std::uint32_t n = table::keys_of(e, keys);
            bool merged = false;
            for (std::uint32_t i = 0; i < n; ++i) {
                const auto it = by_key.find(key_text(keys[i]));
                if (it == by_key.end()) {
                    continue;
                }
                // The same object in two tables: one sum.
                entry& to = rows[it->second].e;
                for (int d = 0; d < 2; ++d) {
                    const int from_d = to.client == e.client ? d : 1 - d;
                    to.packets[d] += e.packets[from_d];
                    to.bytes[d] += e.bytes[from_d];
                }
                to.control_messages += e.control_messages;
                to.was_up = to.was_up || e.was_up;
                add_inner(to, e);
                to.first_ns = std::min(to.first_ns, e.first_ns);
                if (e.last_ns > to.last_ns) {
                    to.last_ns = e.last_ns;
                    to.st = e.st;
                }
                merged = true;
                break;
            }
            if (merged) {
                continue;
            }
            rows.push_back(row{e});
            for (std::uint32_t i = 0; i < n; ++i) {
                by_key.emplace(key_text(keys[i]), rows.size() - 1);
            }
        }
    }
    std::unordered_map<std::string, std::size_t> data_rows;
    for (const entry& d : data) {
        const kind call = d.k == kind::pptp_data ? kind::pptp_call : kind::l2tp_session;
        // A data entry's key is (receiver, sender, the receiver's ID): the call's for frames to
        // the call's client (server -> client) or to its server (client -> server).
        const auto it =
            by_key.find(key_text(table::make_key(call, d.server, d.client, d.server_id)));
        if (it != by_key.end()) {
            entry& to = rows[it->second].e;
            const int direction = to.client == d.server ? 1 : 0;
            to.packets[direction] += d.packets[0];
            to.bytes[direction] += d.bytes[0];
            to.first_ns = std::min(to.first_ns, d.first_ns);
            to.last_ns = std::max(to.last_ns, d.last_ns);
            add_inner(to, d);
            continue;
        }
        const std::string k = key_text(table::make_key(d.k, d.server, d.client, d.server_id));
        const auto seen = data_rows.find(k);
        if (seen != data_rows.end()) {
            entry& to = rows[seen->second].e;
            to.packets[0] += d.packets[0];
            to.bytes[0] += d.bytes[0];
            to.first_ns = std::min(to.first_ns, d.first_ns);
            to.last_ns = std::max(to.last_ns, d.last_ns);
            add_inner(to, d);
            continue;
        }
        rows.push_back(row{d});
        data_rows.emplace(k, rows.size() - 1);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
        if (a.e.k != b.e.k) {
            return a.e.k < b.e.k;
        }
        return a.e.total_bytes() > b.e.total_bytes();
    });
    return rows;
}

}  // namespace ports::tunnels
