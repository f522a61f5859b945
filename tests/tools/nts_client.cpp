// nts-client: a test tool for the engine's NTS (RFC 8915): NTS-KE with nts_ke::fetch (or
// keys and cookies saved by an earlier run), then NTS-protected NTPv4 requests over UDP, one
// JSON line per request and a summary line. See usage() for the options; exit 0 when it ran
// (the outcomes are the data), 2 on a usage error, 1 when the KE (or --load, or the socket)
// failed.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nts_request.hpp"
#include "ports/common/text.hpp"
#include "ports/nts/aes_siv.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts_ke/client.hpp"

namespace {

using namespace ports;
using nts::test_support::bytes;

constexpr std::size_t jar_target = 8;  // cookies a client keeps (RFC 8915 suggests 8)

void usage() {
    std::cerr
        << "usage: nts-client --ke HOST[:PORT] --ca CA.pem [--name NAME] [--ntp ADDR[:PORT]]\n"
           "                  [--requests N] [--interval-ms M] [--timeout-ms T]\n"
           "                  [--tamper auth|cookie] [--save FILE] [--load FILE] "
           "[--print-ntpperf]\n"
           "  --ke          NTS-KE server (port 4460 by default)\n"
           "  --ca          CA certificates (PEM) the KE server's certificate must chain to\n"
           "  --name        name to verify in the certificate (default: the --ke host)\n"
           "  --ntp         NTP server (default: the KE's negotiated server and port, else the\n"
           "                KE host, port 123)\n"
           "  --requests    NTS requests to send (default 1)\n"
           "  --interval-ms pause between requests (default 0)\n"
           "  --timeout-ms  wait for each reply (default 1000)\n"
           "  --tamper      auth: flip a byte of the Authenticator's tag (expect timeout);\n"
           "                cookie: flip a byte of the cookie (expect nts_nak)\n"
           "  --save FILE   write the keys, NTP address and unused cookies at the end\n"
           "  --load FILE   use a --save file instead of NTS-KE (--ke and --ca not needed)\n"
           "  --print-ntpperf  print C2S_HEX,COOKIE_HEX first (for ntpperf -S)\n";
}

struct host_port {
    std::string host;
    std::uint16_t port = 0;
};

// "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT"; a bare IPv6 address (two colons or more) has
// no port.
std::optional<host_port> split_host_port(const std::string& s, std::uint16_t default_port) {
    host_port out{s, default_port};
    std::string port;
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos) {
            return std::nullopt;
        }
        out.host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') {
                return std::nullopt;
            }
            port = s.substr(close + 2);
        }
    } else if (const auto colon = s.find(':');
               colon != std::string::npos && s.find(':', colon + 1) == std::string::npos) {
        out.host = s.substr(0, colon);
        port = s.substr(colon + 1);
    }
    if (!port.empty()) {
        char* end = nullptr;
        const unsigned long p = std::strtoul(port.c_str(), &end, 10);
        if (*end != '\0' || p == 0 || p > 65535) {
            return std::nullopt;
        }
        out.port = static_cast<std::uint16_t>(p);
    }
    if (out.host.empty()) {
        return std::nullopt;
    }
    return out;
}

