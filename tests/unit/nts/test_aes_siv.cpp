// AES-SIV (ours, AES-NI) against RFC 5297 Appendix A and against OpenSSL 3's AES-128-SIV.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ports/nts/aes_siv.hpp"

using namespace ports::nts;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes from_hex(const std::string& s) {
    bytes out;
    int hi = -1;
    for (char c : s) {
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else {
            continue;  // spaces between the RFC's 32-bit groups
        }
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

std::span<const std::uint8_t, siv_key_length> key_span(const bytes& k) {
    return std::span<const std::uint8_t, siv_key_length>(k.data(), siv_key_length);
}

// RFC 5297 A.1: deterministic, one AD component.
struct rfc_a1 {
    bytes key = from_hex(
        "fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0"
        "f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff");
    bytes ad = from_hex(
        "10111213 14151617 18191a1b 1c1d1e1f"
        "20212223 24252627");
    bytes plaintext = from_hex("11223344 55667788 99aabbcc ddee");
    bytes sealed = from_hex(
        "85632d07 c6e8f37f 950acd32 0a2ecc93"
        "40c02b96 90c4dc04 daef7f6a fe5c");
};

// RFC 5297 A.2: nonce-based, components AD1, AD2, nonce.
struct rfc_a2 {
    bytes key = from_hex(
        "7f7e7d7c 7b7a7978 77767574 73727170"
        "40414243 44454647 48494a4b 4c4d4e4f");
    bytes ad1 = from_hex(
        "00112233 44556677 8899aabb ccddeeff"
        "deaddada deaddada ffeeddcc bbaa9988"
        "77665544 33221100");
    bytes ad2 = from_hex("10203040 50607080 90a0");
    bytes nonce = from_hex("09f91102 9d74e35b d84156c5 635688c0");
    bytes plaintext = from_hex(
        "74686973 20697320 736f6d65 20706c61"
        "696e7465 78742074 6f20656e 63727970"
        "74207573 696e6720 5349562d 414553");
    bytes sealed = from_hex(
        "7bdb6e3b 432667eb 06f4d14b ff2fbd0f"
        "cb900f2f ddbe4043 26601965 c889bf17"
        "dba77ceb 094fa663 b7a3f748 ba8af829"
        "ea64ad54 4a272e9c 485b62a3 fd5c0d");
    std::vector<bytes_view> components() const { return {ad1, ad2, nonce}; }
};

// OpenSSL's AES-128-SIV: V || C, or nothing when it fails.
std::optional<bytes> openssl_seal(const bytes& key, const std::vector<bytes>& ad,
                                  const bytes& plaintext) {
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-128-SIV", nullptr);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    std::optional<bytes> result;
    bytes out(16 + plaintext.size());
    int len = 0;
    bool ok = cipher && ctx && EVP_EncryptInit_ex(ctx, cipher, nullptr, key.data(), nullptr) == 1;
    for (const auto& a : ad) {
        ok = ok && EVP_EncryptUpdate(ctx, nullptr, &len, a.data(), static_cast<int>(a.size())) == 1;
    }
    ok = ok && EVP_EncryptUpdate(ctx, out.data() + 16, &len, plaintext.data(),
                                 static_cast<int>(plaintext.size())) == 1;
    ok = ok && EVP_EncryptFinal_ex(ctx, out.data() + 16 + plaintext.size(), &len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data()) == 1;
    if (ok) {
        result = std::move(out);
    }
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return result;
}

// A second, plain reference straight from RFC 5297's pseudocode on OpenSSL's AES-CMAC and
// AES-128-CTR: OpenSSL's SIV rejects empty components and an empty plaintext (NTS requests
// have one), this does not.
bytes cmac(const bytes& key16, const bytes& m) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    char cipher[] = "AES-128-CBC";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("cipher", cipher, 0),
                                 OSSL_PARAM_construct_end()};
    bytes out(16);
    std::size_t n = 0;
    const bool ok = EVP_MAC_init(ctx, key16.data(), 16, params) == 1 &&
                    EVP_MAC_update(ctx, m.data(), m.size()) == 1 &&
                    EVP_MAC_final(ctx, out.data(), &n, out.size()) == 1 && n == 16;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    EXPECT_TRUE(ok);
    return out;
}

bytes dbl_ref(bytes x) {
    const bool carry = x[0] & 0x80;
    for (std::size_t i = 0; i < 16; ++i) {
        x[i] = static_cast<std::uint8_t>((x[i] << 1) | (i + 1 < 16 ? x[i + 1] >> 7 : 0));
    }
    if (carry) {
        x[15] ^= 0x87;
    }
    return x;
}

