// An NTS-KE client (RFC 8915 section 4), blocking, for the tools and tests: one TLS 1.3 session
// with ALPN "ntske/1", the server's certificate verified against a CA file and a name (a DNS
// name, or an IP address checked against the certificate's IP SANs), the request sent, the
// response read to its End of Message, the keys exported (section 5.1).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ports::nts_ke {

struct client_options {
    std::string host;  // name or address to connect to
    std::uint16_t port = 4460;
    std::string ca_file;                      // PEM: the CA the server's chain must verify against
    std::string server_name;                  // checked in the certificate; empty: host
    std::chrono::milliseconds timeout{5000};  // connect + handshake + exchange
    // For the tests of the server's refusals: the ALPN offered ("" offers none) and the
    // highest TLS version (0: TLS 1.3; e.g. TLS1_2_VERSION = 0x0303 for TLS 1.2 only).
    std::string alpn = "ntske/1";
    int max_tls_version = 0;
    bool verify = true;  // false: accept any certificate (tests of the records only)
};

class client_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

using key32 = std::array<std::uint8_t, 32>;

struct client_result {
    std::uint16_t aead = 0;
    key32 c2s{};
    key32 s2c{};
    std::vector<std::vector<std::uint8_t>> cookies;
    std::string ntp_server;      // from NTPv4 Server Negotiation; empty: the KE host
    std::uint16_t ntp_port = 0;  // from NTPv4 Port Negotiation; 0: 123
};

// The records of a standard request: Next Protocol (NTPv4), AEAD (AES-SIV-CMAC-256), End of
// Message.
std::vector<std::uint8_t> standard_request();

// One session that sends `request` as it is and returns what the server sent until it closed
// (or its End of Message and then close), with the keys the TLS exporter gives. Throws
// client_error when the connection, the handshake or the certificate check fails, or at the
// timeout.
struct raw_exchange {
    std::vector<std::uint8_t> response;
    key32 c2s{};
    key32 s2c{};
    bool closed = false;  // the server closed the connection (close_notify or EOF)
};
raw_exchange exchange(const client_options& options, std::span<const std::uint8_t> request);

// standard_request() through exchange(), the response parsed and checked: NTPv4 and AES-SIV
// agreed, at least one cookie. Throws client_error saying what was wrong (an Error record's
// code, no cookies, ...).
client_result fetch(const client_options& options);

}  // namespace ports::nts_ke
