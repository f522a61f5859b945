// The NTS-KE server (RFC 8915 section 4) over real loopback TLS: certificates made when the test
// runs (tests/support/test_certs.hpp), a key ring published through a key_store, our own client
// (nts_ke/client.hpp) on the other end, and raw TCP sockets for the clients that do not speak
// TLS or do not speak at all. The server's counters are written by its threads: the tests poll
// them up to a deadline instead of sleeping a fixed time.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "poll.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts_ke/client.hpp"
#include "ports/nts_ke/ke_server.hpp"
#include "ports/parsers/nts_ke.hpp"
#include "test_certs.hpp"

using namespace std::chrono_literals;
using namespace ports;
using namespace ports::nts_ke;
namespace fs = std::filesystem;

namespace {

using bytes = std::vector<std::uint8_t>;
using steady = std::chrono::steady_clock;

// A peer that closes while we write must give EPIPE, not kill the test binary (OpenSSL's
// socket BIO writes with write(2), which raises SIGPIPE).
const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

// --- records, as in test_ke_records.cpp ---

bytes record(std::uint16_t type, bool critical, const bytes& body = {}) {
    const std::uint16_t head =
        static_cast<std::uint16_t>(type | (critical ? parsers::ke_critical : 0));
    bytes r{static_cast<std::uint8_t>(head >> 8), static_cast<std::uint8_t>(head & 0xff),
            static_cast<std::uint8_t>(body.size() >> 8),
            static_cast<std::uint8_t>(body.size() & 0xff)};
    r.insert(r.end(), body.begin(), body.end());
    return r;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

const bytes next_protocol_ntpv4 = record(parsers::ke_next_protocol, true, {0x00, 0x00});
const bytes aead_siv = record(parsers::ke_aead, true, {0x00, 0x0F});
const bytes end_of_message = record(parsers::ke_end_of_message, true);

parsers::ke_response_view parse(const raw_exchange& r) {
    return parsers::parse_ke_response(parsers::byte_span(r.response.data(), r.response.size()));
}

std::uint32_t key_id_of(const std::vector<std::uint8_t>& cookie) {
    return cookie.size() < 4 ? 0 : parsers::load_be32(cookie.data());
}

// --- time and polling ---

std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::time(nullptr));
}

using ports::test::eventually;  // tests/support/poll.hpp

std::chrono::milliseconds since(steady::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
}

// --- raw TCP ---

struct endpoint {
    std::string host;  // without brackets
    std::uint16_t port = 0;
};

// "ADDR:PORT" or "[ADDR6]:PORT", as server::endpoints() gives them.
endpoint parse_endpoint(const std::string& s) {
    const std::size_t colon = s.rfind(':');
    endpoint e;
    e.host = s.substr(0, colon);
    if (!e.host.empty() && e.host.front() == '[') {
        e.host = e.host.substr(1, e.host.size() - 2);
    }
    e.port = static_cast<std::uint16_t>(std::stoul(s.substr(colon + 1)));
    return e;
}

class socket_fd {
  public:
    socket_fd() = default;
    explicit socket_fd(int fd) : fd_(fd) {}
    socket_fd(socket_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    socket_fd& operator=(socket_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~socket_fd() { reset(); }
    void reset() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

// A blocking TCP connection that says nothing; invalid when the connect fails.
socket_fd tcp_connect(const endpoint& e) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    if (::getaddrinfo(e.host.c_str(), std::to_string(e.port).c_str(), &hints, &list) != 0) {
        return {};
    }
    socket_fd fd(::socket(list->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.valid() && ::connect(fd.get(), list->ai_addr, list->ai_addrlen) != 0) {
        fd.reset();
    }
    ::freeaddrinfo(list);
    return fd;
}

bool send_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (n > 0) {
        const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return false;
        }
        p += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}

// Whether the peer closes (EOF or reset) within `limit`; what it sends first (an alert) is
// read and dropped.
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
    const auto deadline = steady::now() + limit;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        if (left.count() <= 0) {
            return false;
        }
        pollfd p{fd, POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        std::uint8_t buf[4096];
        const ssize_t k = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
            return true;
        }
    }
}

