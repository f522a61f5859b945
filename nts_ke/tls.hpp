// What the NTS-KE server and client share of OpenSSL (internal to nts_ke/).
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <string>

#include "ports/parsers/nts_ke.hpp"

namespace ports::nts_ke::detail {

// The queued OpenSSL errors as one line (and the queue emptied).
inline std::string openssl_error() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        out += (out.empty() ? "" : "; ") + std::string(buf);
    }
    return out.empty() ? "no OpenSSL error queued" : out;
}

// RFC 8915 section 5.1: a key for NTPv4 with AEAD_AES_SIV_CMAC_256, C2S (direction 0) or S2C
// (1), from the TLS exporter. False when OpenSSL refuses (no session yet).
inline bool export_key(SSL* ssl, std::uint8_t direction, std::uint8_t* out32) {
    static constexpr char label[] = "EXPORTER-network-time-security";
    const std::uint8_t context[5] = {
        static_cast<std::uint8_t>(parsers::ke_protocol_ntpv4 >> 8),
        static_cast<std::uint8_t>(parsers::ke_protocol_ntpv4),
        static_cast<std::uint8_t>(parsers::ke_aead_aes_siv_cmac_256 >> 8),
        static_cast<std::uint8_t>(parsers::ke_aead_aes_siv_cmac_256), direction};
    return SSL_export_keying_material(ssl, out32, 32, label, sizeof(label) - 1, context,
                                      sizeof(context), 1) == 1;
}

}  // namespace ports::nts_ke::detail
