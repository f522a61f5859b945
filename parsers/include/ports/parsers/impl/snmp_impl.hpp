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

// The general walk: every form BER allows, every error told apart. Out of line: the fast
// decodes below take the usual messages and leave it the rest (errors, unusual encodings).
[[gnu::noinline]] inline snmp_view parse_snmp_walk(byte_span payload) {
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

// ---- Fast decodes ----
//
// Each one takes the usual encoding of a message, checks exactly what the walk would check on
// it, and returns the walk's result; anything else (an error, a rare form) is declined
// (nullopt) and left to the walk, which alone tells errors apart. So a fast decode may decline
// whatever it likes, but must never claim a message the walk would read differently.
//
// They compare less often than the walk but check no less: within a constructed value the
// children follow each other, so "the last child ends inside its parent" proves it of every
// child before it, and one comparison per parent stands for one per child. Reads, though, are
// never speculative: a header is read only where its octets are known to be there, from the
// message's minimum size for the first ones, else from a check against a parent's end (itself
// inside the message); some checks are there for that alone.

// Tag and short-form length: the two header octets of a TLV as a big-endian 16-bit word.
[[gnu::always_inline]] inline bool short_header(std::uint16_t header, std::uint8_t tag) {
    return (header & 0xFF80) == tag << 8;
}

// An INTEGER's header with a value of 1 to 4 octets (what read_integer accepts) in short form:
// tag 0x02 and a length octet 1..4, in one subtraction (no borrow reaches the tag octet when
// the length octet is 1..4, and any other octet leaves a bit the mask keeps).
[[gnu::always_inline]] inline bool integer_header(std::uint16_t header) {
    return ((header - 0x0201u) & 0xFFFCu) == 0;
}

// Two's complement value of the 1..4 octets at p (read_integer's).
[[gnu::always_inline]] inline std::int32_t integer_value(const std::uint8_t* p, std::size_t n) {
    std::uint32_t v = (p[0] & 0x80) != 0 ? 0xFFFFFFFFu : 0u;
    for (std::size_t i = 0; i < n; ++i) {
        v = (v << 8) | p[i];
    }
    return static_cast<std::int32_t>(v);
}

// A TLV header in short form or long form with one or two length octets, within `avail`
// bytes (at least 2). header == 0: another form, or its length octets are not there.
struct tlv_header {
    std::size_t header = 0;  // tag + length octets
    std::size_t length = 0;
};

[[gnu::always_inline]] inline tlv_header read_header(const std::uint8_t* p, std::size_t avail) {
    const std::uint8_t first = p[1];
    if (first < 0x80) [[likely]] {
        return {2, first};
    }
    if (first == 0x81 && avail >= 3) {
        return {3, p[2]};
    }
    if (first == 0x82 && avail >= 4) {
        return {4, load_be16(p + 2)};
    }
    return {};
}

// The message's outer SEQUENCE, which must span the datagram exactly (read_tlv's forms for it
// less 0x83/0x84, and the walk's "nothing after the message"). Position of its value, or 0.
[[gnu::always_inline]] inline std::size_t message_header(const std::uint8_t* p, std::size_t n) {
    const tlv_header m = read_header(p, n);
    return m.header != 0 && p[0] == tag_sequence && m.header + m.length == n ? m.header : 0;
}

// The PDU at `at` and its request-id (read_pdu), within [at, end): pdu_type, request_id and
// has_request_id set in `out`; false to decline.
[[gnu::always_inline]] inline bool read_pdu_fast(snmp_view& out, const std::uint8_t* p,
                                                 std::size_t at, std::size_t end) {
    // The usual PDU: tag 0xA0..0xA7, a short-form length, then the request-id's header (02,
    // 1..4), all four octets checked in one word by one subtraction (see integer_header: no
    // borrow crosses an octet whose value is in range, and the mask keeps a bit of every
    // octet that is not; 0x80 is the length's form bit). A Report-PDU (0xA8, SNMPv3 only)
    // takes the general branch below.
    if (at + 4 <= end) [[likely]] {
        const std::uint32_t x = load_be32(p + at);
        const std::size_t length = p[at + 1];
        const std::size_t id_length = p[at + 3];
        if (((x - 0xA0000201u) & 0xF880FFFCu) == 0 && at + 2 + length <= end &&
            id_length + 2 <= length) [[likely]] {
            const std::uint8_t type = p[at];
            out.pdu_type = type;
            // A v1 Trap-PDU has no request-id (its value starts with the enterprise OID): one
            // whose first octets happen to pass for one is still only a PDU to the walk.
            const bool has_id = type != snmp_pdu_trap_v1;
            out.request_id = has_id ? integer_value(p + at + 4, id_length) : 0;
            out.has_request_id = has_id;
            return true;
        }
    }
    // Any other form (a long-form length, a Report-PDU, a Trap-PDU, fewer bytes).
    if (at + 2 > end) {
        return false;
    }
    const std::uint8_t type = p[at];
    const tlv_header pdu = read_header(p + at, end - at);
    // The PDU's tag is one of 0xA0..0xA8 and its value stays inside the parent.
    if (static_cast<std::uint8_t>(type - snmp_pdu_get) > snmp_pdu_report - snmp_pdu_get ||
        pdu.header == 0 || pdu.length > end - at - pdu.header) [[unlikely]] {
        return false;
    }
    out.pdu_type = type;
    if (type == snmp_pdu_trap_v1) {
        // RFC 1157 Trap-PDU starts with the enterprise OID: there is no request-id.
        return true;
    }
    // request-id: INTEGER of 1 to 4 octets inside the PDU.
    const std::size_t id = at + pdu.header;
    if (pdu.length < 2 || !integer_header(load_be16(p + id)) || p[id + 1] > pdu.length - 2)
        [[unlikely]] {
        return false;
    }
    out.request_id = integer_value(p + id + 2, p[id + 1]);
    out.has_request_id = true;
    return true;
}

// The rest of a v1/v2c message after its header (h octets) and the version and community
// headers checked: the PDU, then the view.
[[gnu::always_inline]] inline std::optional<snmp_view> v1_v2c_after_header(byte_span payload,
                                                                           std::size_t h) {
    const std::uint8_t* p = payload.data();
    const std::size_t community_length = p[h + 4];
    snmp_view out;
    if (!read_pdu_fast(out, p, h + 5 + community_length, payload.size())) [[unlikely]] {
        return std::nullopt;
    }
    // The version octet is 0 or 1 (checked by the caller): its low bit says which.
    out.version = p[h + 2] & 1;
    out.community = payload.subspan(h + 5, community_length);
    return out;
}

// SNMPv3 with the user-based security model (RFC 3412, RFC 3414), in the encoding agents and
// managers write: version, msgSecurityModel and the INTEGERs' headers in their usual forms,
// short-form lengths inside msgGlobalData and the USM parameters. read_v3's checks on that
// shape, in its order of fields, most of them folded into a few word compares.
[[gnu::always_inline]] inline std::optional<snmp_view> parse_snmp_v3(byte_span payload) {
    const std::uint8_t* p = payload.data();
    const std::size_t n = payload.size();
    // The shortest v3 message with USM parameters has 39 bytes: 32 make every read up to the
    // flags and security model below safe without a check of its own.
    if (n < 32) [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t h = message_header(p, n);
    // version 3 (02 01 03), msgGlobalData (30, short length), msgID's header (02, 1..4; the
    // subtraction as in integer_header).
    const std::uint64_t a = load_be64(p + h);
    if (h == 0 || ((a - 0x100) & 0xFFFFFFFF80FFFC00u) != 0x0201033000020000u) [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t global_end = h + 5 + p[h + 4];
    const std::size_t id_length = p[h + 6];
    const std::size_t max_size = h + 7 + id_length;  // msgMaxSize, an INTEGER of 1..4 octets
    if (!integer_header(load_be16(p + max_size))) [[unlikely]] {
        return std::nullopt;
    }
    // msgFlags (04 01 xx) and msgSecurityModel 3 (02 01 03), the last of msgGlobalData's
    // fields: inside it, so all four are; msgGlobalData inside the message, with room for
    // the three headers below after it.
    const std::size_t flags = max_size + 2 + p[max_size + 1];
    const std::uint64_t f = load_be64(p + flags);
    if ((f & 0xFFFF00FFFFFF0000u) != 0x0401000201030000u || flags + 6 > global_end ||
        global_end + 8 > n) [[unlikely]] {
        return std::nullopt;
    }
    // msgSecurityParameters (04), its UsmSecurityParameters SEQUENCE (30) and
    // msgAuthoritativeEngineID (04), short forms: three headers in a row.
    const std::uint64_t u = load_be64(p + global_end);
    const std::size_t security_end = global_end + 2 + p[global_end + 1];
    const std::size_t usm_end = global_end + 4 + p[global_end + 3];
    const std::size_t boots = global_end + 6 + p[global_end + 5];
    // msgSecurityParameters inside the message with msgData's header after it.
    if ((u & 0xFF80FF80FF800000u) != 0x0400300004000000u || security_end + 2 > n ||
        usm_end > security_end || boots + 14 > n) [[unlikely]] {
        return std::nullopt;
    }
    // msgAuthoritativeEngineBoots and Time, INTEGERs of 1..4 octets, then msgUserName: their
    // headers lie within the 14 bytes just checked (2 + 4 + 2 + 4 + 2) once each length
    // before them is known to be 1..4.
    if (!integer_header(load_be16(p + boots))) [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t time = boots + 2 + p[boots + 1];
    if (!integer_header(load_be16(p + time))) [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t user = time + 2 + p[time + 1];
    if (!short_header(load_be16(p + user), tag_octet_string)) [[unlikely]] {
        return std::nullopt;
    }
    // msgAuthenticationParameters and msgPrivacyParameters, the USM's last fields: the
    // last one inside the USM SEQUENCE, so every field is (the checks of the headers'
    // positions are for their reads).
    const std::size_t user_length = p[user + 1];
    const std::size_t auth = user + 2 + user_length;
    if (auth + 2 > usm_end || !short_header(load_be16(p + auth), tag_octet_string)) [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t priv = auth + 2 + p[auth + 1];
    if (priv + 2 > usm_end || !short_header(load_be16(p + priv), tag_octet_string) ||
        priv + 2 + p[priv + 1] > usm_end) [[unlikely]] {
        return std::nullopt;
    }
    snmp_view out;
    out.version = 3;
    out.msg_id = integer_value(p + h + 7, id_length);
    out.msg_flags = static_cast<std::uint8_t>(f >> 40);
    out.security_model = usm_security_model;
    out.user_name = payload.subspan(user + 2, user_length);
    // msgData, after msgSecurityParameters up to the end of the message.
    const tlv_header data = read_header(p + security_end, n - security_end);
    const std::size_t data_value = security_end + data.header;
    if (data.header == 0 || data.length > n - data_value) [[unlikely]] {
        return std::nullopt;
    }
    const std::uint8_t data_tag = p[security_end];
    const bool priv_flag = (out.msg_flags & flag_priv) != 0;
    if (data_tag == tag_octet_string && priv_flag) {
        // encryptedPDU: the PDU is not visible.
        out.encrypted = true;
        return out;
    }
    if (data_tag != tag_sequence || priv_flag) [[unlikely]] {
        return std::nullopt;
    }
    // ScopedPDU: contextEngineID, contextName, then the PDU, within msgData (the PDU's check
    // covers the others; theirs are for the reads).
    const std::size_t data_end = data_value + data.length;
    if (data_value + 2 > data_end || !short_header(load_be16(p + data_value), tag_octet_string))
        [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t context = data_value + 2 + p[data_value + 1];
    if (context + 2 > data_end || !short_header(load_be16(p + context), tag_octet_string))
        [[unlikely]] {
        return std::nullopt;
    }
    const std::size_t pdu = context + 2 + p[context + 1];
    if (!read_pdu_fast(out, p, pdu, data_end)) [[unlikely]] {
        return std::nullopt;
    }
    out.context_name = payload.subspan(context + 2, p[context + 1]);
    return out;
}

// Every message parse_snmp_v1_v2c declines: SNMPv3's usual encoding decoded inline, the rest
// by the walk.
[[gnu::always_inline]] inline snmp_view parse_snmp_general(byte_span payload) {
    if (const auto v = parse_snmp_v3(payload)) [[likely]] {
        return *v;
    }
    return parse_snmp_walk(payload);
}

}  // namespace snmp_detail

// The common message, decoded inline: a v1/v2c message whose version is one octet and whose
// community has a short-form length, carrying a request-id (or a v1 Trap-PDU). Returns
// parse_snmp's exact result when it applies (always ok, v1 or v2c, not encrypted) and nullopt
// for anything else (v3, errors, unusual encodings), which parse_snmp_general then decides.
// Every check below only ever accepts what the general walk accepts, with the same fields.
[[gnu::always_inline]] inline std::optional<snmp_view> parse_snmp_v1_v2c(byte_span payload) {
    using namespace snmp_detail;
    const std::uint8_t* p = payload.data();
    const std::size_t n = payload.size();
    // No real message is this short; from 16 bytes on, the header loads below are safe.
    if (n < 16) [[unlikely]] {
        return std::nullopt;
    }
    // SEQUENCE spanning the whole datagram, INTEGER 0 or 1 in one octet (02 01 0v), then the
    // community's header (04, short length). With a short-form message length, the usual
    // case, the first eight octets (30 LL 02 01 0v 04 LL ..) in one compare, and the rest
    // with the header's size a constant.
    if ((load_be64(p) & 0xFF80FFFFFEFF8000u) == 0x3000020100040000u && p[1] + 2u == n) [[likely]] {
        return v1_v2c_after_header(payload, 2);
    }
    // For a short-form message length that compare was the whole check.
    if (p[1] < 0x80) {
        return std::nullopt;
    }
    const std::size_t h = message_header(p, n);
    if (h == 0 || (load_be64(p + h) & 0xFFFFFEFF80000000u) != 0x0201000400000000u) {
        return std::nullopt;
    }
    return v1_v2c_after_header(payload, h);
}

// The common message inline, everything else out of line.
[[gnu::always_inline]] inline snmp_view parse_snmp(byte_span payload) {
    if (const auto v = parse_snmp_v1_v2c(payload)) [[likely]] {
        return *v;
    }
    return snmp_detail::parse_snmp_general(payload);
}

}  // namespace ports::parsers
