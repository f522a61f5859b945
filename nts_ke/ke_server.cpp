// The NTS-KE server: OpenSSL on non-blocking kernel sockets, one epoll loop per thread.
//
// Per connection: accept -> TLS 1.3 handshake (ALPN ntske/1) -> read the request until End of
// Message (at most max_request bytes) -> one response (cookies sealed under the current master
// key) -> close_notify, close. Every connection has one deadline (accept + timeout): threads
// keep their connections in accept order, which is deadline order, so expiry looks at the
// front only. Memory per connection is fixed (buffers in the connection, OpenSSL's state);
// the number of connections is bounded: one over the bound closes the oldest, so a crowd of
// idle or slow clients cannot lock out new ones (each new handshake needs well under the
// timeout).
#include "ports/nts_ke/ke_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <list>
#include <thread>

#include "ports/parsers/nts_ke.hpp"
#include "tls.hpp"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  // linux/in6.h; glibc 2.36 does not define it
#endif

namespace ports::nts_ke {

namespace {

namespace p = ports::parsers;
using detail::openssl_error;

// A request is a handful of records (~16 bytes from chrony and NTPsec); 4 KiB leaves room for
// server/port records and future records, and bounds what a client can make us hold.
constexpr std::size_t max_request = 4096;
// 16 cookies of 108 bytes with headers, the negotiation records, a server name up to 255.
constexpr std::size_t max_response = 2560;
constexpr unsigned max_cookies = 16;
constexpr unsigned char alpn_wire[] = {7, 'n', 't', 's', 'k', 'e', '/', '1'};

struct endpoint {
    sockaddr_storage addr{};
    socklen_t length = 0;
};

// "ADDR:PORT", "[ADDR6]:PORT", "ADDR" or "ADDR6" (port 4460).
endpoint parse_listen(const std::string& s) {
    std::string host = s;
    std::string port = "4460";
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos) {
            throw server_error("NTS-KE listen address " + s + ": no closing ']'");
        }
        host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') {
                throw server_error("NTS-KE listen address " + s + ": junk after ']'");
            }
            port = s.substr(close + 2);
        }
    } else if (std::count(s.begin(), s.end(), ':') == 1) {
        host = s.substr(0, s.find(':'));
        port = s.substr(s.find(':') + 1);
    }
    unsigned long p_value = 0;
    std::size_t used = 0;
    try {
        p_value = std::stoul(port, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != port.size() || port.empty() || p_value > 65535) {
        throw server_error("NTS-KE listen address " + s + ": bad port '" + port + "'");
    }
    endpoint e;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(p_value));
        e.length = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(p_value));
        e.length = sizeof(sockaddr_in6);
    } else {
        throw server_error("NTS-KE listen address " + s + ": '" + host +
                           "' is not an IPv4 or IPv6 address");
    }
    return e;
}

std::string to_string(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
        inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
    }
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, alpn_wire, sizeof(alpn_wire), in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        // RFC 8915 section 4: no ntske/1, no session (no_application_protocol alert).
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// What epoll's data.ptr points at: a listener, the stop eventfd or a connection.
enum class kind : std::uint8_t { listener, wakeup, connection };
struct pollable {
    kind what;
    int fd = -1;
};

enum class phase : std::uint8_t { handshake, reading, writing };

struct connection : pollable {
    SSL* ssl = nullptr;
    std::chrono::steady_clock::time_point deadline;
    phase at = phase::handshake;
    std::uint32_t events = 0;  // registered with epoll
    bool ok_response = false;  // the response carries cookies (counted when written)
    unsigned cookies = 0;
    std::size_t in_length = 0;
    std::size_t out_length = 0;
    std::size_t out_sent = 0;
    std::list<connection>::iterator self;
    std::array<std::uint8_t, max_request> in;
    std::array<std::uint8_t, max_response> out;
};

