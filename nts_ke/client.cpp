// The NTS-KE client: a non-blocking socket driven by poll() so that one deadline bounds the
// connect, the handshake and the exchange.
#include "ports/nts_ke/client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "ports/parsers/nts_ke.hpp"
#include "tls.hpp"

namespace ports::nts_ke {

namespace {

namespace p = ports::parsers;
using detail::openssl_error;
using clock = std::chrono::steady_clock;

constexpr std::size_t max_response = 65536;

struct fd_closer {
    int fd = -1;
    ~fd_closer() {
        if (fd >= 0) {
            close(fd);
        }
    }
};

struct ctx_free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct ssl_free {
    void operator()(SSL* s) const { SSL_free(s); }
};

int ms_left(clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

void wait_fd(int fd, short events, clock::time_point deadline, const char* what) {
    pollfd pfd{fd, events, 0};
    for (;;) {
        const int left = ms_left(deadline);
        if (left == 0) {
            throw client_error(std::string("NTS-KE: timeout during ") + what);
        }
        const int r = poll(&pfd, 1, left);
        if (r > 0) {
            return;
        }
        if (r < 0 && errno != EINTR) {
            throw client_error(std::string("NTS-KE: poll: ") + std::strerror(errno));
        }
    }
}

int connect_to(const client_options& o, clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(o.port);
    if (const int e = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res); e != 0) {
        throw client_error("NTS-KE: " + o.host + ": " + gai_strerror(e));
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        const int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = std::strerror(errno);
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            return fd;
        }
        if (errno == EINPROGRESS) {
            try {
                wait_fd(fd, POLLOUT, deadline, "connect");
            } catch (...) {
                close(fd);
                throw;
            }
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) {
                return fd;
            }
            last = std::strerror(err);
        } else {
            last = std::strerror(errno);
        }
        close(fd);
    }
    throw client_error("NTS-KE: connect to " + o.host + ":" + port + ": " + last);
}

// After an SSL call returned r <= 0: waits for what it wants, or throws.
void ssl_wait(SSL* ssl, int fd, int r, clock::time_point deadline, const char* what) {
    switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ:
            wait_fd(fd, POLLIN, deadline, what);
            return;
        case SSL_ERROR_WANT_WRITE:
            wait_fd(fd, POLLOUT, deadline, what);
            return;
        default:
            throw client_error(std::string("NTS-KE: ") + what + " failed: " + openssl_error());
    }
}

key32 export_key(SSL* ssl, std::uint8_t direction) {
    key32 k{};
    if (!detail::export_key(ssl, direction, k.data())) {
        throw client_error("NTS-KE: key export failed: " + openssl_error());
    }
    return k;
}

}  // namespace

std::vector<std::uint8_t> standard_request() {
    return {0x80, 0x01, 0x00, 0x02, 0x00, 0x00,  // Next Protocol: NTPv4
            0x80, 0x04, 0x00, 0x02, 0x00, 0x0F,  // AEAD: AEAD_AES_SIV_CMAC_256
            0x80, 0x00, 0x00, 0x00};             // End of Message
}