bytes reference_seal(const bytes& key, const std::vector<bytes>& ad, const bytes& p) {
    const bytes k1(key.begin(), key.begin() + 16), k2(key.begin() + 16, key.end());
    bytes d = cmac(k1, bytes(16, 0));
    for (const auto& a : ad) {
        const bytes c = cmac(k1, a);
        d = dbl_ref(d);
        for (int i = 0; i < 16; ++i) {
            d[i] ^= c[i];
        }
    }
    bytes t;
    if (p.size() >= 16) {
        t = p;
        for (int i = 0; i < 16; ++i) {
            t[p.size() - 16 + i] ^= d[i];
        }
    } else {
        t = dbl_ref(d);
        for (std::size_t i = 0; i < 16; ++i) {
            t[i] ^= i < p.size() ? p[i] : i == p.size() ? 0x80 : 0;
        }
    }
    const bytes v = cmac(k1, t);
    bytes q = v;
    q[8] &= 0x7f;
    q[12] &= 0x7f;
    bytes out = v;
    out.resize(16 + p.size());
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nullptr, k2.data(), q.data()), 1);
    if (!p.empty()) {
        EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data() + 16, &len, p.data(), int(p.size())), 1);
    }
    EVP_CIPHER_CTX_free(ctx);
    return out;
}

std::vector<bytes_view> views(const std::vector<bytes>& v) {
    return std::vector<bytes_view>(v.begin(), v.end());
}

bytes random_bytes(std::mt19937& rng, std::size_t n) {
    bytes b(n);
    for (auto& x : b) {
        x = static_cast<std::uint8_t>(rng());
    }
    return b;
}

}  // namespace

TEST(AesSiv, Supported) {
    EXPECT_TRUE(aes_siv_supported());
}

TEST(AesSiv, Rfc5297A1Deterministic) {
    const rfc_a1 v;
    const aes_siv siv(key_span(v.key));
    const bytes_view ad[] = {v.ad};
    bytes out(16 + v.plaintext.size());
    siv.seal(ad, v.plaintext, out.data());
    EXPECT_EQ(out, v.sealed);

    bytes plain(v.plaintext.size());
    ASSERT_TRUE(siv.open(ad, v.sealed, plain.data()));
    EXPECT_EQ(plain, v.plaintext);
}

TEST(AesSiv, Rfc5297A2NonceBased) {
    const rfc_a2 v;
    const aes_siv siv(key_span(v.key));
    const auto c = v.components();
    bytes out(16 + v.plaintext.size());
    siv.seal(c, v.plaintext, out.data());
    EXPECT_EQ(out, v.sealed);

    bytes plain(v.plaintext.size());
    ASSERT_TRUE(siv.open(c, v.sealed, plain.data()));
    EXPECT_EQ(plain, v.plaintext);
}

TEST(AesSiv, ReferencesAgreeWithRfcVectors) {
    // Checks the vectors above as typed, and both references, independently of our code.
    const rfc_a1 a1;
    EXPECT_EQ(openssl_seal(a1.key, {a1.ad}, a1.plaintext), a1.sealed);
    EXPECT_EQ(reference_seal(a1.key, {a1.ad}, a1.plaintext), a1.sealed);
    const rfc_a2 a2;
    EXPECT_EQ(openssl_seal(a2.key, {a2.ad1, a2.ad2, a2.nonce}, a2.plaintext), a2.sealed);
    EXPECT_EQ(reference_seal(a2.key, {a2.ad1, a2.ad2, a2.nonce}, a2.plaintext), a2.sealed);
}

TEST(AesSiv, EmptyComponents) {
    std::mt19937 rng(7);
    const bytes key = random_bytes(rng, 32);
    const aes_siv siv(key_span(key));
    const std::vector<bytes> ad = {bytes{}, random_bytes(rng, 16), bytes{}};
    const bytes p = random_bytes(rng, 33);
    bytes out(16 + p.size());
    siv.seal(views(ad), p, out.data());
    EXPECT_EQ(reference_seal(key, ad, p), out);
    // An empty component is still a component: dropping it changes V.
    const std::vector<bytes> fewer = {ad[1]};
    EXPECT_NE(reference_seal(key, fewer, p), out);
}