bool ipv6_loopback_available() {
    socket_fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
        return false;
    }
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
}

// At least `want` descriptors; false when the hard limit does not allow it.
bool raise_fd_limit(rlim_t want) {
    rlimit l{};
    if (::getrlimit(RLIMIT_NOFILE, &l) != 0) {
        return false;
    }
    if (l.rlim_cur >= want) {
        return true;
    }
    if (l.rlim_max != RLIM_INFINITY && l.rlim_max < want) {
        return false;
    }
    l.rlim_cur = want;
    return ::setrlimit(RLIMIT_NOFILE, &l) == 0;
}

// --- the fixture ---

class KeServer : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::random_device rd;
        dir = fs::temp_directory_path() /
              ("ports-nts-ke-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        certs =
            test::make_test_certificates(dir / "good", {"IP:127.0.0.1", "IP:::1", "DNS:localhost"});
        // Same names, another CA: a client trusting only this one must refuse our server.
        other = test::make_test_certificates(dir / "other",
                                             {"IP:127.0.0.1", "IP:::1", "DNS:localhost"});
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    void SetUp() override {
        ring.rotate(now_unix());
        store.publish(ring);
    }
    void TearDown() override { srv.reset(); }

    static server_options options(std::string listen = "127.0.0.1:0") {
        server_options o;
        o.listen = {std::move(listen)};
        o.certificate = certs.certificate;
        o.key = certs.key;
        return o;
    }

    void start(server_options o) {
        srv = std::make_unique<server>(std::move(o), store);
        srv->start();
        const std::vector<std::string> eps = srv->endpoints();
        ASSERT_FALSE(eps.empty());
        ep = parse_endpoint(eps.front());
        ASSERT_NE(ep.port, 0);
    }
    void start() { start(options()); }

    client_options client() const {
        client_options c;
        c.host = ep.host;
        c.port = ep.port;
        c.ca_file = certs.ca;
        c.timeout = 5000ms;
        return c;
    }

    const server_counters& counters() const { return srv->counters(); }

    // The session is refused: fetch throws, no cookies were sent.
    void expect_refused(const client_options& c) {
        EXPECT_THROW(fetch(c), client_error);
        EXPECT_EQ(counters().sessions_ok.load(), 0u);
    }

    static inline fs::path dir;
    static inline test::test_certificates certs;
    static inline test::test_certificates other;

    // Declared before srv: the server reads the store until it is destroyed.
    nts::key_ring ring;
    nts::key_store store;
    std::unique_ptr<server> srv;
    endpoint ep;
};

}  // namespace

// --- sessions ---------------------------------------------------------------------------------

TEST_F(KeServer, FetchGetsCookiesThatOpenToTheExportedKeys) {
    start();
    const client_result r = fetch(client());
    EXPECT_EQ(r.aead, parsers::ke_aead_aes_siv_cmac_256);
    ASSERT_EQ(r.cookies.size(), 8u);
    // The cookies carry the keys both ends got from the TLS exporter (section 5.1): the fast
    // path will verify this client's requests with them.
    for (const auto& cookie : r.cookies) {
        EXPECT_EQ(cookie.size(), nts::cookie_length);
        const auto keys = nts::open_cookie(ring, cookie);
        ASSERT_TRUE(keys.has_value());
        EXPECT_EQ(keys->aead, nts::aead_aes_siv_cmac_256);
        EXPECT_EQ(keys->c2s, r.c2s);
        EXPECT_EQ(keys->s2c, r.s2c);
    }
    for (std::size_t i = 1; i < r.cookies.size(); ++i) {
        EXPECT_NE(r.cookies[i], r.cookies[i - 1]);  // fresh nonces: unlinkable
    }
    EXPECT_NE(r.c2s, r.s2c);
    // No NTPv4 Server / Port records unless configured: the client uses the KE host, 123.
    EXPECT_TRUE(r.ntp_server.empty());
    EXPECT_EQ(r.ntp_port, 0);
    EXPECT_TRUE(eventually([&] { return counters().sessions_ok.load() == 1; }));
    EXPECT_TRUE(eventually([&] { return counters().cookies_issued.load() == 8; }));
    EXPECT_GE(counters().accepted.load(), 1u);
}

