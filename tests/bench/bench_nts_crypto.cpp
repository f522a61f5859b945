// NTS crypto costs per operation, our AES-NI AES-SIV next to OpenSSL 3's EVP AES-128-SIV, in
// one run: key setup, seal/open at NTS sizes, and the whole per-request sequence of the fast
// path (open the cookie with the master key, set up C2S, verify the request, set up S2C, make
// one fresh cookie, seal the reply). OpenSSL re-keys its context every time, as a fast path
// with per-request keys would have to; its allocations per re-key are counted too.
//   bench-nts-crypto [--iterations N] [--trials T]
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nts_request.hpp"
#include "openssl_allocations.hpp"
#include "ports/nts/aes_siv.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts/server.hpp"
#include "ports/parsers/nts.hpp"

using namespace ports;
using namespace ports::nts;

namespace {

namespace openssl_allocations = ports::test::openssl_allocations;

std::size_t iterations = 50000;
int trials = 7;

// Keeps the optimizer from dropping the work.
std::uint8_t sink = 0;
void consume(const std::uint8_t* p) {
    sink = static_cast<std::uint8_t>(sink ^ p[0]);
}

struct figure {
    double ns = 0;
    double cycles = 0;
};

// Best of `trials` runs of `iterations` calls of f(i).
template <typename F>
figure measure(F&& f) {
    figure best{1e30, 1e30};
    for (std::size_t i = 0; i < iterations / 10; ++i) {
        f(i);  // warm up caches, branch predictors, clocks
    }
    for (int t = 0; t < trials; ++t) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::uint64_t c0 = __rdtsc();
        for (std::size_t i = 0; i < iterations; ++i) {
            f(i);
        }
        const std::uint64_t c1 = __rdtsc();
        const auto t1 = std::chrono::steady_clock::now();
        const double ns =
            std::chrono::duration<double, std::nano>(t1 - t0).count() / double(iterations);
        best.ns = std::min(best.ns, ns);
        best.cycles = std::min(best.cycles, double(c1 - c0) / double(iterations));
    }
    return best;
}

void row(const char* what, figure own, figure ssl) {
    std::printf("%-44s %9.1f ns %7.0f tsc %10.2f M/s | %9.1f ns %7.0f tsc %8.2f M/s  x%.1f\n", what,
                own.ns, own.cycles, 1e3 / own.ns, ssl.ns, ssl.cycles, 1e3 / ssl.ns,
                ssl.ns / own.ns);
}

