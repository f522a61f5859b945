// NTP (RFC 5905), its control (mode 6, RFC 1305 app. B / RFC 9327) and private (mode 7,
// ntpd's ntpdc) variants, extension fields (RFC 7822) and the MAC trailer (RFC 5905/8573).
#pragma once

#include "ports/parsers/common.hpp"

namespace ports::parsers {

enum class ntp_mode : std::uint8_t {
    reserved = 0,
    symmetric_active = 1,
    symmetric_passive = 2,
    client = 3,
    server = 4,
    broadcast = 5,
    control = 6,
    private_ = 7,
};

struct ntp_view {
    status st = status::ok;
    std::uint8_t li = 0;
    std::uint8_t version = 0;  // 1..4 accepted; 0 or > 4 gives bad_version
    ntp_mode mode = ntp_mode::reserved;
    // Modes 0-5: the 48-byte header.
    std::uint8_t stratum = 0;
    std::int8_t poll = 0;
    std::int8_t precision = 0;
    std::uint32_t root_delay = 0;
    std::uint32_t root_dispersion = 0;
    std::uint32_t refid = 0;
    std::uint64_t reference_ts = 0;
    std::uint64_t origin_ts = 0;
    std::uint64_t receive_ts = 0;
    std::uint64_t transmit_ts = 0;
    std::uint8_t extension_count = 0;  // NTPv4 extension fields
    bool has_mac = false;
    std::uint32_t mac_key_id = 0;
    std::uint8_t mac_digest_length = 0;  // 0 for a crypto-NAK (key id only)
    std::uint16_t mac_offset = 0;        // offset of the key id from the start of the packet
    bool sntp_request = false;           // RFC 4330: mode 3, all but first octet and transmit zero
    // Mode 6.
    std::uint8_t control_opcode = 0;
    std::uint16_t control_count = 0;
    // Mode 7.
    std::uint8_t implementation = 0;
    std::uint8_t request_code = 0;
};

// Parses the UDP payload of a packet on port 123.
inline ntp_view parse_ntp(byte_span payload);

}  // namespace ports::parsers

#include "ports/parsers/impl/ntp_impl.hpp"