TEST_F(KeServer, EachSessionHasItsOwnKeys) {
    start();
    const client_result a = fetch(client());
    const client_result b = fetch(client());
    EXPECT_NE(a.c2s, b.c2s);
    EXPECT_NE(a.s2c, b.s2c);
}

TEST_F(KeServer, SessionsDoNotWaitForADelayedAck) {
    // On loopback a session (handshake, request, response, close) takes a few ms. A small
    // write that Nagle holds behind an unacknowledged segment (the request behind the client's
    // Finished, which the server has nothing to send after) waits for the peer's delayed ACK,
    // 40 ms at least on Linux, on every session: ~20 sessions/s per client. The fastest of a
    // few sessions is checked, so that a loaded machine does not make it flaky.
    start();
    auto fastest = std::chrono::milliseconds::max();
    for (int i = 0; i < 8; ++i) {
        const auto t0 = steady::now();
        ASSERT_EQ(fetch(client()).cookies.size(), 8u);
        fastest = std::min(fastest, since(t0));
    }
    EXPECT_LT(fastest, 30ms);
}

TEST_F(KeServer, CookieCountFollowsTheOption) {
    for (const unsigned n : {1u, 16u}) {
        server_options o = options();
        o.cookies = n;
        start(std::move(o));
        EXPECT_EQ(fetch(client()).cookies.size(), n);
    }
}

TEST_F(KeServer, NtpServerAndPortOptionsAreSent) {
    server_options o = options();
    o.ntp_server = "ntp.example.net";
    o.ntp_port = 10123;
    start(std::move(o));
    const client_result r = fetch(client());
    EXPECT_EQ(r.ntp_server, "ntp.example.net");
    EXPECT_EQ(r.ntp_port, 10123);
}

TEST_F(KeServer, RawExchangeEndsWithEndOfMessageThenClose) {
    start();
    const raw_exchange r = nts_ke::exchange(client(), standard_request());
    EXPECT_TRUE(r.closed);
    const parsers::ke_response_view v = parse(r);
    ASSERT_EQ(v.outcome, parsers::ke_outcome::ok) << parsers::to_string(v.st);
    EXPECT_EQ(v.length, r.response.size());  // nothing after End of Message
    EXPECT_TRUE(v.has_protocol);
    EXPECT_EQ(v.protocol, parsers::ke_protocol_ntpv4);
    EXPECT_TRUE(v.has_aead);
    EXPECT_EQ(v.aead, parsers::ke_aead_aes_siv_cmac_256);
    ASSERT_EQ(v.cookie_count, 8);
    const auto keys = nts::open_cookie(ring, v.cookies[0]);
    ASSERT_TRUE(keys.has_value());
    EXPECT_EQ(keys->c2s, r.c2s);
    EXPECT_EQ(keys->s2c, r.s2c);
}

TEST_F(KeServer, Ipv6Listener) {
    if (!ipv6_loopback_available()) {
        GTEST_SKIP() << "::1 is not available here";
    }
    start(options("[::1]:0"));
    EXPECT_EQ(srv->endpoints().front(), "[::1]:" + std::to_string(ep.port));
    EXPECT_EQ(ep.host, "::1");
    EXPECT_EQ(fetch(client()).cookies.size(), 8u);  // the certificate's IP:::1 verified
}