TEST(AesSiv, TamperAnyByteFails) {
    const rfc_a2 v;
    const aes_siv siv(key_span(v.key));
    bytes plain(v.plaintext.size());
    for (std::size_t i = 0; i < v.sealed.size(); ++i) {
        bytes bad = v.sealed;
        bad[i] ^= 0x01;
        EXPECT_FALSE(siv.open(v.components(), bad, plain.data())) << "sealed byte " << i;
    }
    for (int which = 0; which < 3; ++which) {
        rfc_a2 w;
        bytes& target = which == 0 ? w.ad1 : which == 1 ? w.ad2 : w.nonce;
        for (std::size_t i = 0; i < target.size(); ++i) {
            target[i] ^= 0x80;
            EXPECT_FALSE(siv.open(w.components(), w.sealed, plain.data()))
                << "component " << which << " byte " << i;
            target[i] ^= 0x80;
        }
        EXPECT_TRUE(siv.open(w.components(), w.sealed, plain.data()));
    }
    // A component dropped, added or reordered changes S2V too.
    const bytes_view fewer[] = {v.ad1, v.ad2};
    EXPECT_FALSE(siv.open(fewer, v.sealed, plain.data()));
    const bytes_view reordered[] = {v.ad2, v.ad1, v.nonce};
    EXPECT_FALSE(siv.open(reordered, v.sealed, plain.data()));
    // Truncated: too short for V, and V without its ciphertext.
    EXPECT_FALSE(siv.open(v.components(), bytes_view(v.sealed.data(), 15), plain.data()));
    EXPECT_FALSE(siv.open(v.components(), bytes_view(v.sealed.data(), 16), plain.data()));
}

TEST(AesSiv, FailedOpenReleasesNothing) {
    const rfc_a1 v;
    const aes_siv siv(key_span(v.key));
    const bytes_view ad[] = {v.ad};
    bytes bad = v.sealed;
    bad[0] ^= 1;
    bytes plain(v.plaintext.size(), 0xaa);
    ASSERT_FALSE(siv.open(ad, bad, plain.data()));
    EXPECT_EQ(plain, bytes(plain.size(), 0));
}

TEST(AesSiv, InPlace) {
    const rfc_a2 v;
    const aes_siv siv(key_span(v.key));
    bytes buf(16 + v.plaintext.size());
    std::copy(v.plaintext.begin(), v.plaintext.end(), buf.begin() + 16);
    siv.seal(v.components(), bytes_view(buf.data() + 16, v.plaintext.size()), buf.data());
    EXPECT_EQ(buf, v.sealed);
    ASSERT_TRUE(siv.open(v.components(), buf, buf.data() + 16));
    EXPECT_EQ(bytes(buf.begin() + 16, buf.end()), v.plaintext);
}

TEST(AesSiv, EmptyPlaintext) {
    std::mt19937 rng(5);
    const bytes key = random_bytes(rng, 32);
    const aes_siv siv(key_span(key));
    const bytes a = random_bytes(rng, 196), n = random_bytes(rng, 16);
    bytes out(16);
    siv.seal(a, n, {}, out.data());
    EXPECT_TRUE(siv.open(a, n, out, nullptr));
    EXPECT_EQ(reference_seal(key, {a, n}, {}), out);
    // OpenSSL 3.0's SIV refuses an empty plaintext; compare when it does not.
    if (auto ref = openssl_seal(key, {a, n}, {})) {
        EXPECT_EQ(*ref, out);
    }
    out[3] ^= 4;
    EXPECT_FALSE(siv.open(a, n, out, nullptr));
}

TEST(AesSiv, TwoComponentFormIsAdThenNonce) {
    std::mt19937 rng(6);
    const bytes key = random_bytes(rng, 32);
    const aes_siv siv(key_span(key));
    const bytes a = random_bytes(rng, 84), n = random_bytes(rng, 16), p = random_bytes(rng, 108);
    bytes one(16 + p.size()), two(16 + p.size());
    siv.seal(a, n, p, one.data());
    const bytes_view c[] = {a, n};
    siv.seal(c, p, two.data());
    EXPECT_EQ(one, two);
    EXPECT_EQ(openssl_seal(key, {a, n}, p), one);
}

