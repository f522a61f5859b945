// Definitions for snmp.hpp. Only the header fields are decoded; variable bindings are left
// untouched, so the cost does not grow with the size of the message.
#pragma once

namespace ports::parsers {

namespace snmp_detail {

inline constexpr std::uint8_t tag_integer = 0x02;
inline constexpr std::uint8_t tag_octet_string = 0x04;
inline constexpr std::uint8_t tag_sequence = 0x30;
inline constexpr std::uint8_t usm_security_model = 3;
inline constexpr std::uint8_t flag_priv = 0x02;

// One BER TLV cut from the front of a span.
struct tlv {
    status st = status::ok;
    std::uint8_t tag = 0;
    byte_span value;
    byte_span rest;  // what follows the TLV inside the same parent
    bool overrun = false;  // the length is well formed but reaches past the end of the input
};

// A value longer than its parent is bad_length: the enclosing length was checked already,
// so the inner one contradicts it. Length octets missing at the end are truncated.
inline tlv read_tlv(byte_span in) {
    tlv t;
    if (in.size() < 2) {
        t.st = status::truncated;
        return t;
    }
    t.tag = in[0];
    const std::uint8_t first = in[1];
    std::size_t header = 2;
    std::size_t length = first;
    if (first >= 0x80) {
        const std::size_t octets = first & 0x7F;
        // 0x80 is the indefinite form, which SNMP forbids; more than four octets cannot
        // describe anything that fits in a datagram.
        if (octets == 0 || octets > 4) {
            t.st = status::bad_length;
            return t;
        }
        if (in.size() < header + octets) {
            t.st = status::truncated;
            return t;
        }
        length = 0;
        for (std::size_t i = 0; i < octets; ++i) {
            length = (length << 8) | in[header + i];
        }
        header += octets;
    }
    if (length > in.size() - header) {
        t.st = status::bad_length;
        t.overrun = true;
        return t;
    }
    t.value = in.subspan(header, length);
    t.rest = in.subspan(header + length);
    return t;
}

// A TLV that must carry a given tag.
inline tlv expect(byte_span in, std::uint8_t tag) {
    tlv t = read_tlv(in);
    if (t.st == status::ok && t.tag != tag) {
        t.st = status::bad_value;
    }
    return t;
}

struct integer {
    status st = status::ok;
    std::int32_t value = 0;
    byte_span rest;
};

inline integer read_integer(byte_span in) {
    integer out;
    const tlv t = expect(in, tag_integer);
    if (t.st != status::ok) {
        out.st = t.st;
        return out;
    }
    if (t.value.empty() || t.value.size() > 4) {
        out.st = status::bad_value;
        return out;
    }
    // Two's complement: start from the sign of the first octet.
    std::uint32_t v = (t.value[0] & 0x80) != 0 ? 0xFFFFFFFFu : 0u;
    for (const std::uint8_t b : t.value) {
        v = (v << 8) | b;
    }
    out.value = static_cast<std::int32_t>(v);
    out.rest = t.rest;
    return out;
}

// PDU tag, then (except in a v1 Trap-PDU) the request-id.
inline snmp_view read_pdu(snmp_view out, byte_span in) {
    const tlv pdu = read_tlv(in);
    if (pdu.st != status::ok) {
        out.st = pdu.st;
        return out;
    }
    if (pdu.tag < snmp_pdu_get || pdu.tag > snmp_pdu_report) {
        out.st = status::bad_value;
        return out;
    }
    out.pdu_type = pdu.tag;
    if (pdu.tag == snmp_pdu_trap_v1) {
        // RFC 1157 Trap-PDU starts with the enterprise OID: there is no request-id.
        return out;
    }
    const integer id = read_integer(pdu.value);
    if (id.st != status::ok) {
        out.st = id.st;
        return out;
    }
    out.request_id = id.value;
    out.has_request_id = true;
    return out;
}

// RFC 3414 UsmSecurityParameters, inside the msgSecurityParameters OCTET STRING.
inline snmp_view read_usm(snmp_view out, byte_span in) {
    const tlv seq = expect(in, tag_sequence);
    if (seq.st != status::ok) {
        out.st = seq.st;
        return out;
    }
    const tlv engine_id = expect(seq.value, tag_octet_string);
    if (engine_id.st != status::ok) {
        out.st = engine_id.st;
        return out;
    }
    const integer boots = read_integer(engine_id.rest);
    if (boots.st != status::ok) {
        out.st = boots.st;
        return out;
    }
    const integer time = read_integer(boots.rest);
    if (time.st != status::ok) {
        out.st = time.st;
        return out;
    }
    const tlv user = expect(time.rest, tag_octet_string);
    if (user.st != status::ok) {
        out.st = user.st;
        return out;
    }
    out.user_name = user.value;
    const tlv auth = expect(user.rest, tag_octet_string);
    if (auth.st != status::ok) {
        out.st = auth.st;
        return out;
    }
    const tlv priv = expect(auth.rest, tag_octet_string);
    if (priv.st != status::ok) {
        out.st = priv.st;
    }
    return out;
}

// RFC 3412 msgGlobalData, msgSecurityParameters and msgData, after the version.
inline snmp_view read_v3(snmp_view out, byte_span in) {
    const tlv global = expect(in, tag_sequence);
    if (global.st != status::ok) {
        out.st = global.st;
        return out;
    }
    const integer msg_id = read_integer(global.value);
    if (msg_id.st != status::ok) {
        out.st = msg_id.st;
        return out;
    }
    out.msg_id = msg_id.value;
    const integer max_size = read_integer(msg_id.rest);
    if (max_size.st != status::ok) {
        out.st = max_size.st;
        return out;
    }
    const tlv flags = expect(max_size.rest, tag_octet_string);
    if (flags.st != status::ok) {
        out.st = flags.st;
        return out;
    }
    if (flags.value.size() != 1) {
        out.st = status::bad_value;
        return out;
    }
    out.msg_flags = flags.value[0];
    const integer model = read_integer(flags.rest);
    if (model.st != status::ok) {
        out.st = model.st;
        return out;
    }
    out.security_model = model.value;

    const tlv security = expect(global.rest, tag_octet_string);
    if (security.st != status::ok) {
        out.st = security.st;
        return out;
    }
    if (out.security_model == usm_security_model) {
        out = read_usm(out, security.value);
        if (out.st != status::ok) {
            return out;
        }
    }

    const tlv data = read_tlv(security.rest);
    if (data.st != status::ok) {
        out.st = data.st;
        return out;
    }
    const bool priv = (out.msg_flags & flag_priv) != 0;
    if (data.tag == tag_octet_string) {
        out.encrypted = true;
        if (!priv) {
            out.st = status::bad_value;
        }
        return out;
    }
    if (data.tag != tag_sequence || priv) {
        out.st = status::bad_value;
        return out;
    }
    const tlv engine = expect(data.value, tag_octet_string);
    if (engine.st != status::ok) {
        out.st = engine.st;
        return out;
    }
    const tlv context = expect(engine.rest, tag_octet_string);
    if (context.st != status::ok) {
        out.st = context.st;
        return out;
    }
    out.context_name = context.value;
    return read_pdu(out, context.rest);
}

// The general walk: every form BER allows, every error told apart. Out of line: the common
// v1/v2c shapes never get here (see parse_snmp).
[[gnu::noinline]] inline snmp_view parse_snmp_general(byte_span payload) {
    snmp_view out;
    const tlv message = read_tlv(payload);
    if (message.st != status::ok) {
        // At the top level a length past the end means the datagram was cut short.
        out.st = message.overrun ? status::truncated : message.st;
        return out;
    }
    if (message.tag != tag_sequence) {
        out.st = status::bad_value;
        return out;
    }
    if (!message.rest.empty()) {
        out.st = status::bad_length;
        return out;
    }
    const integer version = read_integer(message.value);
    if (version.st != status::ok) {
        out.st = version.st;
        return out;
    }
    out.version = version.value;
    if (out.version == 0 || out.version == 1) {
        const tlv community = expect(version.rest, tag_octet_string);
        if (community.st != status::ok) {
            out.st = community.st;
            return out;
        }
        out.community = community.value;
        return read_pdu(out, community.rest);
    }
    if (out.version == 3) {
        return read_v3(out, version.rest);
    }
    out.st = status::bad_version;
    return out;
}

// A BER length in the forms the fast path takes: short, or long with one or two octets.
// header == 0 means another form (or too few bytes for it): the general walk decides.
struct short_length {
    std::size_t header = 0;  // tag + length octets
    std::size_t length = 0;
};

[[gnu::always_inline]] inline short_length read_short_length(const std::uint8_t* p,
                                                             std::size_t avail) {
    if (avail >= 2 && p[1] < 0x80) {
        return {2, p[1]};
    }
    if (avail >= 3 && p[1] == 0x81) {
        return {3, p[2]};
    }
    if (avail >= 4 && p[1] == 0x82) {
        return {4, load_be16(p + 2)};
    }
    return {};
}

}  // namespace snmp_detail

// The common message, decoded inline: a v1/v2c message with a one-octet version, a short-form
// community and a request-id (or a v1 Trap-PDU). Returns parse_snmp's exact result when it
// applies (always ok, v1 or v2c, not encrypted) and nullopt for anything else (v3, errors,
// unusual encodings), which parse_snmp_general then decides. Every check below only ever
// accepts what the general walk accepts, with the same fields.
[[gnu::always_inline]] inline std::optional<snmp_view> parse_snmp_v1_v2c(byte_span payload) {
    using namespace snmp_detail;
    const std::uint8_t* p = payload.data();
    const std::size_t n = payload.size();
    // SEQUENCE spanning the whole datagram, then INTEGER 0 or 1 in one octet.
    const short_length message = read_short_length(p, n);
    if (message.header == 0 || p[0] != tag_sequence || message.header + message.length != n ||
        message.length < 3) [[unlikely]] {
        return std::nullopt;
    }
    std::size_t off = message.header;
    if (p[off] != tag_integer || p[off + 1] != 1 || p[off + 2] > 1) [[unlikely]] {
        return std::nullopt;
    }
    const std::int32_t version = p[off + 2];
    off += 3;
    // OCTET STRING community, short form.
    if (n - off < 2 || p[off] != tag_octet_string || p[off + 1] >= 0x80 ||
        p[off + 1] > n - off - 2) [[unlikely]] {
        return std::nullopt;
    }
    const byte_span community = payload.subspan(off + 2, p[off + 1]);
    off += 2 + community.size();
    // The PDU: its tag and a length that stays inside the message.
    const short_length pdu = read_short_length(p + off, n - off);
    if (pdu.header == 0 || p[off] < snmp_pdu_get || p[off] > snmp_pdu_report ||
        pdu.length > n - off - pdu.header) [[unlikely]] {
        return std::nullopt;
    }
    const std::uint8_t pdu_type = p[off];
    snmp_view out;
    out.version = version;
    out.community = community;
    out.pdu_type = pdu_type;
    if (pdu_type == snmp_pdu_trap_v1) {
        // RFC 1157 Trap-PDU starts with the enterprise OID: there is no request-id.
        return out;
    }
    // request-id: INTEGER of 1 to 4 octets inside the PDU.
    off += pdu.header;
    const std::size_t id_length = pdu.length >= 2 ? p[off + 1] : 0;
    if (pdu.length < 2 || p[off] != tag_integer || id_length == 0 || id_length > 4 ||
        id_length > pdu.length - 2) [[unlikely]] {
        return std::nullopt;
    }
    // Two's complement: start from the sign of the first octet.
    std::uint32_t id = (p[off + 2] & 0x80) != 0 ? 0xFFFFFFFFu : 0u;
    for (std::size_t i = 0; i < id_length; ++i) {
        id = (id << 8) | p[off + 2 + i];
    }
    out.request_id = static_cast<std::int32_t>(id);
    out.has_request_id = true;
    return out;
}

// The common message inline, everything else out of line.
[[gnu::always_inline]] inline snmp_view parse_snmp(byte_span payload) {
    if (const auto v = parse_snmp_v1_v2c(payload)) [[likely]] {
        return *v;
    }
    return snmp_detail::parse_snmp_general(payload);
}

}  // namespace ports::parsers
