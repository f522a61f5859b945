#include "trafficgen.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>

namespace ports::gen {

namespace {

void put8(bytes& b, std::uint8_t v) {
    b.push_back(v);
}
void put16(bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(bytes& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
void put64(bytes& b, std::uint64_t v) {
    put32(b, static_cast<std::uint32_t>(v >> 32));
    put32(b, static_cast<std::uint32_t>(v));
}
void append(bytes& b, byte_view v) {
    b.insert(b.end(), v.begin(), v.end());
}
void append(bytes& b, std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
}
// A fixed-size, zero-padded text field (PPTP host name, vendor, phone number).
void put_text(bytes& b, std::string_view s, std::size_t width) {
    const std::size_t n = std::min(s.size(), width);
    b.insert(b.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
    b.insert(b.end(), width - n, 0);
}
void set16(bytes& b, std::size_t at, std::uint16_t v) {
    b.at(at) = static_cast<std::uint8_t>(v >> 8);
    b.at(at + 1) = static_cast<std::uint8_t>(v);
}
std::uint16_t to_u16(std::size_t n) {
    if (n > 0xFFFF) {
        throw std::length_error("ports-gen: length does not fit 16 bits");
    }
    return static_cast<std::uint16_t>(n);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Checksums.

std::uint32_t checksum_partial(byte_view data, std::uint32_t sum) {
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) {
        sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
        // Fold early so that long inputs cannot overflow 32 bits.
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    if (i < data.size()) {
        sum += static_cast<std::uint32_t>(data[i] << 8);
    }
    return sum;
}

std::uint16_t checksum_fold(std::uint32_t sum) {
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum & 0xFFFF);
}

std::uint16_t internet_checksum(byte_view data) {
    return checksum_fold(checksum_partial(data));
}

std::uint32_t pseudo_header_sum(const endpoint_options& ep, std::uint8_t protocol, std::uint32_t length) {
    bytes ph;
    if (ep.ipv6) {
        append(ph, ep.src_ip6);
        append(ph, ep.dst_ip6);
        put32(ph, length);
        put32(ph, protocol);
    } else {
        append(ph, ep.src_ip4);
        append(ph, ep.dst_ip4);
        put8(ph, 0);
        put8(ph, protocol);
        put16(ph, static_cast<std::uint16_t>(length));
    }
    return checksum_partial(ph);
}

// ---------------------------------------------------------------------------------------------
// Layers.

bytes ethernet_frame(const endpoint_options& ep, std::uint16_t ethertype, byte_view payload, bool pad) {
    bytes f;
    f.reserve(14 + 4 * ep.tags.size() + payload.size());
    append(f, ep.dst_mac);
    append(f, ep.src_mac);
    for (const auto& tag : ep.tags) {
        put16(f, tag.tpid);
        put16(f, tag.tci);
    }
    put16(f, ethertype);
    append(f, payload);
    if (pad && f.size() < min_frame_length) {
        f.resize(min_frame_length, 0);
    }
    return f;
}

std::uint16_t ethertype_of(const endpoint_options& ep) {
    return ep.ipv6 ? ethertype_ipv6 : ethertype_ipv4;
}

bytes ip_packet(const endpoint_options& ep, std::uint8_t protocol, byte_view l4, ip_fragment frag) {
    bytes p;
    if (!ep.ipv6) {
        const std::size_t header_length = ep.ipv4_options ? 24 : 20;
        put8(p, static_cast<std::uint8_t>(0x40 | (header_length / 4)));
        put8(p, 0);
        put16(p, to_u16(header_length + l4.size()));
        put16(p, ep.ip_id);
        if (frag.offset_bytes % 8 != 0) {
            throw std::invalid_argument("ports-gen: fragment offset not a multiple of 8");
        }
        const bool fragment = frag.more || frag.offset_bytes != 0;
        std::uint16_t flags_offset = static_cast<std::uint16_t>(frag.offset_bytes / 8);
        if (frag.more) {
            flags_offset |= 0x2000;
        }
        if (!fragment) {
            flags_offset |= 0x4000;  // DF, as most modern stacks send
        }
        put16(p, flags_offset);
        put8(p, ep.ttl);
        put8(p, protocol);
        put16(p, 0);
        append(p, ep.src_ip4);
        append(p, ep.dst_ip4);
        if (ep.ipv4_options) {
            // Router Alert (RFC 2113): a harmless option that moves the transport header.
            put8(p, 0x94);
            put8(p, 0x04);
            put16(p, 0);
        }
        set16(p, 10, internet_checksum(byte_view(p.data(), header_length)));
        append(p, l4);
        return p;
    }
    if (frag.more || frag.offset_bytes != 0) {
        throw std::invalid_argument("ports-gen: IPv6 fragments are not built");
    }
    const bool with_ext = ep.ext != ipv6_ext::none;
    const std::size_t ext_length = with_ext ? 8 : 0;
    put32(p, 0x60000000);
    put16(p, to_u16(ext_length + l4.size()));
    put8(p, with_ext ? (ep.ext == ipv6_ext::hop_by_hop ? 0 : 60) : protocol);
    put8(p, ep.ttl);
    append(p, ep.src_ip6);
    append(p, ep.dst_ip6);
    if (with_ext) {
        // Next header, length 0 (8 bytes), one PadN option filling the rest.
        put8(p, protocol);
        put8(p, 0);
        put8(p, 0x01);
        put8(p, 0x04);
        put32(p, 0);
    }
    append(p, l4);
    return p;
}

bytes udp_datagram(const endpoint_options& ep, byte_view payload, std::optional<std::uint16_t> length_field) {
    const std::uint16_t real_length = to_u16(8 + payload.size());
    bytes u;
    put16(u, ep.src_port);
    put16(u, ep.dst_port);
    put16(u, length_field.value_or(real_length));
    put16(u, 0);
    append(u, payload);
    std::uint16_t sum = checksum_fold(checksum_partial(u, pseudo_header_sum(ep, ipproto_udp, real_length)));
    if (sum == 0) {
        sum = 0xFFFF;  // 0 means "no checksum" in UDP (and is forbidden over IPv6)
    }
    set16(u, 6, sum);
    return u;
}

bytes tcp_segment(const endpoint_options& ep, const tcp_options& tcp, byte_view payload) {
    const std::size_t header_length = tcp.mss_option ? 24 : 20;
    bytes t;
    put16(t, ep.src_port);
    put16(t, ep.dst_port);
    put32(t, tcp.seq);
    put32(t, tcp.ack);
    put8(t, static_cast<std::uint8_t>((header_length / 4) << 4));
    put8(t, tcp.flags);
    put16(t, tcp.window);
    put16(t, 0);
    put16(t, 0);
    if (tcp.mss_option) {
        put8(t, 2);
        put8(t, 4);
        put16(t, ep.ipv6 ? 1440 : 1460);
    }
    append(t, payload);
    const auto length = static_cast<std::uint32_t>(t.size());
    set16(t, 16, checksum_fold(checksum_partial(t, pseudo_header_sum(ep, ipproto_tcp, length))));
    return t;
}

bytes gre_packet(const gre_options& gre, byte_view payload) {
    std::uint8_t flags0 = 0;
    std::uint8_t flags1 = gre.version & 0x07;
    std::optional<std::uint32_t> key = gre.key;
    if (gre.pptp_call_id) {
        key = (static_cast<std::uint32_t>(to_u16(payload.size())) << 16) | *gre.pptp_call_id;
    }
    if (gre.checksum) {
        flags0 |= 0x80;
    }
    if (key) {
        flags0 |= 0x20;
    }
    if (gre.sequence) {
        flags0 |= 0x10;
    }
    if (gre.ack) {
        flags1 |= 0x80;
    }
    bytes g;
    put8(g, flags0);
    put8(g, flags1);
    put16(g, gre.protocol);
    if (gre.checksum) {
        put32(g, 0);  // checksum + reserved1, the checksum filled below
    }
    if (key) {
        put32(g, *key);
    }
    if (gre.sequence) {
        put32(g, *gre.sequence);
    }
    if (gre.ack) {
        put32(g, *gre.ack);
    }
    append(g, payload);
    if (gre.checksum) {
        set16(g, 4, internet_checksum(g));
    }
    return g;
}

bytes icmpv4_echo(std::uint16_t id, std::uint16_t seq, byte_view data) {
    bytes m;
    put8(m, 8);
    put8(m, 0);
    put16(m, 0);
    put16(m, id);
    put16(m, seq);
    append(m, data);
    set16(m, 2, internet_checksum(m));
    return m;
}

bytes icmpv6_echo(const endpoint_options& ep, std::uint16_t id, std::uint16_t seq, byte_view data) {
    bytes m;
    put8(m, 128);
    put8(m, 0);
    put16(m, 0);
    put16(m, id);
    put16(m, seq);
    append(m, data);
    const auto length = static_cast<std::uint32_t>(m.size());
    set16(m, 2, checksum_fold(checksum_partial(m, pseudo_header_sum(ep, ipproto_icmpv6, length))));
    return m;
}

bytes ppp_frame(std::uint16_t protocol, byte_view payload) {
    bytes p;
    put8(p, 0xFF);
    put8(p, 0x03);
    put16(p, protocol);
    append(p, payload);
    return p;
}

bytes udp_frame(const endpoint_options& ep, byte_view payload, std::optional<std::uint16_t> length_field) {
    return ethernet_frame(ep, ethertype_of(ep), ip_packet(ep, ipproto_udp, udp_datagram(ep, payload, length_field)));
}

bytes tcp_frame(const endpoint_options& ep, const tcp_options& tcp, byte_view payload) {
    return ethernet_frame(ep, ethertype_of(ep), ip_packet(ep, ipproto_tcp, tcp_segment(ep, tcp, payload)));
}

bytes ip_frame(const endpoint_options& ep, std::uint8_t protocol, byte_view l4) {
    return ethernet_frame(ep, ethertype_of(ep), ip_packet(ep, protocol, l4));
}

bytes arp_request_frame(const endpoint_options& ep) {
    bytes a;
    put16(a, 1);       // Ethernet
    put16(a, 0x0800);  // IPv4
    put8(a, 6);
    put8(a, 4);
    put16(a, 1);  // request
    append(a, ep.src_mac);
    append(a, ep.src_ip4);
    a.insert(a.end(), 6, 0);
    append(a, ep.dst_ip4);
    endpoint_options bcast = ep;
    bcast.dst_mac = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    return ethernet_frame(bcast, ethertype_arp, a);
}

bytes lldp_frame(const endpoint_options& ep, std::string_view system_name) {
    bytes l;
    // Chassis ID (MAC address subtype 4), Port ID (local subtype 7), TTL, System Name, End.
    put16(l, static_cast<std::uint16_t>((1 << 9) | 7));
    put8(l, 4);
    append(l, ep.src_mac);
    put16(l, static_cast<std::uint16_t>((2 << 9) | 3));
    put8(l, 7);
    append(l, std::string_view("p1"));
    put16(l, static_cast<std::uint16_t>((3 << 9) | 2));
    put16(l, 120);
    put16(l, static_cast<std::uint16_t>((5 << 9) | system_name.size()));
    append(l, system_name);
    put16(l, 0);
    endpoint_options mc = ep;
    mc.dst_mac = {0x01, 0x80, 0xC2, 0x00, 0x00, 0x0E};
    return ethernet_frame(mc, ethertype_lldp, l);
}

// ---------------------------------------------------------------------------------------------
// NTP.

std::uint64_t ntp_timestamp(std::uint64_t unix_us) {
    constexpr std::uint64_t epoch_delta = 2208988800ULL;  // 1900-01-01 to 1970-01-01
    const std::uint64_t seconds = unix_us / 1000000 + epoch_delta;
    const std::uint64_t fraction = ((unix_us % 1000000) << 32) / 1000000;
    return (seconds << 32) | fraction;
}

bytes ntp_packet(const ntp_header& h) {
    bytes p;
    put8(p, static_cast<std::uint8_t>((h.li << 6) | ((h.version & 7) << 3) | (h.mode & 7)));
    put8(p, h.stratum);
    put8(p, static_cast<std::uint8_t>(h.poll));
    put8(p, static_cast<std::uint8_t>(h.precision));
    put32(p, h.root_delay);
    put32(p, h.root_dispersion);
    put32(p, h.refid);
    put64(p, h.reference_ts);
    put64(p, h.origin_ts);
    put64(p, h.receive_ts);
    put64(p, h.transmit_ts);
    return p;
}

bytes ntp_sntp_request(std::uint8_t version, std::uint64_t transmit_ts) {
    ntp_header h;
    h.version = version;
    h.mode = 3;
    h.transmit_ts = transmit_ts;
    return ntp_packet(h);
}

bytes ntp_client_packet(std::uint8_t version, std::uint64_t transmit_ts) {
    ntp_header h;
    h.li = 3;  // unsynchronised, as ntpd says before its first exchange
    h.version = version;
    h.mode = 3;
    h.poll = 6;
    h.precision = -23;
    h.root_delay = 0x00010000;
    h.root_dispersion = 0x00010000;
    h.transmit_ts = transmit_ts;
    return ntp_packet(h);
}

bytes ntp_server_response(std::uint8_t version, std::uint64_t origin_ts, std::uint64_t receive_ts,
                          std::uint64_t transmit_ts) {
    ntp_header h;
    h.version = version;
    h.mode = 4;
    h.stratum = 2;
    h.poll = 6;
    h.precision = -24;
    h.root_delay = 0x00000A3D;
    h.root_dispersion = 0x00001F5C;
    h.refid = 0xC0000201;  // 192.0.2.1: the upstream's address, as stratum >= 2 uses
    h.reference_ts = receive_ts - (std::uint64_t{64} << 32);
    h.origin_ts = origin_ts;
    h.receive_ts = receive_ts;
    h.transmit_ts = transmit_ts;
    return ntp_packet(h);
}

bytes ntp_control_read_vars(std::uint16_t sequence, std::uint16_t association) {
    bytes p;
    put8(p, static_cast<std::uint8_t>((2 << 3) | 6));  // version 2, mode 6 (ntpq sends v2)
    put8(p, 2);                                         // R=0 E=0 M=0, opcode 2 READVAR
    put16(p, sequence);
    put16(p, 0);  // status
    put16(p, association);
    put16(p, 0);  // offset
    put16(p, 0);  // count: no variable names, read all
    return p;
}

bytes ntp_monlist_request() {
    bytes p;
    put8(p, static_cast<std::uint8_t>((2 << 3) | 7));  // R=0 M=0, version 2, mode 7
    put8(p, 0);                                         // A=0, sequence 0
    put8(p, 3);                                         // implementation XNTPD
    put8(p, 42);                                        // MON_GETLIST_1
    put16(p, 0);                                        // err 0, nitems 0
    put16(p, 0);                                        // mbz 0, item size 0
    p.insert(p.end(), 40, 0);                           // data area, as ntpdc pads it
    return p;
}

bytes ntp_with_mac(bytes packet, std::uint32_t key_id, byte_view digest) {
    put32(packet, key_id);
    append(packet, digest);
    return packet;
}

bytes ntp_with_crypto_nak(bytes packet) {
    put32(packet, 0);
    return packet;
}

bytes ntp_client_request(const endpoint_options& ep, std::uint8_t version, std::uint64_t transmit_ts) {
    return udp_frame(ep, ntp_sntp_request(version, transmit_ts));
}

// ---------------------------------------------------------------------------------------------
// BER and SNMP.

bytes ber_length(std::size_t length) {
    bytes l;
    if (length < 0x80) {
        put8(l, static_cast<std::uint8_t>(length));
    } else if (length <= 0xFF) {
        put8(l, 0x81);
        put8(l, static_cast<std::uint8_t>(length));
    } else {
        put8(l, 0x82);
        put16(l, to_u16(length));
    }
    return l;
}

bytes ber_tlv(std::uint8_t tag, byte_view content) {
    bytes t;
    put8(t, tag);
    append(t, ber_length(content.size()));
    append(t, content);
    return t;
}

bytes ber_integer(std::int64_t value, std::uint8_t tag) {
    // Minimal two's complement: drop leading octets that only repeat the sign.
    bytes v;
    for (int shift = 56; shift >= 0; shift -= 8) {
        put8(v, static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> shift));
    }
    std::size_t start = 0;
    while (start + 1 < v.size() &&
           ((v[start] == 0x00 && (v[start + 1] & 0x80) == 0) || (v[start] == 0xFF && (v[start + 1] & 0x80) != 0))) {
        ++start;
    }
    return ber_tlv(tag, byte_view(v).subspan(start));
}

bytes ber_octets(std::string_view s, std::uint8_t tag) {
    bytes v(s.begin(), s.end());
    return ber_tlv(tag, v);
}

bytes ber_octets(byte_view s, std::uint8_t tag) {
    return ber_tlv(tag, s);
}

bytes ber_oid(std::span<const std::uint32_t> arcs) {
    if (arcs.size() < 2) {
        throw std::invalid_argument("ports-gen: an OID needs two arcs");
    }
    bytes v;
    auto put_arc = [&v](std::uint32_t arc) {
        bytes groups;
        do {
            groups.push_back(static_cast<std::uint8_t>(arc & 0x7F));
            arc >>= 7;
        } while (arc != 0);
        for (std::size_t i = groups.size(); i-- > 0;) {
            v.push_back(static_cast<std::uint8_t>(groups[i] | (i != 0 ? 0x80 : 0)));
        }
    };
    put_arc(arcs[0] * 40 + arcs[1]);
    for (std::size_t i = 2; i < arcs.size(); ++i) {
        put_arc(arcs[i]);
    }
    return ber_tlv(0x06, v);
}

bytes ber_null() {
    return bytes{0x05, 0x00};
}

namespace {

bytes concat(std::initializer_list<byte_view> parts) {
    bytes out;
    for (const auto& p : parts) {
        append(out, p);
    }
    return out;
}

constexpr std::uint32_t oid_sys_descr[] = {1, 3, 6, 1, 2, 1, 1, 1, 0};
constexpr std::uint32_t oid_sys_uptime[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
constexpr std::uint32_t oid_if_table[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};
constexpr std::uint32_t oid_snmp_trap_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};
constexpr std::uint32_t oid_link_down[] = {1, 3, 6, 1, 6, 3, 1, 1, 5, 3};
constexpr std::uint32_t oid_if_index[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 2};
constexpr std::uint32_t oid_enterprise[] = {1, 3, 6, 1, 4, 1, 8072, 3, 2, 10};

bytes varbind(std::span<const std::uint32_t> oid, byte_view value) {
    return ber_tlv(0x30, concat({ber_oid(oid), value}));
}

bytes varbinds(std::initializer_list<byte_view> binds) {
    return ber_tlv(0x30, concat(binds));
}

// GetRequest-style PDU: request id, error status/non-repeaters, error index/max-repetitions.
bytes pdu(std::uint8_t type, std::int32_t request_id, std::int32_t a, std::int32_t b, byte_view binds) {
    return ber_tlv(type, concat({ber_integer(request_id), ber_integer(a), ber_integer(b), binds}));
}

bytes community_message(std::int32_t version, std::string_view community, byte_view body) {
    return ber_tlv(0x30, concat({ber_integer(version), ber_octets(community), body}));
}

bytes v2_notification_binds(std::uint32_t uptime) {
    return varbinds({varbind(oid_sys_uptime, ber_integer(uptime, 0x43)),
                     varbind(oid_snmp_trap_oid, ber_oid(oid_link_down)),
                     varbind(oid_if_index, ber_integer(2))});
}

bytes usm_parameters(std::string_view user, std::size_t auth_length, std::size_t priv_length) {
    static constexpr std::uint8_t engine_id[] = {0x80, 0x00, 0x1F, 0x88, 0x80, 0x3B, 0x5C, 0x21,
                                                 0x7A, 0x61, 0x0D, 0x5E, 0x00, 0x00, 0x00, 0x00};
    const bytes auth(auth_length, 0xA5);  // any digest: nobody verifies it here
    const bytes priv(priv_length, 0x5A);
    const bytes usm = ber_tlv(0x30, concat({ber_octets(byte_view(engine_id)), ber_integer(7), ber_integer(123456),
                                            ber_octets(user), ber_octets(byte_view(auth)), ber_octets(byte_view(priv))}));
    return ber_octets(byte_view(usm));
}

bytes v3_message(std::int32_t msg_id, std::uint8_t flags, byte_view security, byte_view data) {
    const std::uint8_t flag_octet[] = {flags};
    const bytes global = ber_tlv(0x30, concat({ber_integer(msg_id), ber_integer(65507),
                                               ber_octets(byte_view(flag_octet)), ber_integer(3)}));
    return ber_tlv(0x30, concat({ber_integer(3), global, security, data}));
}

}  // namespace

bytes snmp_v1_get_request(std::string_view community, std::int32_t request_id) {
    return community_message(0, community, pdu(0xA0, request_id, 0, 0, varbinds({varbind(oid_sys_descr, ber_null())})));
}

bytes snmp_v2c_get_next(std::string_view community, std::int32_t request_id) {
    return community_message(1, community, pdu(0xA1, request_id, 0, 0, varbinds({varbind(oid_if_table, ber_null())})));
}

bytes snmp_v2c_get_bulk(std::string_view community, std::int32_t request_id, std::int32_t non_repeaters,
                        std::int32_t max_repetitions) {
    return community_message(1, community,
                             pdu(0xA5, request_id, non_repeaters, max_repetitions,
                                 varbinds({varbind(oid_sys_uptime, ber_null()), varbind(oid_if_table, ber_null())})));
}

bytes snmp_v2c_response(std::string_view community, std::int32_t request_id) {
    return community_message(
        1, community,
        pdu(0xA2, request_id, 0, 0,
            varbinds({varbind(oid_sys_descr, ber_octets(std::string_view("ports-gen edge router, rev 1.2"))),
                      varbind(oid_sys_uptime, ber_integer(8640000, 0x43))})));
}

bytes snmp_v1_trap(std::string_view community, std::array<std::uint8_t, 4> agent, std::uint32_t uptime) {
    // Trap-PDU (RFC 1157 4.1.6): no request id, enterprise + agent address + generic/specific.
    const bytes body = ber_tlv(0xA4, concat({ber_oid(oid_enterprise), ber_octets(byte_view(agent), 0x40),
                                             ber_integer(2), ber_integer(0), ber_integer(uptime, 0x43),
                                             varbinds({varbind(oid_if_index, ber_integer(2))})}));
    return community_message(0, community, body);
}

bytes snmp_v2c_trap(std::string_view community, std::int32_t request_id, std::uint32_t uptime) {
    return community_message(1, community, pdu(0xA7, request_id, 0, 0, v2_notification_binds(uptime)));
}

bytes snmp_v2c_inform(std::string_view community, std::int32_t request_id, std::uint32_t uptime) {
    return community_message(1, community, pdu(0xA6, request_id, 0, 0, v2_notification_binds(uptime)));
}

bytes snmp_v3_get_request(std::string_view user, std::int32_t msg_id) {
    static constexpr std::uint8_t context_engine[] = {0x80, 0x00, 0x1F, 0x88, 0x80, 0x3B, 0x5C, 0x21,
                                                      0x7A, 0x61, 0x0D, 0x5E, 0x00, 0x00, 0x00, 0x00};
    const bytes scoped = ber_tlv(0x30, concat({ber_octets(byte_view(context_engine)), ber_octets(std::string_view("")),
                                               pdu(0xA0, msg_id, 0, 0, varbinds({varbind(oid_sys_descr, ber_null())}))}));
    return v3_message(msg_id, 0x05, usm_parameters(user, 12, 0), scoped);  // auth, reportable
}

bytes snmp_v3_encrypted(std::string_view user, std::int32_t msg_id, byte_view ciphertext) {
    return v3_message(msg_id, 0x07, usm_parameters(user, 12, 8), ber_octets(ciphertext));
}

bytes snmp_bad_version(std::string_view community, std::int32_t request_id) {
    return community_message(2, community, pdu(0xA0, request_id, 0, 0, varbinds({varbind(oid_sys_descr, ber_null())})));
}

namespace {
// Splits an outer TLV into its tag and content (the message builders above made it).
std::pair<std::uint8_t, bytes> split_outer(const bytes& tlv) {
    if (tlv.size() < 2) {
        throw std::invalid_argument("ports-gen: not a TLV");
    }
    std::size_t header = 2;
    if (tlv[1] & 0x80) {
        header += tlv[1] & 0x7F;
    }
    return {tlv[0], bytes(tlv.begin() + static_cast<std::ptrdiff_t>(header), tlv.end())};
}
}  // namespace

bytes snmp_length_overrun(bytes valid_message, std::size_t extra) {
    auto [tag, content] = split_outer(valid_message);
    bytes out;
    put8(out, tag);
    append(out, ber_length(content.size() + extra));
    append(out, content);
    return out;
}

bytes snmp_indefinite_length(bytes valid_message) {
    auto [tag, content] = split_outer(valid_message);
    bytes out;
    put8(out, tag);
    put8(out, 0x80);
    append(out, content);
    put16(out, 0);  // end-of-contents, as a BER (not DER) encoder would write
    return out;
}

// ---------------------------------------------------------------------------------------------
// L2TP.

bytes l2tp_avp(bool mandatory, std::uint16_t type, byte_view value) {
    bytes a;
    put16(a, static_cast<std::uint16_t>((mandatory ? 0x8000 : 0) | (6 + value.size())));
    put16(a, 0);  // IETF vendor
    put16(a, type);
    append(a, value);
    return a;
}

namespace {
bytes u16_value(std::uint16_t v) {
    bytes b;
    put16(b, v);
    return b;
}
bytes u32_value(std::uint32_t v) {
    bytes b;
    put32(b, v);
    return b;
}
bytes text_value(std::string_view s) {
    return bytes(s.begin(), s.end());
}
}  // namespace

bytes l2tp_v2_control(std::uint16_t tunnel, std::uint16_t session, std::uint16_t ns, std::uint16_t nr,
                      byte_view avps, std::uint8_t flags0, std::uint8_t version) {
    const bool with_length = (flags0 & 0x40) != 0;
    bytes h;
    put8(h, flags0);
    put8(h, version);
    if (with_length) {
        put16(h, to_u16(12 + avps.size()));
    }
    put16(h, tunnel);
    put16(h, session);
    put16(h, ns);
    put16(h, nr);
    append(h, avps);
    return h;
}

bytes l2tp_v2_sccrq_avps(std::uint16_t assigned_tunnel, std::string_view host_name) {
    return concat({l2tp_avp(true, 0, u16_value(1)),           // Message Type: SCCRQ
                   l2tp_avp(true, 2, u16_value(0x0100)),      // Protocol Version 1.0
                   l2tp_avp(true, 3, u32_value(3)),           // Framing Capabilities: sync+async
                   l2tp_avp(true, 7, text_value(host_name)),  // Host Name
                   l2tp_avp(true, 9, u16_value(assigned_tunnel))});
}

bytes l2tp_v2_sccrq(std::uint16_t assigned_tunnel, std::string_view host_name) {
    return l2tp_v2_control(0, 0, 0, 0, l2tp_v2_sccrq_avps(assigned_tunnel, host_name));
}

bytes l2tp_v2_zlb_ack(std::uint16_t tunnel, std::uint16_t ns, std::uint16_t nr) {
    return l2tp_v2_control(tunnel, 0, ns, nr, {});
}

bytes l2tp_v2_data(std::uint16_t tunnel, std::uint16_t session, const l2tp_data_flags& flags, byte_view ppp) {
    std::uint8_t flags0 = 0;
    if (flags.length) {
        flags0 |= 0x40;
    }
    if (flags.sequence) {
        flags0 |= 0x08;
    }
    if (flags.offset_pad) {
        flags0 |= 0x02;
    }
    bytes h;
    put8(h, flags0);
    put8(h, 2);
    if (flags.length) {
        put16(h, 0);  // filled once the size is known
    }
    put16(h, tunnel);
    put16(h, session);
    if (flags.sequence) {
        put16(h, 17);
        put16(h, 0);
    }
    if (flags.offset_pad) {
        put16(h, *flags.offset_pad);
        h.insert(h.end(), *flags.offset_pad, 0);
    }
    append(h, ppp);
    if (flags.length) {
        set16(h, 2, to_u16(h.size()));
    }
    return h;
}

bytes l2tp_v3_udp_sccrq(std::string_view host_name, std::uint32_t assigned_ccid) {
    const bytes avps = concat({l2tp_avp(true, 0, u16_value(1)),           // Message Type: SCCRQ
                               l2tp_avp(true, 7, text_value(host_name)),  // Host Name
                               l2tp_avp(false, 60, u32_value(0xC0000201)),  // Router ID
                               l2tp_avp(true, 61, u32_value(assigned_ccid))});
    bytes h;
    put8(h, 0xC8);  // T, L, S
    put8(h, 3);
    put16(h, to_u16(12 + avps.size()));
    put32(h, 0);  // control connection id: 0 until the peer assigns one
    put16(h, 0);
    put16(h, 0);
    append(h, avps);
    return h;
}

bytes l2tp_v3_udp_data(std::uint32_t session, byte_view l2_frame) {
    bytes h;
    put16(h, 0x0003);  // T=0, version 3
    put16(h, 0);       // reserved
    put32(h, session);
    put32(h, 0x40000001);  // default L2-specific sublayer: S bit, sequence 1
    append(h, l2_frame);
    return h;
}

// ---------------------------------------------------------------------------------------------
// PPTP.

bytes pptp_control(std::uint16_t control_type, byte_view body, std::uint32_t cookie,
                   std::optional<std::uint16_t> length_field) {
    bytes m;
    put16(m, length_field.value_or(to_u16(12 + body.size())));
    put16(m, 1);
    put32(m, cookie);
    put16(m, control_type);
    put16(m, 0);
    append(m, body);
    return m;
}

namespace {
bytes start_control_body(bool reply, std::string_view host_name, std::string_view vendor) {
    bytes b;
    put16(b, 0x0100);  // protocol version 1.0
    if (reply) {
        put8(b, 1);  // result: successful channel establishment
        put8(b, 0);
    } else {
        put16(b, 0);  // reserved1
    }
    put32(b, 3);       // framing capabilities: async + sync
    put32(b, 3);       // bearer capabilities: analog + digital
    put16(b, 0);       // maximum channels
    put16(b, 0x0100);  // firmware revision
    put_text(b, host_name, 64);
    put_text(b, vendor, 64);
    return b;
}
}  // namespace

bytes pptp_sccrq(std::string_view host_name, std::string_view vendor) {
    return pptp_control(1, start_control_body(false, host_name, vendor));
}

bytes pptp_sccrp(std::string_view host_name, std::string_view vendor) {
    return pptp_control(2, start_control_body(true, host_name, vendor));
}

bytes pptp_ocrq(std::uint16_t call_id, std::uint16_t serial, std::string_view phone) {
    bytes b;
    put16(b, call_id);
    put16(b, serial);
    put32(b, 300);        // minimum bps
    put32(b, 100000000);  // maximum bps
    put32(b, 3);          // bearer type: any
    put32(b, 3);          // framing type: any
    put16(b, 64);         // packet receive window
    put16(b, 0);          // processing delay
    put16(b, static_cast<std::uint16_t>(std::min<std::size_t>(phone.size(), 64)));
    put16(b, 0);
    put_text(b, phone, 64);
    put_text(b, "", 64);  // subaddress
    return pptp_control(7, b);
}

bytes pptp_ocrp(std::uint16_t call_id, std::uint16_t peer_call_id) {
    bytes b;
    put16(b, call_id);
    put16(b, peer_call_id);
    put8(b, 1);  // connected
    put8(b, 0);
    put16(b, 0);  // cause
    put32(b, 100000000);
    put16(b, 64);
    put16(b, 0);
    put32(b, 0);  // physical channel id
    return pptp_control(8, b);
}

bytes pptp_echo_request(std::uint32_t identifier) {
    return pptp_control(5, u32_value(identifier));
}

bytes pptp_echo_reply(std::uint32_t identifier) {
    bytes b = u32_value(identifier);
    put8(b, 1);  // OK
    put8(b, 0);
    put16(b, 0);
    return pptp_control(6, b);
}

bytes pptp_set_link_info(std::uint16_t peer_call_id) {
    bytes b;
    put16(b, peer_call_id);
    put16(b, 0);
    put32(b, 0xFFFFFFFF);  // send ACCM
    put32(b, 0xFFFFFFFF);  // receive ACCM
    return pptp_control(15, b);
}

bytes pptp_call_clear_request(std::uint16_t call_id) {
    bytes b;
    put16(b, call_id);
    put16(b, 0);
    return pptp_control(12, b);
}

bytes pptp_call_disconnect_notify(std::uint16_t call_id) {
    bytes b;
    put16(b, call_id);
    put8(b, 3);  // result: call disconnected by admin
    put8(b, 0);
    put16(b, 0);
    put16(b, 0);
    put_text(b, "", 128);  // call statistics
    return pptp_control(13, b);
}

// ---------------------------------------------------------------------------------------------
// DNS and HTTP.

namespace {
void put_dns_name(bytes& b, std::string_view name) {
    while (!name.empty()) {
        const auto dot = name.find('.');
        const auto label = name.substr(0, dot);
        put8(b, static_cast<std::uint8_t>(label.size()));
        append(b, label);
        name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    put8(b, 0);
}
}  // namespace

bytes dns_query(std::uint16_t id, std::string_view name) {
    bytes d;
    put16(d, id);
    put16(d, 0x0100);  // standard query, recursion desired
    put16(d, 1);
    put16(d, 0);
    put16(d, 0);
    put16(d, 0);
    put_dns_name(d, name);
    put16(d, 1);  // A
    put16(d, 1);  // IN
    return d;
}

bytes dns_response(std::uint16_t id, std::string_view name, std::array<std::uint8_t, 4> address) {
    bytes d;
    put16(d, id);
    put16(d, 0x8180);
    put16(d, 1);
    put16(d, 1);
    put16(d, 0);
    put16(d, 0);
    put_dns_name(d, name);
    put16(d, 1);
    put16(d, 1);
    put16(d, 0xC00C);  // pointer to the question's name
    put16(d, 1);
    put16(d, 1);
    put32(d, 300);
    put16(d, 4);
    append(d, address);
    return d;
}

bytes http_get(std::string_view host, std::string_view path) {
    std::string s = "GET ";
    s += path;
    s += " HTTP/1.1\r\nHost: ";
    s += host;
    s += "\r\nUser-Agent: ports-gen/0.1\r\nAccept: */*\r\n\r\n";
    return text_value(s);
}

bytes http_response(std::size_t body_length) {
    std::string s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ";
    s += std::to_string(body_length);
    s += "\r\n\r\n";
    s.append(body_length, 'x');
    return text_value(s);
}

// ---------------------------------------------------------------------------------------------
// Tally.

std::size_t class_index(std::string_view cls) {
    for (std::size_t i = 0; i < class_names.size(); ++i) {
        if (class_names[i] == cls) {
            return i;
        }
    }
    throw std::invalid_argument("ports-gen: unknown class " + std::string(cls));
}

mix_tally tally(std::span<const frame> frames) {
    mix_tally t;
    for (const auto& f : frames) {
        auto& c = t.classes[class_index(f.cls)];
        ++c.packets;
        c.bytes += f.bytes.size();
        t.total.packets += 1;
        t.total.bytes += f.bytes.size();
        if (f.malformed) {
            ++c.malformed;
            ++t.total.malformed;
        }
    }
    return t;
}

std::string tally_json(const mix_tally& t) {
    std::string s = "{\"total\":{\"packets\":" + std::to_string(t.total.packets) +
                    ",\"bytes\":" + std::to_string(t.total.bytes) + "},\"classes\":{";
    for (std::size_t i = 0; i < class_names.size(); ++i) {
        const auto& c = t.classes[i];
        if (i != 0) {
            s += ",";
        }
        s += "\"" + std::string(class_names[i]) + "\":{\"packets\":" + std::to_string(c.packets) +
             ",\"bytes\":" + std::to_string(c.bytes) + ",\"malformed\":" + std::to_string(c.malformed) + "}";
    }
    s += "}}\n";
    return s;
}

// ---------------------------------------------------------------------------------------------
// The mix.

namespace {

// splitmix64: tiny, well mixed, and the same everywhere (std distributions are not).
class rng {
public:
    explicit rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) (the modulo bias is irrelevant at these sizes).
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    std::uint64_t range(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(next()); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(next()); }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return unit() < p; }
    bytes fill(std::size_t n) {
        bytes b(n);
        for (auto& x : b) {
            x = static_cast<std::uint8_t>(next());
        }
        return b;
    }

private:
    std::uint64_t state_;
};

// Labels are views: composed ones are kept for the life of the program. The set of distinct
// labels is small (variants x encapsulations), so this does not grow with the mix.
std::string_view intern(std::string s) {
    static std::mutex mutex;
    static std::set<std::string, std::less<>> labels;
    const std::lock_guard lock(mutex);
    return *labels.insert(std::move(s)).first;
}

enum class ip_family : std::uint8_t { any, v4_only, v6_only, none };

struct context {
    rng& r;
    endpoint_options ep;
    std::uint64_t now_us;
};

struct variant {
    std::string_view cls;
    bool malformed;
    std::string_view name;
    ip_family family;
    unsigned weight;
    std::function<bytes(context&)> build;
};

constexpr std::uint16_t port_ntp = 123;
constexpr std::uint16_t port_snmp = 161;
constexpr std::uint16_t port_trap = 162;
constexpr std::uint16_t port_l2tp = 1701;
constexpr std::uint16_t port_pptp = 1723;

// Ephemeral ports stay above every service port the engine knows, so that the service side
// alone decides the class.
std::uint16_t ephemeral(rng& r) {
    return static_cast<std::uint16_t>(r.range(49152, 65535));
}
void to_service(context& c, std::uint16_t port) {
    c.ep.src_port = ephemeral(c.r);
    c.ep.dst_port = port;
}
void from_service(context& c, std::uint16_t port) {
    c.ep.src_port = port;
    c.ep.dst_port = ephemeral(c.r);
}
tcp_options tcp_data(rng& r) {
    tcp_options t;
    t.seq = r.u32();
    t.ack = r.u32();
    return t;
}
std::string community(rng& r) {
    return r.chance(0.7) ? "public" : "private";
}
std::int32_t request_id(rng& r) {
    return static_cast<std::int32_t>(r.below(0x7FFFFFFF));
}
// An inner IPv4 packet (ICMP echo with size-varying data) for tunnels to carry.
bytes inner_icmp(rng& r, std::size_t max_data) {
    endpoint_options inner;
    inner.src_ip4 = {10, 0, 0, static_cast<std::uint8_t>(r.range(1, 254))};
    inner.dst_ip4 = {10, 0, 1, static_cast<std::uint8_t>(r.range(1, 254))};
    inner.ip_id = r.u16();
    return ip_packet(inner, ipproto_icmp, icmpv4_echo(r.u16(), r.u16(), r.fill(r.below(max_data + 1))));
}
bytes udp_ntp(context& c, const bytes& payload, std::uint16_t port = port_ntp) {
    to_service(c, port);
    return udp_frame(c.ep, payload);
}
std::uint64_t ntp_now(const context& c) {
    return ntp_timestamp(c.now_us);
}
// A UDP/123 datagram (NTP + MAC) split into two IPv4 fragments; keep the first or the second.
bytes ntp_fragment(context& c, bool first, std::size_t first_payload_bytes) {
    to_service(c, port_ntp);
    const bytes digest = c.r.fill(20);
    const bytes ntp = ntp_with_mac(ntp_client_packet(4, ntp_now(c)), c.r.u32() | 1, digest);
    const bytes udp = udp_datagram(c.ep, ntp);
    const std::size_t split = 8 + first_payload_bytes;  // multiple of 8 by construction
    if (first) {
        return ethernet_frame(c.ep, ethertype_ipv4,
                              ip_packet(c.ep, ipproto_udp, byte_view(udp).first(split), {0, true}));
    }
    return ethernet_frame(c.ep, ethertype_ipv4,
                          ip_packet(c.ep, ipproto_udp, byte_view(udp).subspan(split), {static_cast<std::uint16_t>(split), false}));
}
bytes pptp_tcp(context& c, bool to_server, const bytes& message) {
    if (to_server) {
        to_service(c, port_pptp);
    } else {
        from_service(c, port_pptp);
    }
    return tcp_frame(c.ep, tcp_data(c.r), message);
}
bytes gre_frame(context& c, const gre_options& g, const bytes& payload) {
    return ip_frame(c.ep, ipproto_gre, gre_packet(g, payload));
}
bytes pptp_gre_data(context& c, bool with_ack) {
    gre_options g;
    g.version = 1;
    g.protocol = gre_proto_ppp;
    g.pptp_call_id = c.r.u16();
    g.sequence = c.r.u32() & 0xFFFF;
    if (with_ack) {
        g.ack = *g.sequence - 1;
    }
    return gre_frame(c, g, ppp_frame(0x0021, inner_icmp(c.r, 400)));
}

std::vector<variant> make_variants() {
    std::vector<variant> v;
    auto add = [&v](std::string_view cls, bool malformed, std::string_view name, ip_family family, unsigned weight,
                    std::function<bytes(context&)> build) {
        v.push_back(variant{cls, malformed, name, family, weight, std::move(build)});
    };
    const auto any = ip_family::any;

    // --- ntp ---------------------------------------------------------------------------------
    add("ntp", false, "ntp-v4-sntp-request", any, 4, [](context& c) { return udp_ntp(c, ntp_sntp_request(4, ntp_now(c))); });
    add("ntp", false, "ntp-v3-sntp-request", any, 2, [](context& c) { return udp_ntp(c, ntp_sntp_request(3, ntp_now(c))); });
    add("ntp", false, "ntp-v4-client", any, 4, [](context& c) { return udp_ntp(c, ntp_client_packet(4, ntp_now(c))); });
    add("ntp", false, "ntp-v4-server", any, 4, [](context& c) {
        from_service(c, port_ntp);
        const std::uint64_t t = ntp_now(c);
        return udp_frame(c.ep, ntp_server_response(4, t - 0x10000000, t - 0x100000, t));
    });
    add("ntp", false, "ntp-v4-symmetric", any, 1, [](context& c) {
        c.ep.src_port = port_ntp;
        c.ep.dst_port = port_ntp;
        ntp_header h;
        h.mode = 1;
        h.stratum = 3;
        h.poll = 10;
        h.precision = -20;
        h.transmit_ts = ntp_now(c);
        return udp_frame(c.ep, ntp_packet(h));
    });
    add("ntp", false, "ntp-v2-control-readvar", any, 2,
        [](context& c) { return udp_ntp(c, ntp_control_read_vars(c.r.u16(), 0)); });
    add("ntp", false, "ntp-v2-monlist", any, 2, [](context& c) { return udp_ntp(c, ntp_monlist_request()); });
    add("ntp", false, "ntp-v4-client-mac", any, 2, [](context& c) {
        return udp_ntp(c, ntp_with_mac(ntp_client_packet(4, ntp_now(c)), c.r.range(1, 65535), c.r.fill(20)));
    });
    add("ntp", false, "ntp-v4-server-crypto-nak", any, 1, [](context& c) {
        from_service(c, port_ntp);
        const std::uint64_t t = ntp_now(c);
        return udp_frame(c.ep, ntp_with_crypto_nak(ntp_server_response(4, t - 0x10000000, t - 0x100000, t)));
    });
    add("ntp", false, "ntp-first-fragment", ip_family::v4_only, 1, [](context& c) { return ntp_fragment(c, true, 48); });

    add("ntp", true, "ntp-truncated-20", any, 2, [](context& c) {
        bytes p = ntp_client_packet(4, ntp_now(c));
        p.resize(20);
        return udp_ntp(c, p);
    });
    add("ntp", true, "ntp-version-0", any, 2, [](context& c) { return udp_ntp(c, ntp_sntp_request(0, ntp_now(c))); });
    add("ntp", true, "ntp-trailing-7", any, 2, [](context& c) {
        bytes p = ntp_client_packet(4, ntp_now(c));
        const bytes junk = c.r.fill(7);
        p.insert(p.end(), junk.begin(), junk.end());
        return udp_ntp(c, p);
    });
    add("ntp", true, "ntp-udp-length-long", any, 2, [](context& c) {
        to_service(c, port_ntp);
        const bytes p = ntp_sntp_request(4, ntp_now(c));
        return udp_frame(c.ep, p, static_cast<std::uint16_t>(8 + p.size() + 16));
    });
    // A first fragment is counted by its ports without parsing its partial payload (the engine
    // does not reassemble), so a short one is not malformed either.
    add("ntp", false, "ntp-first-fragment-short", ip_family::v4_only, 1,
        [](context& c) { return ntp_fragment(c, true, 16); });

    // --- snmp (161) ---------------------------------------------------------------------------
    auto snmp_to = [](context& c, const bytes& m) {
        to_service(c, port_snmp);
        return udp_frame(c.ep, m);
    };
    add("snmp", false, "snmp-v1-get", any, 4, [snmp_to](context& c) {
        return snmp_to(c, snmp_v1_get_request("public", request_id(c.r)));
    });
    add("snmp", false, "snmp-v2c-getnext", any, 3, [snmp_to](context& c) {
        return snmp_to(c, snmp_v2c_get_next(community(c.r), request_id(c.r)));
    });
    add("snmp", false, "snmp-v2c-getbulk", any, 2, [snmp_to](context& c) {
        return snmp_to(c, snmp_v2c_get_bulk(community(c.r), request_id(c.r), 1, 10));
    });
    add("snmp", false, "snmp-v2c-response", any, 3, [](context& c) {
        from_service(c, port_snmp);
        return udp_frame(c.ep, snmp_v2c_response(community(c.r), request_id(c.r)));
    });
    add("snmp", false, "snmp-v3-get", any, 2, [snmp_to](context& c) {
        return snmp_to(c, snmp_v3_get_request("operator", request_id(c.r)));
    });
    add("snmp", false, "snmp-v3-encrypted", any, 2, [snmp_to](context& c) {
        return snmp_to(c, snmp_v3_encrypted("operator", request_id(c.r), c.r.fill(8 * c.r.range(4, 12))));
    });
    add("snmp", true, "snmp-ber-length-overrun", any, 2, [snmp_to](context& c) {
        return snmp_to(c, snmp_length_overrun(snmp_v2c_get_next("public", request_id(c.r)), 20));
    });
    add("snmp", true, "snmp-indefinite-length", any, 2, [snmp_to](context& c) {
        return snmp_to(c, snmp_indefinite_length(snmp_v1_get_request("public", request_id(c.r))));
    });
    add("snmp", true, "snmp-version-2", any, 2, [snmp_to](context& c) {
        return snmp_to(c, snmp_bad_version("public", request_id(c.r)));
    });
    add("snmp", true, "snmp-udp-length-long", any, 2, [](context& c) {
        to_service(c, port_snmp);
        const bytes m = snmp_v1_get_request("public", request_id(c.r));
        return udp_frame(c.ep, m, static_cast<std::uint16_t>(8 + m.size() + 16));
    });

    // --- snmp-trap (162) ----------------------------------------------------------------------
    auto trap_to = [](context& c, const bytes& m) {
        to_service(c, port_trap);
        return udp_frame(c.ep, m);
    };
    add("snmp-trap", false, "snmp-v1-trap", any, 3, [trap_to](context& c) {
        return trap_to(c, snmp_v1_trap("public", c.ep.src_ip4, c.r.u32() >> 4));
    });
    add("snmp-trap", false, "snmp-v2c-trap", any, 3, [trap_to](context& c) {
        return trap_to(c, snmp_v2c_trap(community(c.r), request_id(c.r), c.r.u32() >> 4));
    });
    add("snmp-trap", false, "snmp-v2c-inform", any, 2, [trap_to](context& c) {
        return trap_to(c, snmp_v2c_inform(community(c.r), request_id(c.r), c.r.u32() >> 4));
    });
    add("snmp-trap", true, "snmp-trap-ber-length-overrun", any, 2, [trap_to](context& c) {
        return trap_to(c, snmp_length_overrun(snmp_v2c_trap("public", request_id(c.r), 100), 20));
    });
    add("snmp-trap", true, "snmp-trap-indefinite-length", any, 1, [trap_to](context& c) {
        return trap_to(c, snmp_indefinite_length(snmp_v1_trap("public", c.ep.src_ip4, 100)));
    });
    add("snmp-trap", true, "snmp-trap-version-2", any, 1, [trap_to](context& c) {
        return trap_to(c, snmp_bad_version("public", request_id(c.r)));
    });

    // --- l2tp ---------------------------------------------------------------------------------
    auto l2tp_udp = [](context& c, const bytes& m) {
        c.ep.src_port = port_l2tp;
        c.ep.dst_port = port_l2tp;
        return udp_frame(c.ep, m);
    };
    add("l2tp", false, "l2tp-v2-sccrq", any, 3, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v2_sccrq(static_cast<std::uint16_t>(c.r.range(1, 65535)), "lac.example"));
    });
    add("l2tp", false, "l2tp-v2-zlb", any, 2, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v2_zlb_ack(static_cast<std::uint16_t>(c.r.range(1, 65535)), 1, 1));
    });
    add("l2tp", false, "l2tp-v2-data", any, 4, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v2_data(c.r.u16(), c.r.u16(), {}, ppp_frame(0x0021, inner_icmp(c.r, 400))));
    });
    add("l2tp", false, "l2tp-v2-data-lso", any, 2, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v2_data(c.r.u16(), c.r.u16(), {true, true, std::uint16_t{2}},
                                        ppp_frame(0x0021, inner_icmp(c.r, 400))));
    });
    add("l2tp", false, "l2tp-v3-sccrq", any, 2, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v3_udp_sccrq("lac.example", c.r.u32() | 1));
    });
    add("l2tp", false, "l2tp-v3-data", any, 2, [l2tp_udp](context& c) {
        endpoint_options inner;
        inner.src_mac = {0x02, 0x10, 0, 0, 0, 1};
        inner.dst_mac = {0x02, 0x10, 0, 0, 0, 2};
        const bytes eth = ethernet_frame(inner, ethertype_ipv4, inner_icmp(c.r, 300), false);
        return l2tp_udp(c, l2tp_v3_udp_data(c.r.u32() | 1, eth));
    });
    add("l2tp", false, "l2tp-v2-sccrq-tcp", any, 1, [](context& c) {
        to_service(c, port_l2tp);
        return tcp_frame(c.ep, tcp_data(c.r), l2tp_v2_sccrq(c.r.u16() | 1, "lac.example"));
    });
    add("l2tp", true, "l2tp-control-no-length-bit", any, 2, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v2_control(0, 0, 0, 0, l2tp_v2_sccrq_avps(c.r.u16() | 1, "lac.example"), 0x88, 2));
    });
    add("l2tp", true, "l2tp-version-1", any, 2, [l2tp_udp](context& c) {
        return l2tp_udp(c, l2tp_v2_control(0, 0, 0, 0, l2tp_v2_sccrq_avps(c.r.u16() | 1, "lac.example"), 0xC8, 1));
    });

    // --- pptp ---------------------------------------------------------------------------------
    add("pptp", false, "pptp-syn", any, 3, [](context& c) {
        to_service(c, port_pptp);
        tcp_options t;
        t.seq = c.r.u32();
        t.flags = tcp_syn;
        t.mss_option = true;
        return tcp_frame(c.ep, t, {});
    });
    add("pptp", false, "pptp-sccrq", any, 2,
        [](context& c) { return pptp_tcp(c, true, pptp_sccrq("pptp-client", "ports-gen")); });
    add("pptp", false, "pptp-sccrp", any, 2,
        [](context& c) { return pptp_tcp(c, false, pptp_sccrp("pptp-server", "ports-gen")); });
    add("pptp", false, "pptp-ocrq", any, 2,
        [](context& c) { return pptp_tcp(c, true, pptp_ocrq(c.r.u16(), c.r.u16(), "5551234")); });
    add("pptp", false, "pptp-ocrp", any, 2,
        [](context& c) { return pptp_tcp(c, false, pptp_ocrp(c.r.u16(), c.r.u16())); });
    add("pptp", false, "pptp-echo-request", any, 2,
        [](context& c) { return pptp_tcp(c, true, pptp_echo_request(c.r.u32())); });
    add("pptp", false, "pptp-echo-reply", any, 2,
        [](context& c) { return pptp_tcp(c, false, pptp_echo_reply(c.r.u32())); });
    add("pptp", false, "pptp-set-link-info", any, 1,
        [](context& c) { return pptp_tcp(c, true, pptp_set_link_info(c.r.u16())); });
    add("pptp", false, "pptp-call-clear-request", any, 1,
        [](context& c) { return pptp_tcp(c, true, pptp_call_clear_request(c.r.u16())); });
    add("pptp", false, "pptp-call-disconnect-notify", any, 1,
        [](context& c) { return pptp_tcp(c, false, pptp_call_disconnect_notify(c.r.u16())); });
    add("pptp", true, "pptp-bad-cookie", any, 2, [](context& c) {
        return pptp_tcp(c, true, pptp_control(5, u32_value(c.r.u32()), 0x1A2B3C4E));
    });
    add("pptp", true, "pptp-length-mismatch", any, 2, [](context& c) {
        // An Echo-Request is 16 bytes; this one claims (and carries) 24.
        bytes body = u32_value(c.r.u32());
        body.resize(12, 0);
        return pptp_tcp(c, true, pptp_control(5, body));
    });
    add("pptp", true, "pptp-control-type-16", any, 2,
        [](context& c) { return pptp_tcp(c, true, pptp_control(16, u32_value(c.r.u32()))); });

    // --- gre ----------------------------------------------------------------------------------
    add("gre", false, "gre-v0-ipv4", any, 3, [](context& c) { return gre_frame(c, {}, inner_icmp(c.r, 500)); });
    add("gre", false, "gre-v0-csum-key-seq", any, 2, [](context& c) {
        gre_options g;
        g.checksum = true;
        g.key = c.r.u32();
        g.sequence = c.r.u32();
        return gre_frame(c, g, inner_icmp(c.r, 400));
    });
    add("gre", false, "gre-v0-ethernet", any, 2, [](context& c) {
        gre_options g;
        g.protocol = ethertype_teb;
        g.key = c.r.u32();
        endpoint_options inner;
        inner.src_mac = {0x02, 0x20, 0, 0, 0, 1};
        inner.dst_mac = {0x02, 0x20, 0, 0, 0, 2};
        return gre_frame(c, g, ethernet_frame(inner, ethertype_ipv4, inner_icmp(c.r, 300), false));
    });
    add("gre", false, "gre-v0-ntp-inside", any, 1, [](context& c) {
        endpoint_options inner;
        inner.src_ip4 = {10, 0, 0, 5};
        inner.dst_ip4 = {10, 0, 1, 1};
        inner.src_port = ephemeral(c.r);
        inner.dst_port = port_ntp;
        const bytes ip = ip_packet(inner, ipproto_udp, udp_datagram(inner, ntp_sntp_request(4, ntp_now(c))));
        return gre_frame(c, {}, ip);
    });
    add("gre", false, "gre-v1-pptp-data", any, 3, [](context& c) { return pptp_gre_data(c, false); });
    add("gre", false, "gre-v1-pptp-data-ack", any, 2, [](context& c) { return pptp_gre_data(c, true); });
    add("gre", false, "gre-v1-pptp-ack-only", any, 2, [](context& c) {
        gre_options g;
        g.version = 1;
        g.protocol = gre_proto_ppp;
        g.pptp_call_id = c.r.u16();
        g.ack = c.r.u32() & 0xFFFF;
        return gre_frame(c, g, {});
    });
    add("gre", true, "gre-version-2", any, 2, [](context& c) {
        gre_options g;
        g.version = 2;
        return gre_frame(c, g, inner_icmp(c.r, 200));
    });
    add("gre", true, "gre-v1-no-key", any, 2, [](context& c) {
        gre_options g;
        g.version = 1;
        g.protocol = gre_proto_ppp;
        g.sequence = c.r.u16();
        return gre_frame(c, g, ppp_frame(0x0021, inner_icmp(c.r, 200)));
    });

    // --- other --------------------------------------------------------------------------------
    add("other", false, "arp-request", ip_family::none, 3, [](context& c) { return arp_request_frame(c.ep); });
    add("other", false, "lldp", ip_family::none, 1, [](context& c) { return lldp_frame(c.ep, "edge-sw1.example"); });
    add("other", false, "icmp-echo", ip_family::v4_only, 3, [](context& c) {
        return ip_frame(c.ep, ipproto_icmp, icmpv4_echo(c.r.u16(), c.r.u16(), c.r.fill(c.r.below(520))));
    });
    add("other", false, "icmpv6-echo", ip_family::v6_only, 3, [](context& c) {
        return ip_frame(c.ep, ipproto_icmpv6, icmpv6_echo(c.ep, c.r.u16(), c.r.u16(), c.r.fill(c.r.below(500))));
    });
    add("other", false, "dns-query", any, 5, [](context& c) {
        to_service(c, 53);
        return udp_frame(c.ep, dns_query(c.r.u16(), "www.example.com"));
    });
    add("other", false, "dns-response", any, 4, [](context& c) {
        from_service(c, 53);
        return udp_frame(c.ep, dns_response(c.r.u16(), "www.example.com", {93, 184, 216, 34}));
    });
    add("other", false, "http-get", any, 4, [](context& c) {
        to_service(c, 80);
        return tcp_frame(c.ep, tcp_data(c.r), http_get("www.example.com", "/index.html"));
    });
    add("other", false, "http-response", any, 4, [](context& c) {
        from_service(c, 80);
        return tcp_frame(c.ep, tcp_data(c.r), http_response(c.r.range(0, 480)));
    });
    add("other", false, "tcp-123", any, 2, [](context& c) {
        to_service(c, port_ntp);
        return tcp_frame(c.ep, tcp_data(c.r), ntp_sntp_request(4, ntp_now(c)));
    });
    add("other", false, "udp-1723", any, 2, [](context& c) {
        to_service(c, port_pptp);
        return udp_frame(c.ep, pptp_echo_request(c.r.u32()));
    });
    add("other", false, "ntp-later-fragment", ip_family::v4_only, 2, [](context& c) { return ntp_fragment(c, false, 48); });
    return v;
}

