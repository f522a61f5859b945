// Definitions for ntp.hpp.
#pragma once

namespace ports::parsers {

namespace ntp_detail {

inline constexpr std::size_t header_length = 48;
inline constexpr std::size_t control_header = 12;
inline constexpr std::size_t private_header = 8;
inline constexpr std::size_t ext_min_length = 16;  // RFC 7822 section 7.5

// Key id alone (crypto-NAK), key id + MD5 (16) or + SHA-1 (20).
inline bool is_v4_mac_length(std::size_t n) {
    return n == 4 || n == 20 || n == 24;
}
// Older versions also saw DES-CBC MACs: key id + 8.
inline bool is_v3_mac_length(std::size_t n) {
    return n == 4 || n == 12 || n == 20 || n == 24;
}

inline std::uint64_t load_raw64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// RFC 4330 clients leave everything but the first octet and the transmit time zero; a
// five-word OR keeps the test cheap. Needs 40 readable bytes.
inline bool sntp_request_body(const std::uint8_t* p) {
    std::uint64_t first = load_raw64(p);
    first &= ~static_cast<std::uint64_t>(0xFF) << (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 56);
    const std::uint64_t rest = load_raw64(p + 8) | load_raw64(p + 16) | load_raw64(p + 24) | load_raw64(p + 32);
    return (first | rest) == 0;
}

}  // namespace ntp_detail

inline ntp_view parse_ntp(byte_span payload) {
    ntp_view out;
    if (payload.empty()) {
        out.st = status::truncated;
        return out;
    }
    const std::uint8_t* p = payload.data();
    const std::size_t size = payload.size();
    out.li = static_cast<std::uint8_t>(p[0] >> 6);
    out.version = static_cast<std::uint8_t>((p[0] >> 3) & 0x07);
    out.mode = static_cast<ntp_mode>(p[0] & 0x07);
    if (out.version == 0 || out.version > 4) {
        out.st = status::bad_version;
        return out;
    }
    if (out.mode == ntp_mode::control) {
        if (size < ntp_detail::control_header) {
            out.st = status::truncated;
            return out;
        }
        out.control_opcode = static_cast<std::uint8_t>(p[1] & 0x1F);
        out.control_count = load_be16(p + 10);
        if (ntp_detail::control_header + out.control_count > size) {
            out.st = status::bad_length;
        }
        return out;
    }
    if (out.mode == ntp_mode::private_) {
        if (size < ntp_detail::private_header) {
            out.st = status::truncated;
            return out;
        }
        out.implementation = p[2];
        out.request_code = p[3];
        return out;
    }
    if (size < ntp_detail::header_length) {
        out.st = status::truncated;
        return out;
    }
    out.stratum = p[1];
    out.poll = static_cast<std::int8_t>(p[2]);
    out.precision = static_cast<std::int8_t>(p[3]);
    out.root_delay = load_be32(p + 4);
    out.root_dispersion = load_be32(p + 8);
    out.refid = load_be32(p + 12);
    out.reference_ts = load_be64(p + 16);
    out.origin_ts = load_be64(p + 24);
    out.receive_ts = load_be64(p + 32);
    out.transmit_ts = load_be64(p + 40);

    std::size_t off = ntp_detail::header_length;
    if (off == size) {
        out.sntp_request = out.mode == ntp_mode::client && ntp_detail::sntp_request_body(p);
        return out;
    }
    if (out.version == 4) {
        // RFC 7822: extension fields until what is left is exactly a MAC or nothing.
        while (off != size && !ntp_detail::is_v4_mac_length(size - off)) {
            const std::size_t left = size - off;
            if (left < ntp_detail::ext_min_length) {
                out.st = status::bad_length;
                return out;
            }
            const std::size_t len = load_be16(p + off + 2);
            if (len < ntp_detail::ext_min_length || (len % 4) != 0 || len > left) {
                out.st = status::bad_length;
                return out;
            }
            if (out.extension_count != 0xFF) {  // saturates: the count is informative only
                ++out.extension_count;
            }
            off += len;
        }
        if (off == size) {
            return out;
        }
    } else if (!ntp_detail::is_v3_mac_length(size - off)) {
        out.st = status::bad_length;
        return out;
    }
    out.has_mac = true;
    out.mac_offset = static_cast<std::uint16_t>(off);
    out.mac_key_id = load_be32(p + off);
    out.mac_digest_length = static_cast<std::uint8_t>(size - off - 4);
    return out;
}

}  // namespace ports::parsers