TEST_F(KeServer, EndpointsGiveTheRealPort) {
    start();
    ASSERT_EQ(srv->endpoints().size(), 1u);
    EXPECT_EQ(ep.host, "127.0.0.1");
    EXPECT_EQ(srv->endpoints().front(), "127.0.0.1:" + std::to_string(ep.port));
}

TEST_F(KeServer, ConcurrentClientsAllGetCookies) {
    server_options o = options();
    o.threads = 2;
    start(std::move(o));
    constexpr unsigned clients = 4;
    constexpr unsigned each = 5;
    std::atomic<unsigned> ok{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < clients; ++t) {
        threads.emplace_back([&] {
            for (unsigned i = 0; i < each; ++i) {
                try {
                    if (fetch(client()).cookies.size() == 8) {
                        ok.fetch_add(1);
                    }
                } catch (const client_error&) {
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), clients * each);
    EXPECT_TRUE(eventually([&] { return counters().sessions_ok.load() == clients * each; }));
    EXPECT_TRUE(
        eventually([&] { return counters().cookies_issued.load() == 8u * clients * each; }));
}

// --- TLS: certificate, version, ALPN ------------------------------------------------------------

TEST_F(KeServer, CertificateNameIsVerified) {
    start();
    client_options c = client();
    c.server_name = "wrong.example";  // not in the certificate's SANs
    EXPECT_THROW(fetch(c), client_error);
    c.server_name = "localhost";  // a DNS SAN it has
    EXPECT_EQ(fetch(c).cookies.size(), 8u);
}

TEST_F(KeServer, UnverifiedClientAcceptsAnyName) {
    // verify = false is for the record tests only; it does accept what verification refuses.
    start();
    client_options c = client();
    c.server_name = "wrong.example";
    c.verify = false;
    EXPECT_EQ(fetch(c).cookies.size(), 8u);
}

TEST_F(KeServer, CertificateFromAnotherCaIsRefused) {
    start();
    client_options c = client();
    c.ca_file = other.ca;
    expect_refused(c);
}

TEST_F(KeServer, Tls12ClientIsRefused) {
    // RFC 8915 section 3: TLS 1.3 or later only.
    start();
    client_options c = client();
    c.max_tls_version = 0x0303;  // TLS1_2_VERSION
    expect_refused(c);
    EXPECT_TRUE(eventually([&] { return counters().tls_failed.load() >= 1; }));
}

TEST_F(KeServer, ClientWithoutAlpnIsRefused) {
    // Section 4: the client MUST offer "ntske/1"; without it the server must not answer.
    start();
    client_options c = client();
    c.alpn = "";
    expect_refused(c);
    EXPECT_TRUE(eventually([&] { return counters().tls_failed.load() >= 1; }));
}

TEST_F(KeServer, ClientWithOtherAlpnIsRefused) {
    start();
    client_options c = client();
    c.alpn = "http/1.1";
    expect_refused(c);
    EXPECT_TRUE(eventually([&] { return counters().tls_failed.load() >= 1; }));
}

TEST_F(KeServer, GarbageIsNotTls) {
    server_options o = options();
    o.timeout = 20000ms;  // a close well before this is the TLS failure, not the deadline
    start(std::move(o));
    socket_fd fd = tcp_connect(ep);
    ASSERT_TRUE(fd.valid());
    const std::string junk = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_TRUE(send_all(fd.get(), junk.data(), junk.size()));
    EXPECT_TRUE(closed_by_peer(fd.get(), 3000ms));
    EXPECT_TRUE(eventually([&] { return counters().tls_failed.load() >= 1; }));
    EXPECT_EQ(counters().timeouts.load(), 0u);
}

// --- requests the server refuses ----------------------------------------------------------------

TEST_F(KeServer, UnknownCriticalRecordGetsErrorUnrecognizedCritical) {
    start();
    const bytes request =
        cat({next_protocol_ntpv4, record(0x4321, true, {1, 2}), aead_siv, end_of_message});
    const raw_exchange r = nts_ke::exchange(client(), request);
    const parsers::ke_response_view v = parse(r);
    EXPECT_TRUE(v.has_error);
    EXPECT_EQ(v.error_code, parsers::ke_error_unrecognized_critical);
    EXPECT_EQ(v.cookie_count, 0);
    EXPECT_TRUE(eventually([&] { return counters().bad_request.load() >= 1; }));
    EXPECT_EQ(counters().sessions_ok.load(), 0u);
}

TEST_F(KeServer, ErrorRecordFromClientGetsBadRequest) {
    start();
    const bytes request = cat({next_protocol_ntpv4, aead_siv,
                               record(parsers::ke_error, true, {0x00, 0x00}), end_of_message});
    const parsers::ke_response_view v = parse(nts_ke::exchange(client(), request));
    EXPECT_TRUE(v.has_error);
    EXPECT_EQ(v.error_code, parsers::ke_error_bad_request);
    EXPECT_TRUE(eventually([&] { return counters().bad_request.load() >= 1; }));
}

TEST_F(KeServer, TrailingBytesAfterEndOfMessageGetBadRequest) {
    // One request per connection: anything after End of Message is not a request we answer.
    start();
    const bytes request = cat({standard_request(), record(0x4001, false, {1, 2, 3})});
    const parsers::ke_response_view v = parse(nts_ke::exchange(client(), request));
    EXPECT_TRUE(v.has_error);
    EXPECT_EQ(v.error_code, parsers::ke_error_bad_request);
    EXPECT_EQ(v.cookie_count, 0);
}

TEST_F(KeServer, PaddedRequestUnderTheLimitIsServed) {
    // Unknown non-critical records are skipped (section 4): a little padding is fine.
    start();
    const bytes request = cat({record(0x4001, false, bytes(1000, 0xAB)), standard_request()});
    const raw_exchange r = nts_ke::exchange(client(), request);
    const parsers::ke_response_view v = parse(r);
    ASSERT_EQ(v.outcome, parsers::ke_outcome::ok) << parsers::to_string(v.st);
    EXPECT_EQ(v.cookie_count, 8);
}

TEST_F(KeServer, RequestWithoutAesSivGetsEmptyAeadAndNoCookies) {
    // Section 4.1.5: no algorithm in common is answered with an empty AEAD record, and there
    // are no keys to put in cookies.
    start();
    const bytes request =
        cat({next_protocol_ntpv4, record(parsers::ke_aead, true, {0x00, 0x10}), end_of_message});
    const raw_exchange r = nts_ke::exchange(client(), request);
    const parsers::ke_response_view v = parse(r);
    ASSERT_EQ(v.outcome, parsers::ke_outcome::ok) << parsers::to_string(v.st);
    EXPECT_FALSE(v.has_error);
    EXPECT_FALSE(v.has_aead);
    EXPECT_EQ(v.cookie_count, 0);
    EXPECT_EQ(counters().cookies_issued.load(), 0u);
}

TEST_F(KeServer, OversizedRequestIsRefused) {
    // 70 KB of skippable records and never an End of Message: the server must stop reading at
    // its bound, not buffer whatever a client sends.
    start();
    bytes request;
    while (request.size() < 70000) {
        const bytes pad = record(0x4001, false, bytes(1000, 0x5A));
        request.insert(request.end(), pad.begin(), pad.end());
    }
    const auto t0 = steady::now();
    try {
        const raw_exchange r = nts_ke::exchange(client(), request);
        // Either an Error(bad request) or a bare close; never cookies.
        EXPECT_TRUE(r.closed);
        if (!r.response.empty()) {
            const parsers::ke_response_view v = parse(r);
            EXPECT_TRUE(v.has_error);
            EXPECT_EQ(v.error_code, parsers::ke_error_bad_request);
        }
    } catch (const client_error&) {
        // The server closed while we were still writing: a refusal too.
    }
    EXPECT_LT(since(t0), 4000ms);  // refused at the bound, not at the 5 s deadline
    EXPECT_TRUE(eventually([&] { return counters().bad_request.load() >= 1; }));
    EXPECT_EQ(counters().sessions_ok.load(), 0u);
}

// --- deadlines and crowds -----------------------------------------------------------------------

TEST_F(KeServer, SilentClientAfterPartialRequestIsClosedAtTheTimeout) {
    server_options o = options();
    o.timeout = 300ms;
    start(std::move(o));
    client_options c = client();
    c.timeout = 4000ms;  // longer than the server's: whoever gives up first is the server
    const bytes partial = cat({next_protocol_ntpv4, aead_siv});  // no End of Message
    const auto t0 = steady::now();
    try {
        const raw_exchange r = nts_ke::exchange(c, partial);
        EXPECT_TRUE(r.closed);
        EXPECT_EQ(parse(r).cookie_count, 0);
    } catch (const client_error&) {
        // A reset instead of close_notify is a close too, as long as it came early.
    }
    EXPECT_LT(since(t0), 3000ms);
    EXPECT_TRUE(eventually([&] { return counters().timeouts.load() >= 1; }));
    EXPECT_EQ(counters().sessions_ok.load(), 0u);
}

TEST_F(KeServer, SilentTcpConnectionIsClosedAtTheTimeout) {
    // Not even a ClientHello: the deadline covers the handshake.
    server_options o = options();
    o.timeout = 300ms;
    start(std::move(o));
    socket_fd fd = tcp_connect(ep);
    ASSERT_TRUE(fd.valid());
    const auto t0 = steady::now();
    EXPECT_TRUE(closed_by_peer(fd.get(), 3000ms));
    EXPECT_GE(since(t0), 200ms);  // and not before it
    EXPECT_TRUE(eventually([&] { return counters().timeouts.load() >= 1; }));
}

TEST_F(KeServer, MaxConnectionsClosesTheOldestToServeANewClient) {
    server_options o = options();
    o.max_connections = 8;
    o.timeout = 20000ms;  // idle connections are closed for room, not by the deadline
    start(std::move(o));
    constexpr std::uint64_t idle = 12;
    std::vector<socket_fd> crowd;
    for (std::uint64_t i = 0; i < idle; ++i) {
        crowd.push_back(tcp_connect(ep));
        ASSERT_TRUE(crowd.back().valid()) << i;
    }
    ASSERT_TRUE(eventually([&] { return counters().accepted.load() >= idle; }));
    const client_result r = fetch(client());
    EXPECT_EQ(r.cookies.size(), 8u);
    EXPECT_GT(counters().rejected.load(), 0u);
    // The oldest went first; the newest idle one is still held.
    EXPECT_TRUE(closed_by_peer(crowd.front().get(), 2000ms));
    EXPECT_FALSE(closed_by_peer(crowd.back().get(), 100ms));
}

TEST_F(KeServer, ThousandIdleConnectionsDoNotStopNewHandshakes) {
    constexpr std::uint64_t idle = 1000;
    // Both ends live in this process: two descriptors per connection, and some to spare.
    if (!raise_fd_limit(2 * idle + 256)) {
        GTEST_SKIP() << "RLIMIT_NOFILE cannot be raised to " << 2 * idle + 256;
    }
    server_options o = options();
    o.timeout = 30000ms;  // the crowd stays for the whole test
    start(std::move(o));
    std::vector<socket_fd> crowd;
    crowd.reserve(idle);
    for (std::uint64_t i = 0; i < idle; ++i) {
        crowd.push_back(tcp_connect(ep));
        ASSERT_TRUE(crowd.back().valid()) << i << ": " << std::strerror(errno);
    }
    ASSERT_TRUE(eventually([&] { return counters().accepted.load() >= idle; }, 10000ms));
    client_options c = client();
    c.timeout = 5000ms;
    const auto t0 = steady::now();
    EXPECT_EQ(fetch(c).cookies.size(), 8u);
    EXPECT_LT(since(t0), 5000ms);
    // Under max_connections (1024): served alongside the crowd, nobody evicted.
    EXPECT_EQ(counters().rejected.load(), 0u);
}

// --- keys
// -----------------------------------------------------------------------------------------

TEST_F(KeServer, KeyRotationIssuesCookiesUnderTheNewKey) {
    start();
    const client_result before = fetch(client());
    const std::uint32_t old_id = ring.current()->id;
    for (const auto& cookie : before.cookies) {
        EXPECT_EQ(key_id_of(cookie), old_id);
    }
    ring.rotate(now_unix() + 1);
    store.publish(ring);
    const std::uint32_t new_id = ring.current()->id;
    ASSERT_NE(new_id, old_id);
    const client_result after = fetch(client());
    ASSERT_FALSE(after.cookies.empty());
    for (const auto& cookie : after.cookies) {
        EXPECT_EQ(key_id_of(cookie), new_id);
        EXPECT_TRUE(nts::open_cookie(ring, cookie).has_value());
    }
    // The old key stays in the ring: cookies clients already hold keep working.
    for (const auto& cookie : before.cookies) {
        const auto keys = nts::open_cookie(ring, cookie);
        ASSERT_TRUE(keys.has_value());
        EXPECT_EQ(keys->c2s, before.c2s);
    }
}

// --- lifecycle and configuration
// ------------------------------------------------------------------

TEST_F(KeServer, StopReturnsPromptlyWithConnectionsOpen) {
    server_options o = options();
    o.timeout = 30000ms;
    start(std::move(o));
    std::vector<socket_fd> crowd;
    for (int i = 0; i < 5; ++i) {
        crowd.push_back(tcp_connect(ep));
        ASSERT_TRUE(crowd.back().valid());
    }
    // One mid-handshake too: a ClientHello's first bytes and then nothing.
    const std::uint8_t hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    ASSERT_TRUE(send_all(crowd.back().get(), hello_start, sizeof(hello_start)));
    ASSERT_TRUE(eventually([&] { return counters().accepted.load() >= 5; }));
    const auto t0 = steady::now();
    srv->stop();
    EXPECT_LT(since(t0), 1000ms);
    // Their connections are closed with it, not left to leak.
    for (const auto& fd : crowd) {
        EXPECT_TRUE(closed_by_peer(fd.get(), 1000ms));
    }
}

TEST_F(KeServer, MissingCertificateThrowsWithThePath) {
    server_options o = options();
    o.certificate = (dir / "absent" / "server.pem").string();
    try {
        server s(o, store);
        FAIL() << "no server_error";
    } catch (const server_error& e) {
        EXPECT_NE(std::string(e.what()).find(o.certificate), std::string::npos) << e.what();
    }
}

TEST_F(KeServer, MissingKeyThrowsWithThePath) {
    server_options o = options();
    o.key = (dir / "absent" / "server.key").string();
    try {
        server s(o, store);
        FAIL() << "no server_error";
    } catch (const server_error& e) {
        EXPECT_NE(std::string(e.what()).find(o.key), std::string::npos) << e.what();
    }
}

TEST_F(KeServer, KeyNotMatchingTheCertificateThrows) {
    server_options o = options();
    o.key = other.key;
    EXPECT_THROW({ server s(o, store); }, server_error);
}

TEST_F(KeServer, ListenAddressThatIsNotAnAddressThrows) {
    try {
        server s(options("nonsense:1"), store);
        FAIL() << "no server_error";
    } catch (const server_error& e) {
        EXPECT_NE(std::string(e.what()).find("nonsense"), std::string::npos) << e.what();
    }
}