TEST(AesSiv, MatchesOpensslLengths0To200) {
    std::mt19937 rng(1234);
    for (std::size_t len = 0; len <= 200; ++len) {
        const bytes key = random_bytes(rng, 32);
        const aes_siv siv(key_span(key));
        // Component lengths vary with len so every remainder mod 16 meets every other.
        std::vector<bytes> ad = {random_bytes(rng, len % 49), random_bytes(rng, 16),
                                 random_bytes(rng, (len * 7) % 37)};
        const bytes p = random_bytes(rng, len);
        bytes ours(16 + len);
        const auto av = views(ad);
        siv.seal(av, p, ours.data());
        EXPECT_EQ(reference_seal(key, ad, p), ours) << "length " << len;
        const bool has_empty = len == 0 || ad[0].empty() || ad[2].empty();
        if (!has_empty) {
            EXPECT_EQ(openssl_seal(key, ad, p), ours) << "length " << len;
        }
        bytes back(len);
        EXPECT_TRUE(siv.open(av, ours, back.data())) << "length " << len;
        EXPECT_EQ(back, p) << "length " << len;
    }
}

TEST(AesSiv, MatchesOpensslManyComponents) {
    std::mt19937 rng(99);
    for (int round = 0; round < 300; ++round) {
        const bytes key = random_bytes(rng, 32);
        const aes_siv siv(key_span(key));
        const std::size_t n = rng() % (max_siv_components + 1);  // 0..8 components
        std::vector<bytes> ad;
        for (std::size_t i = 0; i < n; ++i) {
            ad.push_back(random_bytes(rng, rng() % 300));
        }
        const bytes p = random_bytes(rng, 1 + rng() % 1100);
        bytes ours(16 + p.size());
        const auto av = views(ad);
        siv.seal(av, p, ours.data());
        EXPECT_EQ(reference_seal(key, ad, p), ours) << "round " << round;
        if (std::none_of(ad.begin(), ad.end(), [](const bytes& a) { return a.empty(); })) {
            EXPECT_EQ(openssl_seal(key, ad, p), ours)
                << "round " << round << ", " << n << " components";
        }
        bytes back(p.size());
        EXPECT_TRUE(siv.open(av, ours, back.data()));
        EXPECT_EQ(back, p);
    }
}

TEST(AesSiv, RekeyingReplacesEverything) {
    const rfc_a1 a1;
    const rfc_a2 a2;
    aes_siv siv(key_span(a2.key));
    siv.set_key(key_span(a1.key));
    const bytes_view ad[] = {a1.ad};
    bytes out(16 + a1.plaintext.size());
    siv.seal(ad, a1.plaintext, out.data());
    EXPECT_EQ(out, a1.sealed);
}

TEST(AesSiv, NonceSourceDistinct) {
    nonce_source a, b;
    std::set<std::array<std::uint8_t, 16>> seen;
    for (int i = 0; i < 10000; ++i) {
        std::array<std::uint8_t, 16> n1, n2;
        a.next(n1.data());
        b.next(n2.data());
        EXPECT_TRUE(seen.insert(n1).second);
        EXPECT_TRUE(seen.insert(n2).second);  // two sources do not collide either
    }
}

// ---- batches: each operation of a batch gives what the single-operation code gives ----------

namespace {

struct batch_case {
    bytes key, ad, nonce, plaintext;
};

std::vector<batch_case> random_cases(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    auto random_bytes = [&](std::size_t len) {
        bytes b(len);
        for (auto& x : b) {
            x = static_cast<std::uint8_t>(rng());
        }
        return b;
    };
    std::vector<batch_case> out;
    for (std::size_t i = 0; i < n; ++i) {
        // Lengths around every block boundary the tails care about, up to ~7 blocks.
        out.push_back({random_bytes(32), random_bytes(rng() % 120),
                       random_bytes(rng() % 2 ? 16 : rng() % 40), random_bytes(rng() % 115)});
    }
    return out;
}

}  // namespace

TEST(AesSivBatch, SealMatchesSingleOperations) {
    for (std::size_t n : {1u, 2u, 7u, 8u, 9u, 20u}) {
        const auto cases = random_cases(n, static_cast<std::uint32_t>(n));
        std::vector<aes_siv> keys(n);
        std::vector<bytes> single(n), batched(n);
        std::vector<siv_op> ops(n);
        for (std::size_t i = 0; i < n; ++i) {
            keys[i].set_key(key_span(cases[i].key));
            single[i].resize(16 + cases[i].plaintext.size());
            batched[i].resize(16 + cases[i].plaintext.size());
            keys[i].seal(cases[i].ad, cases[i].nonce, cases[i].plaintext, single[i].data());
            ops[i].key = &keys[i];
            ops[i].ad[0] = cases[i].ad;
            ops[i].ad[1] = cases[i].nonce;
            ops[i].input = cases[i].plaintext;
            ops[i].out = batched[i].data();
        }
        seal_batch(ops);
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_TRUE(ops[i].ok);
            EXPECT_EQ(batched[i], single[i]) << "batch of " << n << ", op " << i;
        }
    }
}