class writer {
  public:
    explicit writer(std::span<std::uint8_t> out) : out_(out) {}
    bool record(bool critical, std::uint16_t type, std::span<const std::uint8_t> body) {
        if (at_ + p::ke_record_header + body.size() > out_.size() || body.size() > 0xFFFF) {
            return false;
        }
        const std::uint16_t head =
            static_cast<std::uint16_t>(type | (critical ? p::ke_critical : 0));
        put16(head);
        put16(static_cast<std::uint16_t>(body.size()));
        if (!body.empty()) {
            std::memcpy(out_.data() + at_, body.data(), body.size());
        }
        at_ += body.size();
        return true;
    }
    bool record16(bool critical, std::uint16_t type, std::uint16_t value) {
        const std::uint8_t b[2] = {static_cast<std::uint8_t>(value >> 8),
                                   static_cast<std::uint8_t>(value)};
        return record(critical, type, b);
    }
    std::size_t size() const { return at_; }

  private:
    void put16(std::uint16_t v) {
        out_[at_++] = static_cast<std::uint8_t>(v >> 8);
        out_[at_++] = static_cast<std::uint8_t>(v);
    }
    std::span<std::uint8_t> out_;
    std::size_t at_ = 0;
};

}  // namespace

struct server::impl {
    server_options options;
    const nts::key_store& keys;
    server_counters counters;
    SSL_CTX* ctx = nullptr;
    std::vector<pollable> listeners;
    std::vector<std::string> bound;
    std::atomic<bool> running{false};
    int stop_fd = -1;
    std::vector<std::thread> threads;
    unsigned per_thread_limit = 1;

    impl(server_options o, const nts::key_store& k) : options(std::move(o)), keys(k) {}

    ~impl() {
        for (auto& l : listeners) {
            if (l.fd >= 0) {
                close(l.fd);
            }
        }
        if (stop_fd >= 0) {
            close(stop_fd);
        }
        SSL_CTX_free(ctx);
    }

