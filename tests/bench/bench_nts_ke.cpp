// NTS-KE sessions per second over loopback: our server (nts_ke::server, 1 thread) answering
// nts_ke::fetch() from 1 and then 2 client threads, next to a baseline measured in the same run:
// a bare TLS 1.3 handshake (same certificate and key, same ALPN, the client verifying the chain
// and the address) on plain OpenSSL, an in-process SSL_accept loop on one thread of its own,
// the client doing the handshake and closing. What a session costs beyond the handshake is the
// records, the exporter, the cookies, and fetch()'s own setup per call.
// Client and server share this machine's CPUs: on a box with few cores the figures are those of
// the pair, not of the server alone.
//   bench-nts-ke [--seconds S]
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ports/nts/keys.hpp"
#include "ports/nts_ke/client.hpp"
#include "ports/nts_ke/ke_server.hpp"
#include "test_certs.hpp"

using namespace ports;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

double seconds = 3.0;

const unsigned char alpn_wire[] = {7, 'n', 't', 's', 'k', 'e', '/', '1'};

struct rate {
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    double per_second = 0;
};

// `clients` threads calling one_session(thread index) until the time is up.
rate run_clients(unsigned clients, const std::function<bool(unsigned)>& one_session) {
    std::atomic<std::uint64_t> ok{0};
    std::atomic<std::uint64_t> failed{0};
    const auto t0 = steady::now();
    const auto end =
        t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            while (steady::now() < end) {
                (one_session(c) ? ok : failed).fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    const double elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    return {ok.load(), failed.load(), double(ok.load()) / elapsed};
}

// --- the baseline: bare TLS 1.3 handshakes on plain OpenSSL ---

int listen_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 ||
        ::listen(fd, 1024) != 0) {
        std::perror("baseline listen");
        std::exit(1);
    }
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void*) {
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, alpn_wire, sizeof(alpn_wire), in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

class baseline_server {
  public:
    explicit baseline_server(const test::test_certificates& certs) {
        ctx_ = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
        if (SSL_CTX_use_certificate_chain_file(ctx_, certs.certificate.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx_, certs.key.c_str(), SSL_FILETYPE_PEM) != 1) {
            std::fprintf(stderr, "baseline: cannot load %s\n", certs.certificate.c_str());
            std::exit(1);
        }
        SSL_CTX_set_alpn_select_cb(ctx_, select_alpn, nullptr);
        // As nts_ke::server: no resumption tickets (one request per connection).
        SSL_CTX_set_num_tickets(ctx_, 0);
        fd_ = listen_loopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~baseline_server() {
        ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
        thread_.join();
        ::close(fd_);
        SSL_CTX_free(ctx_);
    }
    std::uint16_t port() const { return port_; }

  private:
    void serve() {
        for (;;) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED) {
                    continue;
                }
                return;
            }
            SSL* ssl = SSL_new(ctx_);
            SSL_set_fd(ssl, c);
            if (SSL_accept(ssl) == 1) {
                SSL_shutdown(ssl);
            }
            SSL_free(ssl);
            ::close(c);
            ERR_clear_error();
        }
    }

    SSL_CTX* ctx_ = nullptr;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

SSL_CTX* client_context(const std::string& ca) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_alpn_protos(ctx, alpn_wire, sizeof(alpn_wire));
    return ctx;
}

// The handshake and nothing else: one client context per thread (the CA file read once), or
// with `fresh`, a new context per handshake as fetch() makes one per call (its cost is part of
// a fetch() but not of the server's work).
class baseline_client {
  public:
    baseline_client(const std::string& ca, bool fresh) : ca_(ca), fresh_(fresh) {
        ctx_ = fresh ? nullptr : client_context(ca);
    }
    ~baseline_client() { SSL_CTX_free(ctx_); }
    baseline_client(const baseline_client&) = delete;
    baseline_client& operator=(const baseline_client&) = delete;