TEST(AesSivBatch, OpenVerifiesEachOperationOnItsOwn) {
    const std::size_t n = 19;
    const auto cases = random_cases(n, 99);
    std::vector<aes_siv> keys(n);
    std::vector<bytes> sealed(n), opened(n);
    std::vector<siv_op> ops(n);
    for (std::size_t i = 0; i < n; ++i) {
        keys[i].set_key(key_span(cases[i].key));
        sealed[i].resize(16 + cases[i].plaintext.size());
        keys[i].seal(cases[i].ad, cases[i].nonce, cases[i].plaintext, sealed[i].data());
        if (i % 3 == 1) {
            sealed[i][i % sealed[i].size()] ^= 0x01;  // every third one tampered
        }
        opened[i].assign(cases[i].plaintext.size(), 0xAA);
        ops[i].key = &keys[i];
        ops[i].ad[0] = cases[i].ad;
        ops[i].ad[1] = cases[i].nonce;
        ops[i].input = sealed[i];
        ops[i].out = opened[i].data();
    }
    open_batch(ops);
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 3 == 1) {
            EXPECT_FALSE(ops[i].ok) << i;
            EXPECT_TRUE(
                std::all_of(opened[i].begin(), opened[i].end(), [](auto b) { return b == 0; }));
        } else {
            EXPECT_TRUE(ops[i].ok) << i;
            EXPECT_EQ(opened[i], cases[i].plaintext) << i;
        }
    }
}

TEST(AesSivBatch, OpenRefusesInputShorterThanTheTag) {
    const rfc_a2 a2;
    aes_siv siv(key_span(a2.key));
    const bytes short_input(15, 0);
    std::uint8_t out[16];
    siv_op op;
    op.key = &siv;
    op.input = short_input;
    op.out = out;
    op.ok = true;
    open_batch({&op, 1});
    EXPECT_FALSE(op.ok);
}

TEST(AesSivBatch, SetKeysMatchesSetKey) {
    for (std::size_t n : {1u, 2u, 3u, 6u}) {
        const auto cases = random_cases(n, 7 + static_cast<std::uint32_t>(n));
        std::vector<aes_siv> one(n), many(n);
        std::vector<aes_siv*> ptrs;
        std::vector<const std::uint8_t*> secrets;
        for (std::size_t i = 0; i < n; ++i) {
            one[i].set_key(key_span(cases[i].key));
            ptrs.push_back(&many[i]);
            secrets.push_back(cases[i].key.data());
        }
        set_keys(ptrs, secrets);
        for (std::size_t i = 0; i < n; ++i) {
            bytes a(16 + cases[i].plaintext.size()), b(a.size());
            one[i].seal(cases[i].ad, cases[i].nonce, cases[i].plaintext, a.data());
            many[i].seal(cases[i].ad, cases[i].nonce, cases[i].plaintext, b.data());
            EXPECT_EQ(a, b) << "set_keys of " << n << ", key " << i;
        }
    }
}

TEST(AesSivBatch, MacKeysSealAndOpenEmptyPlaintextsAsFullKeys) {
    for (std::size_t n : {1u, 3u, 4u, 5u, 9u}) {
        const auto cases = random_cases(n, 31 + static_cast<std::uint32_t>(n));
        std::vector<aes_siv> full(n), mac(n);
        std::vector<aes_siv*> ptrs;
        std::vector<const std::uint8_t*> secrets;
        for (std::size_t i = 0; i < n; ++i) {
            full[i].set_key(key_span(cases[i].key));
            ptrs.push_back(&mac[i]);
            secrets.push_back(cases[i].key.data());
        }
        set_mac_keys(ptrs, secrets);
        for (std::size_t i = 0; i < n; ++i) {
            std::uint8_t a[16], b[16];
            full[i].seal(cases[i].ad, cases[i].nonce, {}, a);
            mac[i].seal(cases[i].ad, cases[i].nonce, {}, b);
            EXPECT_EQ(std::memcmp(a, b, 16), 0) << "set_mac_keys of " << n << ", key " << i;
            EXPECT_TRUE(mac[i].open(cases[i].ad, cases[i].nonce, bytes_view(a, 16), nullptr));
        }
    }
}
