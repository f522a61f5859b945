// Definitions for tunnels.hpp.
#pragma once

namespace ports::parsers {

namespace tunnels_detail {

inline constexpr std::uint16_t gre_c = 0x8000;
inline constexpr std::uint16_t gre_r = 0x4000;
inline constexpr std::uint16_t gre_k = 0x2000;
inline constexpr std::uint16_t gre_s = 0x1000;
inline constexpr std::uint16_t gre_strict = 0x0800;
inline constexpr std::uint16_t gre_recur = 0x0700;
inline constexpr std::uint16_t gre_a = 0x0080;
inline constexpr std::uint16_t gre_reserved = 0x0078;
inline constexpr std::uint16_t gre_ver = 0x0007;

inline constexpr std::uint16_t l2tp_t = 0x8000;
inline constexpr std::uint16_t l2tp_l = 0x4000;
inline constexpr std::uint16_t l2tp_s = 0x0800;
inline constexpr std::uint16_t l2tp_o = 0x0200;
inline constexpr std::uint16_t l2tp_p = 0x0100;
inline constexpr std::uint16_t l2tp_ver = 0x000F;

inline constexpr std::uint16_t avp_m = 0x8000;
inline constexpr std::uint16_t avp_h = 0x4000;
inline constexpr std::uint16_t avp_length = 0x03FF;
inline constexpr std::size_t avp_header = 6;

inline constexpr std::size_t l2tp3_control_header = 12;
inline constexpr std::size_t l2tp3_data_header = 8;

struct message_type {
    status st = status::ok;
    std::uint16_t value = 0;
};

// RFC 2661 4.4.1 / RFC 3931 5.4.1: the first AVP of a control message is the Message Type,
// never hidden, 8 bytes long. An empty body is a ZLB acknowledgement.
inline message_type control_message_type(byte_span body) {
    message_type out;
    if (body.empty()) {
        return out;
    }
    if (body.size() < 8) {
        out.st = status::bad_length;
        return out;
    }
    const std::uint8_t* p = body.data();
    const std::uint16_t head = load_be16(p);
    if ((head & avp_length) != 8 || (head & avp_h) != 0 || load_be16(p + 2) != 0 ||
        load_be16(p + 4) != 0) {
        out.st = status::bad_value;
        return out;
    }
    out.value = load_be16(p + 6);
    return out;
}

inline l2tp_view parse_l2tp_v2(l2tp_view out, byte_span payload) {
    if (out.control &&
        (!out.length_present || !out.sequence_present || out.offset_present || out.priority)) {
        out.st = status::bad_value;
        return out;
    }
    const std::uint8_t* p = payload.data();
    const std::size_t size = payload.size();
    std::size_t header = 2 + (out.length_present ? 2 : 0) + 4 + (out.sequence_present ? 4 : 0) +
                         (out.offset_present ? 2 : 0);
    if (size < header) {
        out.st = status::truncated;
        return out;
    }
    std::size_t off = 2;
    if (out.length_present) {
        out.length = load_be16(p + off);
        off += 2;
    }
    out.tunnel_id = load_be16(p + off);
    out.session_id = load_be16(p + off + 2);
    off += 4;
    if (out.sequence_present) {
        out.ns = load_be16(p + off);
        out.nr = load_be16(p + off + 2);
        off += 4;
    }
    if (out.offset_present) {
        header += load_be16(p + off);
        // header_length is one byte; a padding that long is never sent in practice.
        if (header > 0xFF) {
            out.st = status::unsupported;
            return out;
        }
        if (size < header) {
            out.st = status::truncated;
            return out;
        }
    }
    out.header_length = static_cast<std::uint8_t>(header);
    std::size_t end = size;
    if (out.length_present) {
        if (out.length < header || out.length > size) {
            out.st = status::bad_length;
            return out;
        }
        end = out.length;
    }
    out.body = payload.subspan(header, end - header);
    if (out.control) {
        const message_type type = control_message_type(out.body);
        out.st = type.st;
        out.message_type = type.value;
    }
    return out;
}

inline l2tp_view parse_l2tp_v3(l2tp_view out, byte_span payload) {
    const std::uint8_t* p = payload.data();
    const std::size_t size = payload.size();
    if (!out.control) {
        // RFC 3931 4.1.2.2: flags and version, 16 reserved bits, then the session id.
        if (size < l2tp3_data_header) {
            out.st = status::truncated;
            return out;
        }
        out.session_id = load_be32(p + 4);
        out.header_length = static_cast<std::uint8_t>(l2tp3_data_header);
        out.body = payload.subspan(l2tp3_data_header);
        return out;
    }
    if (!out.length_present || !out.sequence_present) {
        out.st = status::bad_value;
        return out;
    }
    if (size < l2tp3_control_header) {
        out.st = status::truncated;
        return out;
    }
    out.length = load_be16(p + 2);
    out.tunnel_id = load_be32(p + 4);
    out.ns = load_be16(p + 8);
    out.nr = load_be16(p + 10);
    out.header_length = static_cast<std::uint8_t>(l2tp3_control_header);
    if (out.length < l2tp3_control_header || out.length > size) {
        out.st = status::bad_length;
        return out;
    }
    out.body = payload.subspan(l2tp3_control_header, out.length - l2tp3_control_header);
    const message_type type = control_message_type(out.body);
    out.st = type.st;
    out.message_type = type.value;
    return out;
}

// RFC 2637 2.0 message lengths, indexed by control message type.
inline constexpr std::uint16_t pptp_lengths[16] = {
    0,    // 0: not a control message type
    156,  // Start-Control-Connection-Request
    156,  // Start-Control-Connection-Reply
    16,   // Stop-Control-Connection-Request
    16,   // Stop-Control-Connection-Reply
    16,   // Echo-Request
    20,   // Echo-Reply
    168,  // Outgoing-Call-Request
    32,   // Outgoing-Call-Reply
    220,  // Incoming-Call-Request
    24,   // Incoming-Call-Reply
    28,   // Incoming-Call-Connected
    16,   // Call-Clear-Request
    148,  // Call-Disconnect-Notify
    40,   // WAN-Error-Notify
    24,   // Set-Link-Info
};

}  // namespace tunnels_detail

namespace tunnels_detail {

// RFC 2637 4.1 enhanced GRE (version 1): key always present (payload length + call id), PPP
// only. Out of line: PPTP's data channel is rare next to version 0.
[[gnu::noinline]] inline gre_view parse_gre_v1(gre_view out, std::uint16_t flags,
                                               byte_span ip_payload) {
    const std::uint8_t* p = ip_payload.data();
    const std::size_t size = ip_payload.size();
    if ((flags & (gre_c | gre_r | gre_strict | gre_recur | gre_reserved)) != 0 ||
        !out.key_present || out.protocol != gre_proto_ppp) {
        out.st = status::bad_value;
        return out;
    }
    const std::size_t header = 8 + (out.sequence_present ? 4 : 0) + (out.ack_present ? 4 : 0);
    out.header_length = static_cast<std::uint8_t>(header);
    if (size < header) {
        out.st = status::truncated;
        return out;
    }
    out.key = load_be32(p + 4);
    out.payload_length = load_be16(p + 4);
    out.call_id = load_be16(p + 6);
    std::size_t off = 8;
    if (out.sequence_present) {
        out.sequence = load_be32(p + off);
        off += 4;
    }
    if (out.ack_present) {
        out.ack = load_be32(p + off);
    }
    if (out.payload_length > size - header) {
        out.st = status::bad_length;
        out.payload = ip_payload.subspan(header);
        return out;
    }
    out.payload = ip_payload.subspan(header, out.payload_length);
    return out;
}

}  // namespace tunnels_detail

namespace tunnels_detail {

// The general walk: every version, flag and error. Out of line: parse_gre takes the usual
// shape itself.
[[gnu::noinline]] inline gre_view parse_gre_general(byte_span ip_payload) {
    gre_view out;
    if (ip_payload.size() < 4) [[unlikely]] {
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = ip_payload.data();
    const std::size_t size = ip_payload.size();
    const std::uint16_t flags = load_be16(p);
    out.version = static_cast<std::uint8_t>(flags & gre_ver);
    out.checksum_present = (flags & gre_c) != 0;
    out.routing_present = (flags & gre_r) != 0;
    out.key_present = (flags & gre_k) != 0;
    out.sequence_present = (flags & gre_s) != 0;
    out.ack_present = (flags & gre_a) != 0;
    out.protocol = load_be16(p + 2);
    if (out.version > 1) [[unlikely]] {
        out.st = status::bad_version;
        return out;
    }
    if (out.version == 1) [[unlikely]] {
        return parse_gre_v1(out, flags, ip_payload);
    }
    // Routing (RFC 1701 source routing: variable-length SREs, decoded by nobody we feed) is
    // unsupported; the other bits must be zero in version 0.
    if ((flags & (gre_r | gre_strict | gre_recur | gre_reserved | gre_a)) != 0) [[unlikely]] {
        out.st = out.routing_present ? status::unsupported : status::bad_value;
        return out;
    }
    // Checksum (+16 reserved bits), key and sequence are 4 bytes each, in that order.
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(std::popcount(
                                           static_cast<unsigned>(flags & (gre_c | gre_k | gre_s))));
    out.header_length = static_cast<std::uint8_t>(header);
    if (size < header) [[unlikely]] {
        out.st = status::truncated;
        return out;
    }
    std::size_t off = 4;
    if (out.checksum_present) {
        out.checksum = load_be16(p + off);
        off += 4;
    }
    if (out.key_present) {
        out.key = load_be32(p + off);
        off += 4;
    }
    if (out.sequence_present) {
        out.sequence = load_be32(p + off);
    }
    out.payload = ip_payload.subspan(header);
    return out;
}

}  // namespace tunnels_detail

// Fast path: version 0 with no routing, no must-be-zero bit set and the whole header present
// (nearly every GRE packet) is decoded here, in one expression, so that an inlined copy keeps
// it in registers and drops the fields its caller ignores; the same checks and fields as
// parse_gre_general, which decides everything else (declined here: st unsupported).
[[gnu::always_inline]] inline gre_view parse_gre_v0(byte_span ip_payload) {
    using namespace tunnels_detail;
    const std::size_t size = ip_payload.size();
    if (size >= 4) [[likely]] {
        const std::uint8_t* p = ip_payload.data();
        const std::uint16_t flags = load_be16(p);
        if ((flags & (gre_r | gre_strict | gre_recur | gre_reserved | gre_a | gre_ver)) == 0)
            [[likely]] {
            const bool c = (flags & gre_c) != 0;
            const bool k = (flags & gre_k) != 0;
            const bool sq = (flags & gre_s) != 0;
            // Checksum (+16 reserved bits), key and sequence: 4 bytes each when present.
            const std::size_t header =
                4 + 4 * static_cast<std::size_t>(
                            std::popcount(static_cast<unsigned>(flags & (gre_c | gre_k | gre_s))));
            if (size >= header) [[likely]] {
                const std::size_t key_at = c ? 8 : 4;
                const std::size_t sequence_at = key_at + (k ? 4 : 0);
                return gre_view{
                    .st = status::ok,
                    .version = 0,
                    .checksum_present = c,
                    .routing_present = false,
                    .key_present = k,
                    .sequence_present = sq,
                    .ack_present = false,
                    .protocol = load_be16(p + 2),
                    .checksum = c ? load_be16(p + 4) : std::uint16_t{0},
                    .key = k ? load_be32(p + key_at) : 0u,
                    .sequence = sq ? load_be32(p + sequence_at) : 0u,
                    .ack = 0,
                    .payload_length = 0,
                    .call_id = 0,
                    .header_length = static_cast<std::uint8_t>(header),
                    .payload = ip_payload.subspan(header),
                };
            }
        }
    }
    gre_view declined;
    declined.st = status::unsupported;
    return declined;
}

[[gnu::always_inline]] inline gre_view parse_gre(byte_span ip_payload) {
    if (const auto v = parse_gre_v0(ip_payload); v.st == status::ok) [[likely]] {
        return v;
    }
    return tunnels_detail::parse_gre_general(ip_payload);
}

inline l2tp_view parse_l2tp(byte_span payload) {
    using namespace tunnels_detail;
    l2tp_view out;
    if (payload.size() < 2) {
        out.st = status::truncated;
        return out;
    }
    const std::uint16_t flags = load_be16(payload.data());
    out.version = static_cast<std::uint8_t>(flags & l2tp_ver);
    out.control = (flags & l2tp_t) != 0;
    out.length_present = (flags & l2tp_l) != 0;
    out.sequence_present = (flags & l2tp_s) != 0;
    out.offset_present = (flags & l2tp_o) != 0;
    out.priority = (flags & l2tp_p) != 0;
    if (out.version == 2) {
        return parse_l2tp_v2(out, payload);
    }
    if (out.version == 3) {
        return parse_l2tp_v3(out, payload);
    }
    // Version 1 is L2F (RFC 2341), a different protocol on the same port.
    out.st = status::bad_version;
    return out;
}

inline l2tp_view parse_l2tp_ip(byte_span ip_payload) {
    constexpr std::size_t session_id_length = 4;
    if (ip_payload.size() < session_id_length) {
        l2tp_view out;
        out.version = 3;
        out.st = status::truncated;
        return out;
    }
    const std::uint32_t session_id = load_be32(ip_payload.data());
    if (session_id != 0) {
        l2tp_view out;
        out.version = 3;
        out.session_id = session_id;
        out.header_length = static_cast<std::uint8_t>(session_id_length);
        out.body = ip_payload.subspan(session_id_length);
        return out;
    }
    l2tp_view out = parse_l2tp(ip_payload.subspan(session_id_length));
    if (out.st == status::ok && out.version != 3) {
        out.st = status::bad_version;
    } else if (out.st == status::ok && !out.control) {
        // Session ID 0 announces a control message; a data header there is nobody's.
        out.st = status::bad_value;
    }
    out.header_length = static_cast<std::uint8_t>(out.header_length + session_id_length);
    return out;
}

inline std::optional<l2tp_avp> l2tp_avp_iterator::next() {
    using namespace tunnels_detail;
    if (rest_.empty()) {
        return std::nullopt;
    }
    if (rest_.size() < avp_header) {
        failed_ = true;
        rest_ = {};
        return std::nullopt;
    }
    const std::uint8_t* p = rest_.data();
    const std::uint16_t head = load_be16(p);
    const std::size_t length = head & avp_length;
    if (length < avp_header || length > rest_.size()) {
        failed_ = true;
        rest_ = {};
        return std::nullopt;
    }
    l2tp_avp avp;
    avp.mandatory = (head & avp_m) != 0;
    avp.hidden = (head & avp_h) != 0;
    avp.vendor_id = load_be16(p + 2);
    avp.type = load_be16(p + 4);
    avp.value = rest_.subspan(avp_header, length - avp_header);
    rest_ = rest_.subspan(length);
    return avp;
}

inline pptp_view parse_pptp(byte_span payload) {
    constexpr std::size_t pptp_header = 12;
    pptp_view out;
    if (payload.size() < pptp_header) {
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = payload.data();
    out.length = load_be16(p);
    out.message_type = load_be16(p + 2);
    out.magic_cookie = load_be32(p + 4);
    if (out.magic_cookie != pptp_magic_cookie) {
        out.st = status::bad_value;
        return out;
    }
    // RFC 2637 defines no management message (type 2): anything claiming one is not PPTP
    // as deployed, so it is refused like any other unknown type.
    if (out.message_type != 1) {
        out.st = status::bad_value;
        return out;
    }
    out.control_type = load_be16(p + 8);
    if (out.control_type == 0 || out.control_type > 15) {
        out.st = status::bad_value;
        return out;
    }
    if (out.length != tunnels_detail::pptp_lengths[out.control_type]) {
        out.st = status::bad_length;
        return out;
    }
    if (out.length > payload.size()) {
        out.st = status::truncated;
        return out;
    }
    out.message = payload.subspan(0, out.length);
    return out;
}

inline std::optional<byte_span> l2tp_host_name(byte_span body) {
    l2tp_avp_iterator it(body);
    while (const auto avp = it.next()) {
        if (avp->vendor_id == 0 && avp->type == l2tp_avp_host_name) {
            if (avp->hidden) {
                return std::nullopt;
            }
            return avp->value;
        }
    }
    return std::nullopt;
}

namespace tunnels_detail {

// Up to the first NUL: the fields are NUL padded (RFC 2637 2.1).
inline byte_span nul_trimmed(byte_span field) {
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == 0) {
            return field.first(i);
        }
    }
    return field;
}

}  // namespace tunnels_detail

inline std::optional<pptp_sccr_fields> pptp_sccr(const pptp_view& m) {
    // SCCRQ/SCCRP: header 12, reserved 2, version 2, result/reserved 4 (the reply's result and
    // error codes take the request's reserved bytes), framing 4, bearer 4, channels 2, firmware
    // 2, host name 64, vendor 64 = 156.
    constexpr std::size_t host_at = 28;
    constexpr std::size_t field_length = 64;
    if (m.st != status::ok || (m.control_type != pptp_sccrq && m.control_type != pptp_sccrp) ||
        m.message.size() < host_at + 2 * field_length) {
        return std::nullopt;
    }
    return pptp_sccr_fields{
        .host_name = tunnels_detail::nul_trimmed(m.message.subspan(host_at, field_length)),
        .vendor =
            tunnels_detail::nul_trimmed(m.message.subspan(host_at + field_length, field_length)),
    };
}

}  // namespace ports::parsers