std::string to_hex(const std::uint8_t* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

std::optional<bytes> from_hex(const std::string& s) {
    if (s.size() % 2 != 0) {
        return std::nullopt;
    }
    bytes out(s.size() / 2);
    if (ports::text::decode_hex(s, out) != std::string_view::npos) {
        return std::nullopt;
    }
    return out;
}

// What NTS-KE gives a client, or what --load reads back.
struct session {
    std::array<std::uint8_t, nts::c2s_key_length> c2s{};
    std::array<std::uint8_t, nts::c2s_key_length> s2c{};
    std::deque<bytes> cookies;
    host_port ntp;  // host empty: not negotiated
};

// Save file: "c2s HEX", "s2c HEX", "ntp HOST PORT", then "cookie HEX" lines.
void save_session(const std::string& path, const session& s) {
    std::ofstream f(path);
    f << "c2s " << to_hex(s.c2s.data(), s.c2s.size()) << "\n";
    f << "s2c " << to_hex(s.s2c.data(), s.s2c.size()) << "\n";
    if (!s.ntp.host.empty()) {
        f << "ntp " << s.ntp.host << " " << s.ntp.port << "\n";
    }
    for (const bytes& c : s.cookies) {
        f << "cookie " << to_hex(c.data(), c.size()) << "\n";
    }
    if (!f.flush()) {
        throw std::runtime_error(path + ": cannot write");
    }
}

session load_session(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        throw std::runtime_error(path + ": cannot read");
    }
    session s;
    bool have_c2s = false;
    bool have_s2c = false;
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
        std::istringstream in(line);
        std::string what, value;
        in >> what >> value;
        const auto fail = [&](const char* why) {
            return std::runtime_error(path + ":" + std::to_string(n) + ": " + why);
        };
        if (what.empty()) {
            continue;
        }
        if (what == "ntp") {
            unsigned port = 0;
            in >> port;
            if (value.empty() || port == 0 || port > 65535) {
                throw fail("bad ntp line");
            }
            s.ntp = {value, static_cast<std::uint16_t>(port)};
            continue;
        }
        const auto b = from_hex(value);
        if (!b) {
            throw fail("bad hex");
        }
        if (what == "c2s" || what == "s2c") {
            if (b->size() != nts::c2s_key_length) {
                throw fail("key of the wrong length");
            }
            std::memcpy(what == "c2s" ? s.c2s.data() : s.s2c.data(), b->data(), b->size());
            (what == "c2s" ? have_c2s : have_s2c) = true;
        } else if (what == "cookie") {
            s.cookies.push_back(*b);
        } else {
            throw fail("unknown line");
        }
    }
    if (!have_c2s || !have_s2c) {
        throw std::runtime_error(path + ": no c2s or s2c key");
    }
    return s;
}

// The one place that knows nts_ke::fetch's shape.
session key_exchange(const host_port& ke, const std::string& ca, const std::string& name,
                     std::chrono::milliseconds timeout) {
    nts_ke::client_options o;
    o.host = ke.host;
    o.port = ke.port;
    o.ca_file = ca;
    o.server_name = name.empty() ? ke.host : name;
    o.timeout = timeout;
    const nts_ke::client_result r = nts_ke::fetch(o);
    session s;
    std::memcpy(s.c2s.data(), r.c2s.data(), s.c2s.size());
    std::memcpy(s.s2c.data(), r.s2c.data(), s.s2c.size());
    for (const auto& c : r.cookies) {
        s.cookies.emplace_back(c.begin(), c.end());
    }
    if (!r.ntp_server.empty() || r.ntp_port != 0) {
        s.ntp = {r.ntp_server.empty() ? ke.host : r.ntp_server,
                 static_cast<std::uint16_t>(r.ntp_port != 0 ? r.ntp_port : 123)};
    }
    return s;
}

// A connected UDP socket to the NTP server; -1 with a message on failure.
int connect_udp(const host_port& to) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(to.port);
    if (const int e = getaddrinfo(to.host.c_str(), port.c_str(), &hints, &res); e != 0) {
        std::cerr << "nts-client: " << to.host << ": " << gai_strerror(e) << "\n";
        return -1;
    }
    int fd = -1;
    for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        std::cerr << "nts-client: " << to.host << ":" << to.port << ": " << std::strerror(errno)
                  << "\n";
    }
    return fd;
}