    void setup_tls() {
        ctx = SSL_CTX_new(TLS_server_method());
        if (ctx == nullptr) {
            throw server_error("NTS-KE: SSL_CTX_new: " + openssl_error());
        }
        // RFC 8915 section 3: TLS 1.3 or later only.
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);
        // One request per connection: resumption tickets would be work nobody uses.
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
        if (SSL_CTX_use_certificate_chain_file(ctx, options.certificate.c_str()) != 1) {
            throw server_error("NTS-KE certificate " + options.certificate + ": " +
                               openssl_error());
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
            throw server_error("NTS-KE key " + options.key + ": " + openssl_error());
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            throw server_error("NTS-KE key " + options.key + " does not match certificate " +
                               options.certificate);
        }
    }

    void setup_sockets() {
        if (options.listen.empty()) {
            throw server_error("NTS-KE: no listen address");
        }
        for (const auto& l : options.listen) {
            const endpoint e = parse_listen(l);
            const int fd = socket(e.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw server_error("NTS-KE " + l + ": socket: " + std::strerror(errno));
            }
            listeners.push_back({kind::listener, fd});
            const int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            // The service address may appear on the exception path's TAP after we start.
            if (e.addr.ss_family == AF_INET6) {
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
            } else {
                setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
            }
            if (bind(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.length) != 0) {
                throw server_error("NTS-KE " + l + ": bind: " + std::strerror(errno));
            }
            if (listen(fd, 1024) != 0) {
                throw server_error("NTS-KE " + l + ": listen: " + std::strerror(errno));
            }
            sockaddr_storage got{};
            socklen_t len = sizeof(got);
            getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len);
            bound.push_back(to_string(got));
        }
        stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (stop_fd < 0) {
            throw server_error(std::string("NTS-KE: eventfd: ") + std::strerror(errno));
        }
    }

    // ---- one thread's loop ------------------------------------------------------------

    struct loop_state {
        int epoll_fd = -1;
        std::list<connection> connections;  // accept order = deadline order
        // Closed during this batch of events: a later event of the batch may still point at
        // one, so they are freed after the batch.
        std::list<connection> dead;
        std::size_t open = 0;
    };

    void close_connection(loop_state& st, connection& c) {
        SSL_free(c.ssl);
        c.ssl = nullptr;
        close(c.fd);  // also leaves the epoll set
        c.fd = -1;
        --st.open;
        st.dead.splice(st.dead.end(), st.connections, c.self);
    }

    void want(loop_state& st, connection& c, std::uint32_t events) {
        if (c.events == events) {
            return;
        }
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = static_cast<pollable*>(&c);
        epoll_ctl(st.epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
        c.events = events;
    }

    void accept_all(loop_state& st, int listen_fd) {
        for (int n = 0; n < 64; ++n) {
            const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                return;  // EAGAIN (another thread took it), or EMFILE: try again next event
            }
            counters.accepted.fetch_add(1, std::memory_order_relaxed);
            if (st.open >= per_thread_limit && !st.connections.empty()) {
                counters.rejected.fetch_add(1, std::memory_order_relaxed);
                close_connection(st, st.connections.front());
            }
            SSL* ssl = SSL_new(ctx);
            if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
                SSL_free(ssl);
                close(fd);
                counters.tls_failed.fetch_add(1, std::memory_order_relaxed);
                ERR_clear_error();
                continue;
            }
            SSL_set_accept_state(ssl);
            const int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            auto& c = st.connections.emplace_back();
            c.what = kind::connection;
            c.fd = fd;
            c.ssl = ssl;
            c.deadline = std::chrono::steady_clock::now() + options.timeout;
            c.self = std::prev(st.connections.end());
            c.events = EPOLLIN;
            ++st.open;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = static_cast<pollable*>(&c);
            epoll_ctl(st.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
            progress(st, c);
        }
    }

    // The response to a parsed request, into c.out: the negotiation and cookies, or an Error
    // record (Internal Server Error when keys, the exporter or the RNG fail).
    void respond(connection& c, const p::ke_request_view& req) {
        writer w(c.out);
        c.ok_response = false;
        if (req.outcome == p::ke_outcome::error) {
            w.record16(true, p::ke_error, req.error_code);
            w.record(true, p::ke_end_of_message, {});
            c.out_length = w.size();
            return;
        }
        if (!req.ntpv4 || !req.aes_siv) {
            // Nothing in common: an empty Next Protocol (or AEAD) record says so (section
            // 4.1.2, 4.1.5), and no cookies.
            if (req.ntpv4) {
                w.record16(true, p::ke_next_protocol, p::ke_protocol_ntpv4);
                w.record(true, p::ke_aead, {});
            } else {
                w.record(true, p::ke_next_protocol, {});
            }
            w.record(true, p::ke_end_of_message, {});
            c.out_length = w.size();
            return;
        }
        nts::session_keys sk;
        sk.aead = p::ke_aead_aes_siv_cmac_256;
        const nts::key_ring ring = keys.read();
        const nts::master_key* key = ring.current();
        const unsigned n = std::clamp(options.cookies, 1u, max_cookies);
        std::array<std::uint8_t, 16 * max_cookies> nonces;
        bool fine = key != nullptr && detail::export_key(c.ssl, 0, sk.c2s.data()) &&
                    detail::export_key(c.ssl, 1, sk.s2c.data());
        fine = fine && RAND_bytes(nonces.data(), static_cast<int>(16 * n)) == 1;
        if (!fine) {
            ERR_clear_error();
            w.record16(true, p::ke_error, p::ke_error_internal);
            w.record(true, p::ke_end_of_message, {});
            c.out_length = w.size();
            return;
        }
        w.record16(true, p::ke_next_protocol, p::ke_protocol_ntpv4);
        w.record16(true, p::ke_aead, p::ke_aead_aes_siv_cmac_256);
        std::array<std::uint8_t, nts::cookie_length> cookie;
        for (unsigned i = 0; i < n; ++i) {
            nts::make_cookie(*key, nonces.data() + 16 * i, sk, cookie.data());
            w.record(false, p::ke_new_cookie, cookie);
        }
        if (!options.ntp_server.empty()) {
            w.record(true, p::ke_ntpv4_server,
                     {reinterpret_cast<const std::uint8_t*>(options.ntp_server.data()),
                      std::min<std::size_t>(options.ntp_server.size(), 255)});
        }
        if (options.ntp_port != 0) {
            w.record16(true, p::ke_ntpv4_port, options.ntp_port);
        }
        w.record(true, p::ke_end_of_message, {});
        c.out_length = w.size();
        c.ok_response = true;
        c.cookies = n;
    }

    // Moves a connection on as far as its socket allows; may close it.
    void progress(loop_state& st, connection& c) {
        for (;;) {
            if (c.at == phase::handshake) {
                // The client's request follows its Finished; with nothing of ours to send
                // after the handshake (no tickets), a delayed ACK would hold the request behind
                // Nagle for 40 ms on every session (measured: 21 sessions/s instead of 210).
                // QUICKACK is not sticky: set before each step of the handshake.
                const int one = 1;
                setsockopt(c.fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
                const int r = SSL_do_handshake(c.ssl);
                if (r == 1) {
                    const unsigned char* alpn = nullptr;
                    unsigned alpn_len = 0;
                    SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
                    if (alpn_len != sizeof(alpn_wire) - 1) {
                        // The client offered no ALPN at all (the callback never ran).
                        counters.tls_failed.fetch_add(1, std::memory_order_relaxed);
                        close_connection(st, c);
                        return;
                    }
                    c.at = phase::reading;
                    continue;
                }
                wait_for(st, c, r, counters.tls_failed);
                return;
            }
            if (c.at == phase::reading) {
                const int r = SSL_read(c.ssl, c.in.data() + c.in_length,
                                       static_cast<int>(c.in.size() - c.in_length));
                if (r <= 0) {
                    wait_for(st, c, r, counters.bad_request);
                    return;
                }
                c.in_length += static_cast<std::size_t>(r);
                p::ke_request_view req = p::parse_ke_request({c.in.data(), c.in_length});
                if (req.outcome == p::ke_outcome::incomplete) {
                    if (c.in_length < c.in.size()) {
                        continue;
                    }
                    req.outcome = p::ke_outcome::error;  // oversized
                    req.error_code = p::ke_error_bad_request;
                } else if (req.outcome == p::ke_outcome::ok && req.length != c.in_length) {
                    // More after End of Message: one request per connection.
                    req.outcome = p::ke_outcome::error;
                    req.error_code = p::ke_error_bad_request;
                }
                respond(c, req);
                c.at = phase::writing;
                continue;
            }
            // writing
            const int r = SSL_write(c.ssl, c.out.data() + c.out_sent,
                                    static_cast<int>(c.out_length - c.out_sent));
            if (r <= 0) {
                wait_for(st, c, r, counters.bad_request);
                return;
            }
            c.out_sent += static_cast<std::size_t>(r);
            if (c.out_sent < c.out_length) {
                continue;
            }
            if (c.ok_response) {
                counters.sessions_ok.fetch_add(1, std::memory_order_relaxed);
                counters.cookies_issued.fetch_add(c.cookies, std::memory_order_relaxed);
            } else {
                counters.bad_request.fetch_add(1, std::memory_order_relaxed);
            }
            SSL_shutdown(c.ssl);  // close_notify; the peer's is not waited for
            shutdown(c.fd, SHUT_WR);
            close_connection(st, c);
            return;
        }
    }

    // After an SSL call returned r <= 0: waits for the socket (true) or closes the connection
    // and counts it under `fail` (false).
    bool wait_for(loop_state& st, connection& c, int r, std::atomic<std::uint64_t>& fail) {
        switch (SSL_get_error(c.ssl, r)) {
            case SSL_ERROR_WANT_READ:
                want(st, c, EPOLLIN);
                return true;
            case SSL_ERROR_WANT_WRITE:
                want(st, c, EPOLLOUT);
                return true;
            default:
                ERR_clear_error();
                fail.fetch_add(1, std::memory_order_relaxed);
                close_connection(st, c);
                return false;
        }
    }

    void expire(loop_state& st) {
        const auto now = std::chrono::steady_clock::now();
        while (!st.connections.empty() && st.connections.front().deadline <= now) {
            counters.timeouts.fetch_add(1, std::memory_order_relaxed);
            close_connection(st, st.connections.front());
        }
    }

    void run(unsigned index) {
        if (!options.cpus.empty()) {
            cpu_set_t set;
            CPU_ZERO(&set);
            for (int cpu : options.cpus) {
                if (cpu >= 0 && cpu < CPU_SETSIZE) {
                    CPU_SET(cpu, &set);
                }
            }
            pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        }
        const std::string name = "nts-ke-" + std::to_string(index);
        pthread_setname_np(pthread_self(), name.c_str());

        loop_state st;
        st.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (st.epoll_fd < 0) {
            return;
        }
        for (auto& l : listeners) {
            epoll_event ev{};
            // Every thread waits on every listener; EPOLLEXCLUSIVE wakes one of them.
            ev.events = EPOLLIN | EPOLLEXCLUSIVE;
            ev.data.ptr = &l;
            epoll_ctl(st.epoll_fd, EPOLL_CTL_ADD, l.fd, &ev);
        }
        pollable wake{kind::wakeup, stop_fd};
        epoll_event wev{};
        wev.events = EPOLLIN;
        wev.data.ptr = &wake;
        epoll_ctl(st.epoll_fd, EPOLL_CTL_ADD, stop_fd, &wev);

        std::array<epoll_event, 64> events;
        while (running.load(std::memory_order_acquire)) {
            int wait_ms = 1000;
            if (!st.connections.empty()) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    st.connections.front().deadline - std::chrono::steady_clock::now());
                wait_ms = static_cast<int>(std::clamp<std::int64_t>(left.count() + 1, 0, 1000));
            }
            const int n = epoll_wait(st.epoll_fd, events.data(), events.size(), wait_ms);
            for (int i = 0; i < n; ++i) {
                auto* what = static_cast<pollable*>(events[i].data.ptr);
                if (what->what == kind::listener) {
                    accept_all(st, what->fd);
                } else if (what->what == kind::connection && what->fd >= 0) {
                    progress(st, *static_cast<connection*>(what));
                }
                // wakeup: the loop condition sees running == false
            }
            expire(st);
            st.dead.clear();
        }
        while (!st.connections.empty()) {
            close_connection(st, st.connections.front());
        }
        st.dead.clear();
        close(st.epoll_fd);
    }
};

server::server(server_options options, const nts::key_store& keys)
    : impl_(std::make_unique<impl>(std::move(options), keys)) {
    impl_->setup_tls();
    impl_->setup_sockets();
    const unsigned threads = std::max(1u, impl_->options.threads);
    impl_->per_thread_limit = std::max(1u, impl_->options.max_connections / threads);
}

server::~server() {
    stop();
}

void server::start() {
    if (impl_->running.exchange(true)) {
        return;
    }
    const unsigned threads = std::max(1u, impl_->options.threads);
    for (unsigned i = 0; i < threads; ++i) {
        impl_->threads.emplace_back([this, i] { impl_->run(i); });
    }
}

void server::stop() {
    if (!impl_->running.exchange(false)) {
        return;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto w = write(impl_->stop_fd, &one, sizeof(one));
    for (auto& t : impl_->threads) {
        t.join();
    }
    impl_->threads.clear();
}

const server_counters& server::counters() const {
    return impl_->counters;
}

std::vector<std::string> server::endpoints() const {
    return impl_->bound;
}

}  // namespace ports::nts_ke