const std::vector<variant>& variants() {
    static const std::vector<variant> v = make_variants();
    return v;
}

// Realistic-edge class weights, in percent, indexed like class_names.
constexpr std::array<unsigned, class_names.size()> class_weights = {20, 15, 5, 8, 7, 10, 35};

const variant& pick(rng& r, std::string_view cls, bool malformed) {
    unsigned total = 0;
    for (const auto& v : variants()) {
        if (v.cls == cls && v.malformed == malformed) {
            total += v.weight;
        }
    }
    std::uint64_t x = r.below(total);
    for (const auto& v : variants()) {
        if (v.cls == cls && v.malformed == malformed) {
            if (x < v.weight) {
                return v;
            }
            x -= v.weight;
        }
    }
    throw std::logic_error("ports-gen: no variant for class " + std::string(cls));
}

std::array<std::uint8_t, 6> random_mac(rng& r) {
    std::array<std::uint8_t, 6> m{};
    for (auto& b : m) {
        b = static_cast<std::uint8_t>(r.next());
    }
    m[0] = static_cast<std::uint8_t>((m[0] & 0xFC) | 0x02);  // locally administered unicast
    return m;
}

// Documentation prefixes only (RFC 5737, RFC 3849).
std::array<std::uint8_t, 4> random_ip4(rng& r) {
    static constexpr std::array<std::array<std::uint8_t, 3>, 3> nets = {{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}};
    const auto& n = nets[r.below(nets.size())];
    return {n[0], n[1], n[2], static_cast<std::uint8_t>(r.range(1, 254))};
}
std::array<std::uint8_t, 16> random_ip6(rng& r) {
    std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
    for (std::size_t i = 4; i < a.size(); ++i) {
        a[i] = static_cast<std::uint8_t>(r.next());
    }
    return a;
}

}  // namespace

