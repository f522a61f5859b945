// The SNMP parser as it was before its fast decodes (parsers/include/ports/parsers/impl/
// snmp_impl.hpp at 3312cf9, the general walk, which parse_snmp's result always equalled): the
// reference the differential tests and fuzz_snmp hold today's parse_snmp to, field by field.
// Tests only: the shipped headers must not carry it. Do not "fix" it - its results, errors and
// their reasons included, are the contract.
#pragma once

#include "ports/parsers/snmp.hpp"

namespace ptest::snmp_reference {

using namespace ports::parsers;

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
    byte_span rest;        // what follows the TLV inside the same parent
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

// The whole message: parse_snmp's result as it was decided before the fast decodes (the
// general walk, which gave every message's result).
inline snmp_view parse_snmp_reference(byte_span payload) {
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

}  // namespace ptest::snmp_reference