// OpenSSL AES-128-SIV with a context reused across calls, re-keyed per call.
class openssl_siv {
  public:
    openssl_siv() : cipher_(EVP_CIPHER_fetch(nullptr, "AES-128-SIV", nullptr)) {
        enc_ = EVP_CIPHER_CTX_new();
        dec_ = EVP_CIPHER_CTX_new();
        if (!cipher_ || !enc_ || !dec_ ||
            EVP_EncryptInit_ex(enc_, cipher_, nullptr, nullptr, nullptr) != 1 ||
            EVP_DecryptInit_ex(dec_, cipher_, nullptr, nullptr, nullptr) != 1) {
            std::fprintf(stderr, "OpenSSL AES-128-SIV unavailable\n");
            std::exit(1);
        }
    }
    ~openssl_siv() {
        EVP_CIPHER_CTX_free(enc_);
        EVP_CIPHER_CTX_free(dec_);
        EVP_CIPHER_free(cipher_);
    }
    void set_key(const std::uint8_t* key) {
        ok(EVP_EncryptInit_ex(enc_, nullptr, nullptr, key, nullptr));
    }
    // plaintext must not be empty (OpenSSL 3.0's SIV refuses an empty update).
    void seal(const std::uint8_t* key, bytes_view a, bytes_view n, bytes_view p,
              std::uint8_t* out) {
        int len = 0;
        ok(EVP_EncryptInit_ex(enc_, nullptr, nullptr, key, nullptr));
        ok(EVP_EncryptUpdate(enc_, nullptr, &len, a.data(), int(a.size())));
        ok(EVP_EncryptUpdate(enc_, nullptr, &len, n.data(), int(n.size())));
        ok(EVP_EncryptUpdate(enc_, out + 16, &len, p.data(), int(p.size())));
        ok(EVP_EncryptFinal_ex(enc_, out + 16 + p.size(), &len));
        ok(EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, 16, out));
    }
    // sealed holds at least 1 byte of ciphertext (OpenSSL 3.0 again: see main()).
    bool open(const std::uint8_t* key, bytes_view a, bytes_view n, bytes_view sealed,
              std::uint8_t* out) {
        int len = 0;
        ok(EVP_DecryptInit_ex(dec_, nullptr, nullptr, key, nullptr));
        ok(EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, 16,
                               const_cast<std::uint8_t*>(sealed.data())));
        ok(EVP_DecryptUpdate(dec_, nullptr, &len, a.data(), int(a.size())));
        ok(EVP_DecryptUpdate(dec_, nullptr, &len, n.data(), int(n.size())));
        if (EVP_DecryptUpdate(dec_, out, &len, sealed.data() + 16, int(sealed.size() - 16)) != 1) {
            return false;
        }
        return EVP_DecryptFinal_ex(dec_, out + sealed.size() - 16, &len) == 1;
    }

  private:
    static void ok(int r) {
        if (r != 1) {
            std::fprintf(stderr, "OpenSSL call failed\n");
            std::exit(1);
        }
    }
    EVP_CIPHER* cipher_;
    EVP_CIPHER_CTX* enc_;
    EVP_CIPHER_CTX* dec_;
};

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--iterations") == 0) {
            iterations = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--trials") == 0) {
            trials = std::atoi(argv[++i]);
        }
    }
    if (!aes_siv_supported()) {
        std::fprintf(stderr, "no AES-NI\n");
        return 1;
    }

    // Inputs at NTS sizes (RFC 8915 5.6): the request's AD is the NTP header (48) and the
    // Unique Identifier (36), one cookie (108) and a 4-byte Authenticator EF header before the
    // Authenticator; the reply's AD is the header and the Unique Identifier.
    std::vector<std::uint8_t> master(32), c2s(32), s2c(32), nonce(16);
    for (std::size_t i = 0; i < 32; ++i) {
        master[i] = std::uint8_t(i * 7 + 1);
        c2s[i] = std::uint8_t(i * 13 + 2);
        s2c[i] = std::uint8_t(i * 17 + 3);
    }
    std::vector<std::uint8_t> cookie_ad(4, 0x11), cookie_pt(68, 0x22);
    std::vector<std::uint8_t> request_ad(48 + 36 + 108 + 4, 0x33);
    std::vector<std::uint8_t> reply_ad(48 + 36, 0x44);
    std::vector<std::uint8_t> reply_pt1(108, 0x55), reply_pt8(108 * 8, 0x66);
    std::vector<std::uint8_t> out(16 + 108 * 8), back(108 * 8);

    aes_siv own_master(std::span<const std::uint8_t, 32>(master.data(), 32));
    aes_siv own_c2s(std::span<const std::uint8_t, 32>(c2s.data(), 32));
    openssl_siv ssl;

    std::printf(
        "bench-nts-crypto: %zu iterations, best of %d; own AES-NI | OpenSSL %s EVP "
        "AES-128-SIV (re-keyed per call)  xN = OpenSSL/own\n",
        iterations, trials, OpenSSL_version(OPENSSL_VERSION_STRING));

    // Allocations per OpenSSL re-key (the claim behind our own code).
    {
        const std::uint64_t a0 = openssl_allocations::count.load();
        for (int i = 0; i < 1000; ++i) {
            ssl.set_key(i % 2 ? c2s.data() : s2c.data());
        }
        std::printf("openssl allocations per re-key: %.2f (own: 0)\n",
                    double(openssl_allocations::count.load() - a0) / 1000.0);
        std::uint8_t o[16 + 68];
        const std::uint64_t a1 = openssl_allocations::count.load();
        for (int i = 0; i < 1000; ++i) {
            ssl.seal(master.data(), cookie_ad, nonce, cookie_pt, o);
        }
        std::printf("openssl allocations per re-key + seal: %.2f (own: 0)\n",
                    double(openssl_allocations::count.load() - a1) / 1000.0);
    }

    row("key setup (set_key)", measure([&](std::size_t i) {
            c2s[0] = std::uint8_t(i);
            own_c2s.set_key(std::span<const std::uint8_t, 32>(c2s.data(), 32));
        }),
        measure([&](std::size_t i) {
            c2s[0] = std::uint8_t(i);
            ssl.set_key(c2s.data());
        }));

    // Seal/open at a fixed key (own) vs re-key + seal (OpenSSL has no cheaper per-key path).
    auto seal_row = [&](const char* what, const std::vector<std::uint8_t>& ad,
                        const std::vector<std::uint8_t>& pt) {
        row(what, measure([&](std::size_t i) {
                nonce[0] = std::uint8_t(i);
                own_c2s.seal(ad, nonce, pt, out.data());
                consume(out.data());
            }),
            measure([&](std::size_t i) {
                nonce[0] = std::uint8_t(i);
                ssl.seal(c2s.data(), ad, nonce, pt, out.data());
                consume(out.data());
            }));
    };
    auto open_row = [&](const char* what, const std::vector<std::uint8_t>& ad,
                        const std::vector<std::uint8_t>& pt) {
        own_c2s.seal(ad, nonce, pt, out.data());
        const bytes_view sealed(out.data(), 16 + pt.size());
        std::vector<std::uint8_t> ssl_sealed(16 + pt.size());
        ssl.seal(c2s.data(), ad, nonce, pt, ssl_sealed.data());
        if (!std::equal(ssl_sealed.begin(), ssl_sealed.end(), out.begin())) {
            std::fprintf(stderr, "own and OpenSSL disagree on %s\n", what);
            std::exit(1);
        }
        row(what, measure([&](std::size_t) {
                if (!own_c2s.open(ad, nonce, sealed, back.data())) {
                    std::abort();
                }
            }),
            measure([&](std::size_t) {
                if (!ssl.open(c2s.data(), ad, nonce, sealed, back.data())) {
                    std::abort();
                }
            }));
    };
    seal_row("cookie seal (AD 4, N 16, P 68)", cookie_ad, cookie_pt);
    open_row("cookie open (AD 4, N 16, P 68)", cookie_ad, cookie_pt);
    // OpenSSL 3.0 cannot take an empty plaintext: both sides verify a 1-byte one here, and our
    // empty-plaintext figure is printed on its own.
    const std::vector<std::uint8_t> one_byte(1, 0);
    open_row("request verify (AD 196, N 16, P 1)", request_ad, one_byte);
    {
        own_c2s.seal(request_ad, nonce, {}, out.data());
        const bytes_view sealed(out.data(), 16);
        const figure f = measure([&](std::size_t) {
            if (!own_c2s.open(request_ad, nonce, sealed, nullptr)) {
                std::abort();
            }
        });
        std::printf(
            "%-44s %9.1f ns %7.0f tsc %10.2f M/s | (OpenSSL 3.0: empty plaintext refused)\n",
            "request verify (AD 196, N 16, P 0)", f.ns, f.cycles, 1e3 / f.ns);
    }
    seal_row("reply seal, 1 cookie (AD 84, N 16, P 108)", reply_ad, reply_pt1);
    seal_row("reply seal, 8 cookies (AD 84, N 16, P 864)", reply_ad, reply_pt8);
    open_row("reply open, 8 cookies (AD 84, N 16, P 864)", reply_ad, reply_pt8);

    // The per-request sequence. Inputs prepared once: a cookie under the master key holding
    // c2s/s2c, and a request authenticator under c2s (1-byte plaintext on both sides, for
    // OpenSSL's sake; ours with 0 bytes is printed as well).
    key_ring ring;
    ring.add(0x01020304, std::span<const std::uint8_t, 32>(master.data(), 32), 1);
    session_keys sk;
    std::copy(c2s.begin(), c2s.end(), sk.c2s.begin());
    std::copy(s2c.begin(), s2c.end(), sk.s2c.begin());
    std::vector<std::uint8_t> cookie(cookie_length);
    make_cookie(*ring.current(), nonce.data(), sk, cookie.data());
    std::vector<std::uint8_t> request_auth(17), request_auth0(16);
    own_c2s.seal(request_ad, nonce, one_byte, request_auth.data());
    {
        aes_siv k(std::span<const std::uint8_t, 32>(c2s.data(), 32));
        k.seal(request_ad, nonce, {}, request_auth0.data());
    }
    nonce_source nonces;
    std::vector<std::uint8_t> reply(16 + 108);

    auto own_request = [&](const std::vector<std::uint8_t>& auth) {
        return [&](std::size_t) {
            const auto keys = open_cookie(ring, cookie);
            if (!keys) {
                std::abort();
            }
            const aes_siv c(keys->c2s);
            std::uint8_t p[1];
            if (!c.open(request_ad, nonce, auth, p)) {
                std::abort();
            }
            const aes_siv s(keys->s2c);
            std::uint8_t n[16];
            nonces.next(n);
            make_cookie(*ring.current(), n, *keys, reply.data() + 16 + 4);  // cookie EF body
            nonces.next(n);
            s.seal(reply_ad, bytes_view(n, 16), bytes_view(reply.data() + 16, 108), reply.data());
            consume(reply.data());
        };
    };
    auto ssl_request = [&](std::size_t) {
        std::uint8_t plain[68];
        if (!ssl.open(master.data(), bytes_view(cookie.data(), 4),
                      bytes_view(cookie.data() + 4, 16), bytes_view(cookie.data() + 20, 84),
                      plain)) {
            std::abort();
        }
        std::uint8_t p[1];
        if (!ssl.open(plain + 4, request_ad, nonce, request_auth, p)) {
            std::abort();
        }
        std::uint8_t n[16];
        nonces.next(n);
        std::uint8_t* c = reply.data() + 16 + 4;
        std::memcpy(c, "\x01\x02\x03\x04", 4);
        std::memcpy(c + 4, n, 16);
        ssl.seal(master.data(), bytes_view(c, 4), bytes_view(c + 4, 16), bytes_view(plain, 68),
                 c + 20);
        nonces.next(n);
        ssl.seal(plain + 4 + 32, reply_ad, bytes_view(n, 16), bytes_view(reply.data() + 16, 108),
                 reply.data());
        consume(reply.data());
    };
    const figure own_seq = measure(own_request(request_auth));
    const figure ssl_seq = measure(ssl_request);
    row("per request (cookie, C2S, verify, S2C, 1 cookie, seal)", own_seq, ssl_seq);
    const figure own_seq0 = measure(own_request(request_auth0));
    std::printf("%-44s %9.1f ns %7.0f tsc %10.2f M/s\n", "per request, own, request plaintext 0",
                own_seq0.ns, own_seq0.cycles, 1e3 / own_seq0.ns);
    std::printf("nts-crypto: per request own %.0f ns, openssl %.0f ns, ratio %.1f\n", own_seq.ns,
                ssl_seq.ns, ssl_seq.ns / own_seq.ns);

    // The fast path's whole NTS work per request (nts/server.hpp: parse, prepare, seal) on real
    // requests of 256 sessions, one at a time next to a burst's 32 at once (the AES-SIV work
    // of eight requests interleaved), same requests, same run.
    {
        namespace ts = ports::nts::test_support;
        constexpr std::size_t sessions = 256, burst = 32;
        std::vector<std::vector<std::uint8_t>> requests;
        for (std::size_t i = 0; i < sessions; ++i) {
            const session_keys k = ts::random_session();
            const aes_siv c2s(k.c2s);
            ts::request_options o;
            o.transmit_ts = 0x1234 + i;
            o.cookie = ts::cookie_for(*ring.current(), k);
            requests.push_back(ts::build_request(c2s, o).packet);
        }
        std::vector<std::vector<std::uint8_t>> buffers(burst, std::vector<std::uint8_t>(2048));
        parsers::nts_request_view views[burst];
        prepared_reply replies[burst];
        request_job jobs[burst];
        seal_job seals[burst];
        std::size_t next = 0;
        auto run = [&](bool batched) {
            return [&, batched](std::size_t) {
                for (std::size_t i = 0; i < burst; ++i) {
                    const auto& r = requests[(next + i) % sessions];
                    std::memcpy(buffers[i].data(), r.data(), r.size());
                    views[i] = parsers::parse_nts_request({buffers[i].data(), r.size()});
                    jobs[i] = {{buffers[i].data(), r.size()}, 2048, &views[i], &replies[i]};
                }
                next += burst;
                if (batched) {
                    prepare_replies({jobs, burst}, ring, nonces);
                } else {
                    for (std::size_t i = 0; i < burst; ++i) {
                        replies[i] = prepare_reply(jobs[i].payload, 2048, views[i], ring, nonces);
                    }
                }
                for (std::size_t i = 0; i < burst; ++i) {
                    if (replies[i].what != verdict::reply) {
                        std::abort();
                    }
                    seals[i] = {{buffers[i].data(), replies[i].reply_length}, &replies[i]};
                }
                if (batched) {
                    seal_replies({seals, burst}, nonces);
                } else {
                    for (std::size_t i = 0; i < burst; ++i) {
                        seal_reply(seals[i].payload, replies[i], nonces);
                    }
                }
                consume(buffers[burst - 1].data());
            };
        };
        const std::size_t saved = iterations;
        iterations = std::max<std::size_t>(1, saved / burst);
        figure one = measure(run(false));
        figure many = measure(run(true));
        iterations = saved;
        one.ns /= burst;
        one.cycles /= burst;
        many.ns /= burst;
        many.cycles /= burst;
        std::printf("%-44s %9.1f ns %7.0f tsc %10.2f M/s\n", "fast path per request, one at a time",
                    one.ns, one.cycles, 1e3 / one.ns);
        std::printf("%-44s %9.1f ns %7.0f tsc %10.2f M/s\n", "fast path per request, bursts of 32",
                    many.ns, many.cycles, 1e3 / many.ns);
        std::printf(
            "nts-crypto: fast path per request %.0f ns in bursts, %.0f ns one at a time, "
            "x%.2f\n",
            many.ns, one.ns, one.ns / many.ns);
    }
    return sink == 0x5a ? 0 : 0;  // sink read: the work stays
}