raw_exchange exchange(const client_options& o, std::span<const std::uint8_t> request) {
    ERR_clear_error();
    const auto deadline = clock::now() + o.timeout;
    std::unique_ptr<SSL_CTX, ctx_free> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        throw client_error("NTS-KE: SSL_CTX_new: " + openssl_error());
    }
    if (o.max_tls_version != 0) {
        SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx.get(), o.max_tls_version);
    } else {
        SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    }
    if (o.verify) {
        if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1) {
            throw client_error("NTS-KE: CA file " + o.ca_file + ": " + openssl_error());
        }
    }
    std::unique_ptr<SSL, ssl_free> ssl(SSL_new(ctx.get()));
    if (!ssl) {
        throw client_error("NTS-KE: SSL_new: " + openssl_error());
    }
    const std::string name = o.server_name.empty() ? o.host : o.server_name;
    in6_addr probe{};
    const bool is_ip = inet_pton(AF_INET, name.c_str(), &probe) == 1 ||
                       inet_pton(AF_INET6, name.c_str(), &probe) == 1;
    if (o.verify) {
        SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str());
        } else {
            SSL_set1_host(ssl.get(), name.c_str());
        }
    }
    if (!is_ip) {
        SSL_set_tlsext_host_name(ssl.get(), name.c_str());  // SNI carries names only
    }
    if (!o.alpn.empty()) {
        // Wire form: one length byte, then the name (a string: GCC 12 misreads a vector
        // insert here as out of bounds).
        const std::string wire = std::string(1, static_cast<char>(o.alpn.size())) + o.alpn;
        SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
    }

    fd_closer fd{connect_to(o, deadline)};
    // The request goes right after our Finished: no Nagle wait for the server's ACK.
    const int one = 1;
    setsockopt(fd.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SSL_set_fd(ssl.get(), fd.fd);
    for (;;) {
        const int r = SSL_connect(ssl.get());
        if (r == 1) {
            break;
        }
        ssl_wait(ssl.get(), fd.fd, r, deadline, "TLS handshake");
    }
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_len);
    if (!o.alpn.empty() &&
        (alpn_len != o.alpn.size() || std::memcmp(alpn, o.alpn.data(), alpn_len) != 0)) {
        throw client_error("NTS-KE: the server did not select ALPN " + o.alpn);
    }

    raw_exchange out;
    out.c2s = export_key(ssl.get(), 0);
    out.s2c = export_key(ssl.get(), 1);

    std::size_t sent = 0;
    while (sent < request.size()) {
        const int r =
            SSL_write(ssl.get(), request.data() + sent, static_cast<int>(request.size() - sent));
        if (r > 0) {
            sent += static_cast<std::size_t>(r);
            continue;
        }
        ssl_wait(ssl.get(), fd.fd, r, deadline, "write");
    }
    std::uint8_t buf[4096];
    for (;;) {
        const int r = SSL_read(ssl.get(), buf, sizeof(buf));
        if (r > 0) {
            out.response.insert(out.response.end(), buf, buf + r);
            if (out.response.size() > max_response) {
                throw client_error("NTS-KE: response longer than 64 KiB");
            }
            continue;
        }
        const int e = SSL_get_error(ssl.get(), r);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            out.closed = true;  // close_notify, or EOF (or a reset) without it
            ERR_clear_error();
            break;
        }
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            // The connection failed after the response was complete: what came stands.
            if (p::parse_ke_response(out.response).outcome != p::ke_outcome::incomplete) {
                out.closed = true;
                ERR_clear_error();
                break;
            }
        }
        ssl_wait(ssl.get(), fd.fd, r, deadline, "read");
    }
    SSL_shutdown(ssl.get());
    ERR_clear_error();
    return out;
}

client_result fetch(const client_options& o) {
    const raw_exchange x = exchange(o, standard_request());
    const p::ke_response_view v = p::parse_ke_response(x.response);
    if (v.has_error) {
        throw client_error("NTS-KE: the server sent Error " + std::to_string(v.error_code));
    }
    if (v.outcome != p::ke_outcome::ok) {
        throw client_error(v.outcome == p::ke_outcome::incomplete
                               ? "NTS-KE: the response ended before End of Message"
                               : std::string("NTS-KE: malformed response (") + p::to_string(v.st) +
                                     ")");
    }
    if (!v.has_protocol || v.protocol != p::ke_protocol_ntpv4) {
        throw client_error("NTS-KE: the server did not agree to NTPv4");
    }
    if (!v.has_aead || v.aead != p::ke_aead_aes_siv_cmac_256) {
        throw client_error("NTS-KE: the server did not agree to AEAD_AES_SIV_CMAC_256");
    }
    if (v.cookie_count == 0) {
        throw client_error("NTS-KE: no cookies");
    }
    client_result r;
    r.aead = v.aead;
    r.c2s = x.c2s;
    r.s2c = x.s2c;
    for (std::size_t i = 0; i < v.cookie_count; ++i) {
        r.cookies.emplace_back(v.cookies[i].begin(), v.cookies[i].end());
    }
    r.ntp_server.assign(v.ntpv4_server.begin(), v.ntpv4_server.end());
    r.ntp_port = v.has_port ? v.ntpv4_port : 0;
    return r;
}

}  // namespace ports::nts_ke
