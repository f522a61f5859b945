// SNMP messages (RFC 1157, RFC 3416, RFC 3412/3414) in BER with strict length checks:
// definite lengths only, every TLV inside its parent, no length longer than 4 octets.
#pragma once

#include <optional>

#include "ports/parsers/common.hpp"

namespace ports::parsers {

inline constexpr std::uint8_t snmp_pdu_get = 0xA0;
inline constexpr std::uint8_t snmp_pdu_get_next = 0xA1;
inline constexpr std::uint8_t snmp_pdu_response = 0xA2;
inline constexpr std::uint8_t snmp_pdu_set = 0xA3;
inline constexpr std::uint8_t snmp_pdu_trap_v1 = 0xA4;
inline constexpr std::uint8_t snmp_pdu_get_bulk = 0xA5;
inline constexpr std::uint8_t snmp_pdu_inform = 0xA6;
inline constexpr std::uint8_t snmp_pdu_trap_v2 = 0xA7;
inline constexpr std::uint8_t snmp_pdu_report = 0xA8;

struct snmp_view {
    status st = status::ok;
    std::int32_t version = -1;  // 0 = v1, 1 = v2c, 3 = v3 (others: bad_version)
    // v1 / v2c
    byte_span community;
    std::uint8_t pdu_type = 0;  // 0xA0..0xA8; 0 when not visible (v3 encrypted) or unparsed
    std::int32_t request_id = 0;
    bool has_request_id = false;  // false for a v1 Trap-PDU (it has none)
    // v3
    std::int32_t msg_id = 0;
    std::uint8_t msg_flags = 0;  // bit 0 auth, bit 1 priv, bit 2 reportable
    std::int32_t security_model = 0;  // 3 = USM
    byte_span user_name;  // USM msgUserName
    byte_span context_name;
    bool encrypted = false;  // msgData is an encryptedPDU (OCTET STRING)
};

// Parses the UDP payload of a packet on port 161 or 162.
inline snmp_view parse_snmp(byte_span payload);

// parse_snmp's common case only: its result for a v1/v2c message in the usual encoding (short
// or one/two-octet lengths, a request-id or a v1 Trap-PDU), always ok; nullopt for anything
// else, including every message parse_snmp rejects.
inline std::optional<snmp_view> parse_snmp_v1_v2c(byte_span payload);

}  // namespace ports::parsers

#include "ports/parsers/impl/snmp_impl.hpp"