std::vector<frame> make_mix(const mix_options& opt) {
    rng r(opt.seed);
    const double other_share = class_weights[class_index("other")] / 100.0;
    const double malformed_p = std::clamp(opt.malformed_share / (1.0 - other_share), 0.0, 1.0);
    unsigned weight_total = 0;
    for (auto w : class_weights) {
        weight_total += w;
    }

    std::vector<frame> out;
    out.reserve(opt.count);
    for (std::size_t i = 0; i < opt.count; ++i) {
        std::uint64_t x = r.below(weight_total);
        std::size_t ci = 0;
        while (x >= class_weights[ci]) {
            x -= class_weights[ci];
            ++ci;
        }
        const std::string_view cls = class_names[ci];
        const bool malformed = cls != "other" && r.chance(malformed_p);
        const variant& v = pick(r, cls, malformed);

        context c{r, {}, opt.start_us + i * static_cast<std::uint64_t>(opt.gap_us)};
        c.ep.src_mac = random_mac(r);
        c.ep.dst_mac = random_mac(r);
        c.ep.ttl = static_cast<std::uint8_t>(r.chance(0.5) ? 64 : r.range(32, 255));
        c.ep.ip_id = r.u16();
        switch (v.family) {
            case ip_family::v4_only: c.ep.ipv6 = false; break;
            case ip_family::v6_only: c.ep.ipv6 = true; break;
            case ip_family::any:
            case ip_family::none: c.ep.ipv6 = r.chance(0.3); break;
        }
        c.ep.src_ip4 = random_ip4(r);
        c.ep.dst_ip4 = random_ip4(r);
        c.ep.src_ip6 = random_ip6(r);
        c.ep.dst_ip6 = random_ip6(r);
        std::string label(v.name);
        if (v.family != ip_family::none) {
            if (c.ep.ipv6) {
                label += "-ipv6";
                const std::uint64_t e = r.below(10);
                if (e == 0) {
                    c.ep.ext = ipv6_ext::hop_by_hop;
                    label += "-hbh";
                } else if (e == 1) {
                    c.ep.ext = ipv6_ext::destination_options;
                    label += "-dstopt";
                }
            } else {
                label += "-ipv4";
                if (r.chance(0.1)) {
                    c.ep.ipv4_options = true;
                    label += "-opts";
                }
            }
        }
        const double t = r.unit();
        if (t < 0.05) {
            c.ep.tags = {{ethertype_qinq, static_cast<std::uint16_t>(r.range(1, 4094))},
                         {ethertype_vlan, static_cast<std::uint16_t>(r.range(1, 4094))}};
            label += "-qinq";
        } else if (t < 0.20) {
            c.ep.tags = {{ethertype_vlan, static_cast<std::uint16_t>(r.range(1, 4094))}};
            label += "-vlan";
        }

        frame f;
        f.bytes = v.build(c);
        f.timestamp_us = c.now_us;
        f.cls = cls;
        f.malformed = malformed;
        f.label = intern(std::move(label));
        out.push_back(std::move(f));
    }
    return out;
}

}  // namespace ports::gen
