// The NTS-KE server (RFC 8915 section 4): TLS 1.3 only, ALPN "ntske/1", on kernel sockets (TCP
// 4460 of each service address by default: the engine hands those frames to the kernel through
// its exception path), on threads of its own, never on a worker's CPU.
//
// One request per connection: the client's records (NTS Next Protocol NTPv4, AEAD Algorithm
// Negotiation with AEAD_AES_SIV_CMAC_256, End of Message) are answered with Next Protocol,
// AEAD, `cookies` New Cookie records sealed under the current master key (nts::key_store), the
// NTPv4 Server / Port Negotiation records when configured, End of Message; then close_notify.
// C2S/S2C come from the TLS exporter (RFC 8915 section 5.1). A malformed or oversized
// message, an unknown critical record, no common protocol or AEAD: an Error record (or a
// close); a slow or silent client: closed at its deadline. Connections, bytes and time per
// client are bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ports/nts/keys.hpp"

namespace ports::nts_ke {

struct server_options {
    // "ADDR:PORT", "[ADDR6]:PORT" or "ADDR" (port 4460). Bound with IP_FREEBIND: the address
    // may appear on an interface (the exception path's TAP) after start.
    std::vector<std::string> listen;
    std::string certificate;          // PEM chain (leaf first)
    std::string key;                  // PEM private key
    std::string ntp_server;           // NTPv4 Server Negotiation record to send; empty: none (the
                                      // client then uses the KE address)
    std::uint16_t ntp_port = 0;       // NTPv4 Port Negotiation record to send; 0: none (123)
    unsigned cookies = 8;             // New Cookie records per session (RFC 8915 suggests 8), 1..16
    unsigned max_connections = 1024;  // open at once (over all threads); one more closes the
                                      // oldest (counted `rejected`): an idle crowd cannot
                                      // lock out new clients
    std::chrono::milliseconds timeout{5000};  // whole session, handshake included
    unsigned threads = 1;
    std::vector<int> cpus;  // CPUs the threads may run on (empty: inherited)
};

// Written by the server threads, read by anyone (relaxed).
struct server_counters {
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> sessions_ok{0};  // cookies sent
    std::atomic<std::uint64_t> tls_failed{0};   // handshake failed (no TLS 1.3, no ALPN...)
    std::atomic<std::uint64_t> bad_request{0};  // Error record sent (or closed)
    std::atomic<std::uint64_t> timeouts{0};
    std::atomic<std::uint64_t> rejected{0};  // closed to make room (max_connections)
    std::atomic<std::uint64_t> cookies_issued{0};
};

class server_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class server {
  public:
    // Loads the certificate and key, binds and listens. Throws server_error with the file or
    // address at fault.
    server(server_options options, const nts::key_store& keys);
    ~server();  // stops
    void start();
    void stop();
    const server_counters& counters() const;
    // The bound addresses as "ADDR:PORT" (the real port when 0 was asked), for logs and tests.
    std::vector<std::string> endpoints() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ports::nts_ke