// NTP timestamps (era 0) from the system clock, and back to seconds.
std::uint64_t ntp_now() {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const std::uint64_t secs = static_cast<std::uint64_t>(ns / 1'000'000'000) + 2'208'988'800ull;
    const std::uint64_t frac =
        (static_cast<std::uint64_t>(ns % 1'000'000'000) << 32) / 1'000'000'000;
    return (secs << 32) | frac;
}

double ntp_seconds(std::uint64_t ts) {
    return static_cast<double>(ts >> 32) + static_cast<double>(ts & 0xFFFFFFFFu) / 4294967296.0;
}

struct options {
    std::string ke, ca, name, ntp, tamper, save, load;
    unsigned requests = 1;
    unsigned interval_ms = 0;
    unsigned timeout_ms = 1000;
    bool print_ntpperf = false;
};

std::optional<options> parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc) {
                return std::nullopt;
            }
            return std::string(argv[++i]);
        };
        const auto number = [&](unsigned& out) {
            const auto v = value();
            if (!v || v->empty()) {
                return false;
            }
            char* end = nullptr;
            const unsigned long n = std::strtoul(v->c_str(), &end, 10);
            if (*end != '\0' || n > 1'000'000'000ul) {
                return false;
            }
            out = static_cast<unsigned>(n);
            return true;
        };
        std::string* text = nullptr;
        if (a == "--ke") {
            text = &o.ke;
        } else if (a == "--ca") {
            text = &o.ca;
        } else if (a == "--name") {
            text = &o.name;
        } else if (a == "--ntp") {
            text = &o.ntp;
        } else if (a == "--tamper") {
            text = &o.tamper;
        } else if (a == "--save") {
            text = &o.save;
        } else if (a == "--load") {
            text = &o.load;
        } else if (a == "--requests") {
            if (!number(o.requests)) {
                return std::nullopt;
            }
            continue;
        } else if (a == "--interval-ms") {
            if (!number(o.interval_ms)) {
                return std::nullopt;
            }
            continue;
        } else if (a == "--timeout-ms") {
            if (!number(o.timeout_ms)) {
                return std::nullopt;
            }
            continue;
        } else if (a == "--print-ntpperf") {
            o.print_ntpperf = true;
            continue;
        } else {
            return std::nullopt;  // --help included
        }
        const auto v = value();
        if (!v) {
            return std::nullopt;
        }
        *text = *v;
    }
    if (o.load.empty() && (o.ke.empty() || o.ca.empty())) {
        return std::nullopt;
    }
    if (!o.tamper.empty() && o.tamper != "auth" && o.tamper != "cookie") {
        return std::nullopt;
    }
    return o;
}

struct counts {
    unsigned reply = 0, nts_nak = 0, timeout = 0, bad_reply = 0, no_cookie = 0;
};

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