    bool handshake(std::uint16_t port) {
        const int fd = connect_loopback(port);
        if (fd < 0) {
            return false;
        }
        SSL_CTX* ctx = fresh_ ? client_context(ca_) : ctx_;
        SSL* ssl = SSL_new(ctx);
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
        SSL_set_fd(ssl, fd);
        const bool ok = SSL_connect(ssl) == 1;
        if (ok) {
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        if (fresh_) {
            SSL_CTX_free(ctx);
        }
        ::close(fd);
        ERR_clear_error();
        return ok;
    }

  private:
    std::string ca_;
    bool fresh_ = false;
    SSL_CTX* ctx_ = nullptr;
};

rate baseline(const baseline_server& s, const std::string& ca, unsigned clients, bool fresh) {
    // A client object per thread, made before the clock starts.
    std::vector<std::unique_ptr<baseline_client>> pool;
    for (unsigned c = 0; c < clients; ++c) {
        pool.push_back(std::make_unique<baseline_client>(ca, fresh));
    }
    return run_clients(clients, [&](unsigned c) { return pool[c]->handshake(s.port()); });
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    std::signal(SIGPIPE, SIG_IGN);

    std::random_device rd;
    const fs::path dir = fs::temp_directory_path() / ("bench-nts-ke-" + std::to_string(::getpid()) +
                                                      "-" + std::to_string(rd()));
    const test::test_certificates certs =
        test::make_test_certificates(dir, {"IP:127.0.0.1", "DNS:localhost"});

    nts::key_ring ring;
    ring.rotate(static_cast<std::uint64_t>(std::time(nullptr)));
    nts::key_store store;
    store.publish(ring);

    nts_ke::server_options o;
    o.listen = {"127.0.0.1:0"};
    o.certificate = certs.certificate;
    o.key = certs.key;
    o.threads = 1;
    auto srv = std::make_unique<nts_ke::server>(o, store);
    srv->start();
    const std::string ep = srv->endpoints().front();

    nts_ke::client_options c;
    c.host = "127.0.0.1";
    c.port = static_cast<std::uint16_t>(std::stoul(ep.substr(ep.rfind(':') + 1)));
    c.ca_file = certs.ca;

    baseline_server bare(certs);

    std::printf("bench-nts-ke: %.1f s per figure, %u CPUs (client and server share them)\n",
                seconds, std::thread::hardware_concurrency());
    for (const unsigned clients : {1u, 2u}) {
        const rate ke = run_clients(clients, [&](unsigned) {
            try {
                return !nts_ke::fetch(c).cookies.empty();
            } catch (const nts_ke::client_error&) {
                return false;
            }
        });
        const rate tls = baseline(bare, certs.ca, clients, false);
        const rate fresh = baseline(bare, certs.ca, clients, true);
        std::printf(
            "nts-ke: %.0f sessions/s (1 server thread, %u client%s; %.1f ms a session), "
            "baseline: bare TLS 1.3 handshake %.0f/s (nts-ke at %.0f%% of it; %.0f/s with a "
            "fresh client SSL_CTX per handshake, as fetch() does)\n",
            ke.per_second, clients, clients == 1 ? "" : "s",
            ke.per_second > 0 ? 1000.0 * clients / ke.per_second : 0.0, tls.per_second,
            tls.per_second > 0 ? 100.0 * ke.per_second / tls.per_second : 0.0, fresh.per_second);
        if (ke.failed != 0 || tls.failed != 0 || fresh.failed != 0) {
            std::printf("  failed: nts-ke %llu, baseline %llu + %llu\n",
                        static_cast<unsigned long long>(ke.failed),
                        static_cast<unsigned long long>(tls.failed),
                        static_cast<unsigned long long>(fresh.failed));
        }
    }
    const auto& k = srv->counters();
    std::printf("server counters: accepted %llu, sessions %llu, cookies %llu, tls failed %llu\n",
                static_cast<unsigned long long>(k.accepted.load()),
                static_cast<unsigned long long>(k.sessions_ok.load()),
                static_cast<unsigned long long>(k.cookies_issued.load()),
                static_cast<unsigned long long>(k.tls_failed.load()));
    srv.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