// One request and its outcome line.
void exchange(int fd, unsigned index, const options& o, const nts::aes_siv& c2s,
              const nts::aes_siv& s2c, session& s, counts& n) {
    std::ostringstream line;
    line << "{\"request\": " << index << ", \"outcome\": ";
    if (s.cookies.empty()) {
        ++n.no_cookie;
        std::cout << line.str() << "\"no_cookie\"}" << std::endl;
        return;
    }
    nts::test_support::request_options ro;
    ro.cookie = s.cookies.front();
    s.cookies.pop_front();
    // Ask for enough to refill the jar: the cookie itself comes back as one.
    const std::size_t missing = jar_target > s.cookies.size() ? jar_target - s.cookies.size() : 1;
    ro.placeholders = static_cast<unsigned>(missing - 1);
    const std::uint64_t t1 = ntp_now();
    ro.transmit_ts = t1;
    nts::test_support::built_request r = nts::test_support::build_request(c2s, ro);
    if (o.tamper == "auth") {
        r.packet[r.tag_offset + 3] ^= 0x01;
    } else if (o.tamper == "cookie") {
        r.packet[r.cookie_offset + 10] ^= 0x01;
    }
    if (send(fd, r.packet.data(), r.packet.size(), 0) < 0) {
        ++n.bad_reply;
        std::cout << line.str() << "\"bad_reply\", \"error\": "
                  << json_string(std::string("send: ") + std::strerror(errno)) << "}" << std::endl;
        return;
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
    std::uint8_t buf[2048];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
            ++n.timeout;
            std::cout << line.str() << "\"timeout\"}" << std::endl;
            return;
        }
        const ssize_t got = recv(fd, buf, sizeof(buf), 0);
        const std::uint64_t t4 = ntp_now();
        if (got < 0) {
            continue;  // ICMP unreachable and the like: wait for the deadline
        }
        const std::span<const std::uint8_t> reply(buf, static_cast<std::size_t>(got));
        if (reply.size() >= 32 && nts::test_support::get_be64(buf + 24) != t1) {
            continue;  // a late reply to an earlier request
        }
        const auto c = nts::test_support::check_reply(reply, s2c, r.uid);
        switch (c.outcome) {
            case nts::test_support::reply_outcome::reply: {
                ++n.reply;
                for (const bytes& fresh : c.cookies) {
                    s.cookies.push_back(fresh);
                }
                const double t1s = ntp_seconds(t1), t2s = ntp_seconds(c.receive_ts),
                             t3s = ntp_seconds(c.transmit_ts), t4s = ntp_seconds(t4);
                char numbers[128];
                std::snprintf(numbers, sizeof(numbers), "%.9f, \"delay_s\": %.9f",
                              ((t2s - t1s) + (t3s - t4s)) / 2, (t4s - t1s) - (t3s - t2s));
                std::cout << line.str() << "\"reply\", \"offset_s\": " << numbers
                          << ", \"stratum\": " << unsigned{c.stratum}
                          << ", \"new_cookies\": " << c.cookies.size() << "}" << std::endl;
                return;
            }
            case nts::test_support::reply_outcome::nts_nak:
                ++n.nts_nak;
                std::cout << line.str() << "\"nts_nak\", \"stratum\": 0, \"new_cookies\": 0}"
                          << std::endl;
                return;
            case nts::test_support::reply_outcome::bad_reply:
                ++n.bad_reply;
                std::cout << line.str() << "\"bad_reply\", \"error\": " << json_string(c.error)
                          << "}" << std::endl;
                return;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto parsed = parse_args(argc, argv);
    if (!parsed) {
        usage();
        return 2;
    }
    const options& o = *parsed;
    std::optional<host_port> ke;
    if (!o.ke.empty()) {
        ke = split_host_port(o.ke, 4460);
        if (!ke) {
            std::cerr << "nts-client: bad --ke " << o.ke << "\n";
            return 2;
        }
    }
    std::optional<host_port> ntp;
    if (!o.ntp.empty()) {
        ntp = split_host_port(o.ntp, 123);
        if (!ntp) {
            std::cerr << "nts-client: bad --ntp " << o.ntp << "\n";
            return 2;
        }
    }

    session s;
    try {
        if (!o.load.empty()) {
            s = load_session(o.load);
        } else {
            s = key_exchange(*ke, o.ca, o.name, std::chrono::milliseconds(o.timeout_ms * 5));
        }
    } catch (const std::exception& e) {
        std::cerr << "nts-client: " << (o.load.empty() ? "NTS-KE: " : "") << e.what() << "\n";
        return 1;
    }
    if (!ntp) {
        if (!s.ntp.host.empty()) {
            ntp = s.ntp;
        } else if (ke) {
            ntp = host_port{ke->host, 123};
        } else {
            std::cerr << "nts-client: no NTP server: give --ntp (the --load file has none)\n";
            return 2;
        }
    }
    s.ntp = *ntp;

    if (o.print_ntpperf) {
        if (s.cookies.empty()) {
            std::cerr << "nts-client: no cookie to print\n";
            return 1;
        }
        std::cout << to_hex(s.c2s.data(), s.c2s.size()) << ","
                  << to_hex(s.cookies.front().data(), s.cookies.front().size()) << std::endl;
    }

    const nts::aes_siv c2s(s.c2s);
    const nts::aes_siv s2c(s.s2c);
    counts n;
    if (o.requests != 0) {
        const int fd = connect_udp(*ntp);
        if (fd < 0) {
            return 1;
        }
        for (unsigned i = 0; i < o.requests; ++i) {
            if (i != 0 && o.interval_ms != 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(o.interval_ms));
            }
            exchange(fd, i, o, c2s, s2c, s, n);
        }
        close(fd);
    }
    std::cout << "{\"summary\": {\"requests\": " << o.requests << ", \"reply\": " << n.reply
              << ", \"nts_nak\": " << n.nts_nak << ", \"timeout\": " << n.timeout
              << ", \"bad_reply\": " << n.bad_reply << ", \"no_cookie\": " << n.no_cookie
              << ", \"cookies_left\": " << s.cookies.size() << "}}" << std::endl;
    if (!o.save.empty()) {
        try {
            save_session(o.save, s);
        } catch (const std::exception& e) {
            std::cerr << "nts-client: " << e.what() << "\n";
            return 1;
        }
    }
    return 0;
}
