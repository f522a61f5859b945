// AES-SIV (RFC 5297) on AES-NI. Where the time goes, and what this code does about it:
//   - AES-CMAC is a serial chain (each block waits for the previous one, ~40 cycles of aesenc
//     latency per block), but S2V's components are independent CMACs: they run in lock step,
//     so their chains overlap in the pipeline. The plaintext's CMAC only depends on D through
//     its last 16 bytes (xorend), so its leading blocks join the lock step too.
//   - CTR has no chain: 8 blocks at a time, enough to hide aesenc's latency.
//   - Key setup (two key expansions, the CMAC subkeys, CMAC(<zero>)) is a few hundred cycles,
//     no allocation: the fast path sets up two keys per request.
#include "ports/nts/aes_siv.hpp"

#include <immintrin.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <wmmintrin.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <stdexcept>

namespace ports::nts {

namespace {

// Reverses the 16 bytes: RFC 5297's strings are big-endian, x86 integers little-endian.
inline __m128i byte_swap(__m128i x) noexcept {
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

inline __m128i load(const std::uint8_t* p) noexcept {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline void store(std::uint8_t* p, __m128i x) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), x);
}

// RFC 5297 dbl(): the 128-bit big-endian string shifted left by one, 0x87 folded in when the
// top bit falls out.
inline __m128i dbl(__m128i x) noexcept {
    const __m128i le = byte_swap(x);                           // 64-bit lanes: [low, high]
    const __m128i carries = _mm_srli_epi64(le, 63);            // [c_low, c_high]
    const __m128i swapped = _mm_shuffle_epi32(carries, 0x4e);  // [c_high, c_low]
    // c_high * 0x87 into the low lane, c_low * 1 into the high lane (carries are 0 or 1).
    const __m128i fold = _mm_mul_epu32(swapped, _mm_set_epi64x(1, 0x87));
    return byte_swap(_mm_xor_si128(_mm_slli_epi64(le, 1), fold));
}

// r < 16 bytes, then 0x80, then zeros (RFC 5297 pad()).
inline __m128i pad(const std::uint8_t* p, std::size_t r) noexcept {
    alignas(16) std::uint8_t b[16] = {};
    if (r != 0) {  // p may be null for an empty component
        std::memcpy(b, p, r);
    }
    b[r] = 0x80;
    return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}

// W independent blocks through AES-128, round by round so the W aesenc chains overlap.
template <std::size_t W>
[[gnu::always_inline]] inline void encrypt_blocks(const __m128i* rk, __m128i* blocks) noexcept {
    __m128i v[W];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < W; ++i) {
        v[i] = _mm_xor_si128(blocks[i], rk[0]);
    }
#pragma GCC unroll 16
    for (std::size_t r = 1; r < 10; ++r) {
        const __m128i k = rk[r];
#pragma GCC unroll 16
        for (std::size_t i = 0; i < W; ++i) {
            v[i] = _mm_aesenc_si128(v[i], k);
        }
    }
#pragma GCC unroll 16
    for (std::size_t i = 0; i < W; ++i) {
        blocks[i] = _mm_aesenclast_si128(v[i], rk[10]);
    }
}

inline __m128i encrypt_block(const __m128i* rk, __m128i x) noexcept {
    encrypt_blocks<1>(rk, &x);
    return x;
}

constexpr std::size_t max_lanes = max_siv_components + 1;

// n (1..max_lanes) blocks; a switch so each width gets its own register-resident kernel.
inline void encrypt_n(const __m128i* rk, __m128i* blocks, std::size_t n) noexcept {
    switch (n) {
        case 1:
            encrypt_blocks<1>(rk, blocks);
            break;
        case 2:
            encrypt_blocks<2>(rk, blocks);
            break;
        case 3:
            encrypt_blocks<3>(rk, blocks);
            break;
        case 4:
            encrypt_blocks<4>(rk, blocks);
            break;
        case 5:
            encrypt_blocks<5>(rk, blocks);
            break;
        case 6:
            encrypt_blocks<6>(rk, blocks);
            break;
        case 7:
            encrypt_blocks<7>(rk, blocks);
            break;
        case 8:
            encrypt_blocks<8>(rk, blocks);
            break;
        case 9:
            encrypt_blocks<9>(rk, blocks);
            break;
        default:
            break;
    }
}
static_assert(max_lanes <= 9, "encrypt_n covers up to 9 lanes");

// One key-schedule step of AES-128 (FIPS 197 5.2) with aeskeygenassist's SubWord/RotWord.
template <int Rcon>
[[gnu::always_inline]] inline __m128i expand_step(__m128i key) noexcept {
    const __m128i gen = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(key, Rcon), 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, gen);
}

// Both schedules in one function: the two chains are independent, the CPU overlaps them.
template <int Rcon>
[[gnu::always_inline]] inline void expand_two_step(__m128i* a, __m128i* b, int i) noexcept {
    a[i] = expand_step<Rcon>(a[i - 1]);
    b[i] = expand_step<Rcon>(b[i - 1]);
}

void expand_two(const std::uint8_t* key_a, const std::uint8_t* key_b, __m128i* a,
                __m128i* b) noexcept {
    a[0] = load(key_a);
    b[0] = load(key_b);
    expand_two_step<0x01>(a, b, 1);
    expand_two_step<0x02>(a, b, 2);
    expand_two_step<0x04>(a, b, 3);
    expand_two_step<0x08>(a, b, 4);
    expand_two_step<0x10>(a, b, 5);
    expand_two_step<0x20>(a, b, 6);
    expand_two_step<0x40>(a, b, 7);
    expand_two_step<0x80>(a, b, 8);
    expand_two_step<0x1b>(a, b, 9);
    expand_two_step<0x36>(a, b, 10);
}

void expand_one(const std::uint8_t* key, __m128i* a) noexcept {
    a[0] = load(key);
    a[1] = expand_step<0x01>(a[0]);
    a[2] = expand_step<0x02>(a[1]);
    a[3] = expand_step<0x04>(a[2]);
    a[4] = expand_step<0x08>(a[3]);
    a[5] = expand_step<0x10>(a[4]);
    a[6] = expand_step<0x20>(a[5]);
    a[7] = expand_step<0x40>(a[6]);
    a[8] = expand_step<0x80>(a[7]);
    a[9] = expand_step<0x1b>(a[8]);
    a[10] = expand_step<0x36>(a[9]);
}

// One CMAC chain of the lock step: `raw` blocks from `data` as they are, then (when `has_last`)
// the final block, already padded and xored with its subkey.
struct cmac_lane {
    const std::uint8_t* data = nullptr;
    std::size_t raw = 0;
    bool has_last = false;
    __m128i last{};
    __m128i state{};
    std::size_t steps() const noexcept { return raw + (has_last ? 1 : 0); }
    __m128i block(std::size_t t) const noexcept { return t < raw ? load(data + 16 * t) : last; }
};

// A whole CMAC message as a lane (RFC 4493: the last block full -> K1, else padded -> K2).
cmac_lane message_lane(bytes_view m, __m128i k1, __m128i k2) noexcept {
    cmac_lane lane;
    lane.data = m.data();
    lane.has_last = true;
    if (m.empty()) {
        lane.last = _mm_xor_si128(pad(m.data(), 0), k2);
        return lane;
    }
    const std::size_t n = (m.size() + 15) / 16;
    const std::size_t r = m.size() - 16 * (n - 1);  // 1..16 bytes in the last block
    lane.raw = n - 1;
    lane.last = r == 16 ? _mm_xor_si128(load(m.data() + 16 * (n - 1)), k1)
                        : _mm_xor_si128(pad(m.data() + 16 * (n - 1), r), k2);
    return lane;
}

// Runs the lanes to their ends in lock step; a lone remaining lane finishes in a tight loop.
void run_lanes(const __m128i* rk, cmac_lane* lanes, std::size_t count) noexcept {
    std::size_t steps = 0;
    for (std::size_t l = 0; l < count; ++l) {
        steps = std::max(steps, lanes[l].steps());
    }
    for (std::size_t t = 0; t < steps; ++t) {
        __m128i x[max_lanes];
        std::uint8_t idx[max_lanes];
        std::size_t k = 0;
        for (std::size_t l = 0; l < count; ++l) {
            if (t < lanes[l].steps()) {
                x[k] = _mm_xor_si128(lanes[l].state, lanes[l].block(t));
                idx[k++] = static_cast<std::uint8_t>(l);
            }
        }
        if (k == 1) {
            cmac_lane& lane = lanes[idx[0]];
            __m128i s = encrypt_block(rk, x[0]);
            for (std::size_t u = t + 1; u < lane.steps(); ++u) {
                s = encrypt_block(rk, _mm_xor_si128(s, lane.block(u)));
            }
            lane.state = s;
            return;
        }
        encrypt_n(rk, x, k);
        for (std::size_t j = 0; j < k; ++j) {
            lanes[idx[j]].state = x[j];
        }
    }
}

// RFC 5297 2.5: CTR from V with bits 31 and 63 (of its last two 32-bit words) cleared, which
// also keeps the 64-bit add below from carrying out of the low half.
void ctr_xor(const __m128i* rk, __m128i v, const std::uint8_t* in, std::size_t len,
             std::uint8_t* out) noexcept {
    const __m128i mask =
        _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1);
    __m128i ctr = byte_swap(_mm_and_si128(v, mask));  // little-endian: low 64 bits in lane 0
    std::size_t i = 0;
    while (len - i >= 128) {
        __m128i x[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            x[j] = byte_swap(_mm_add_epi64(ctr, _mm_set_epi64x(0, j)));
        }
        ctr = _mm_add_epi64(ctr, _mm_set_epi64x(0, 8));
        encrypt_blocks<8>(rk, x);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            store(out + i + 16 * j, _mm_xor_si128(x[j], load(in + i + 16 * j)));
        }
        i += 128;
    }
    const std::size_t rest = len - i;
    if (rest == 0) {
        return;
    }
    const std::size_t n = (rest + 15) / 16;  // 1..8
    __m128i x[8];
    for (std::size_t j = 0; j < n; ++j) {
        x[j] = byte_swap(_mm_add_epi64(ctr, _mm_set_epi64x(0, static_cast<long long>(j))));
    }
    encrypt_n(rk, x, n);
    const std::size_t full = rest / 16;
    for (std::size_t j = 0; j < full; ++j) {
        store(out + i + 16 * j, _mm_xor_si128(x[j], load(in + i + 16 * j)));
    }
    if (const std::size_t r = rest - 16 * full; r != 0) {
        alignas(16) std::uint8_t b[16] = {};
        std::memcpy(b, in + i + 16 * full, r);
        store(b, _mm_xor_si128(x[full], load(b)));
        std::memcpy(out + i + 16 * full, b, r);
    }
}

inline bool equal16(__m128i a, __m128i b) noexcept {
    return _mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) == 0xffff;  // all 16 bytes, no early exit
}

}  // namespace

bool aes_siv_supported() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("ssse3") &&
           __builtin_cpu_supports("sse4.1");
}

void aes_siv::set_key(std::span<const std::uint8_t, siv_key_length> key) noexcept {
    auto* mac = reinterpret_cast<__m128i*>(mac_round_keys_);
    auto* ctr = reinterpret_cast<__m128i*>(ctr_round_keys_);
    expand_two(key.data(), key.data() + 16, mac, ctr);
    // RFC 4493 2.3: L = AES(K, 0), K1 = dbl(L), K2 = dbl(K1).
    const __m128i l = encrypt_block(mac, _mm_setzero_si128());
    const __m128i k1 = dbl(l);
    _mm_store_si128(reinterpret_cast<__m128i*>(k1_), k1);
    _mm_store_si128(reinterpret_cast<__m128i*>(k2_), dbl(k1));
    // CMAC(<zero>): one full block, 0 ^ K1.
    _mm_store_si128(reinterpret_cast<__m128i*>(zero_mac_), encrypt_block(mac, k1));
}

namespace {

// S2V (RFC 5297 2.4) over ad..., then the plaintext p.
__m128i s2v(const __m128i* rk, __m128i k1, __m128i k2, __m128i zero_mac,
            std::span<const bytes_view> ad, bytes_view p) noexcept {
    assert(ad.size() <= max_siv_components);
    const std::size_t n_ad = std::min(ad.size(), max_siv_components);
    cmac_lane lanes[max_lanes];
    for (std::size_t i = 0; i < n_ad; ++i) {
        lanes[i] = message_lane(ad[i], k1, k2);
    }
    // The plaintext's leading blocks (all but those holding its last 16 bytes) do not depend
    // on D: they chain alongside the components.
    const std::size_t len = p.size();
    const std::size_t prefix = len >= 16 ? (len - 16) / 16 : 0;
    std::size_t count = n_ad;
    if (prefix != 0) {
        lanes[count].data = p.data();
        lanes[count].raw = prefix;
        ++count;
    }
    run_lanes(rk, lanes, count);

    __m128i d = zero_mac;
    for (std::size_t i = 0; i < n_ad; ++i) {
        d = _mm_xor_si128(dbl(d), lanes[i].state);
    }
    if (len < 16) {
        // T = dbl(D) xor pad(Sn): one full block.
        const __m128i t = _mm_xor_si128(dbl(d), pad(p.data(), len));
        return encrypt_block(rk, _mm_xor_si128(t, k1));
    }
    // T = Sn xorend D: the last 16..31 bytes, D folded into their last 16.
    const std::size_t tail = len - 16 * prefix;
    alignas(16) std::uint8_t b[32] = {};
    std::memcpy(b, p.data() + 16 * prefix, tail);
    store(b + tail - 16, _mm_xor_si128(load(b + tail - 16), d));
    __m128i s = prefix != 0 ? lanes[n_ad].state : _mm_setzero_si128();
    if (tail == 16) {
        return encrypt_block(rk, _mm_xor_si128(_mm_xor_si128(s, load(b)), k1));
    }
    s = encrypt_block(rk, _mm_xor_si128(s, load(b)));
    const __m128i last = _mm_xor_si128(pad(b + 16, tail - 16), k2);
    return encrypt_block(rk, _mm_xor_si128(s, last));
}

}  // namespace

void aes_siv::seal(std::span<const bytes_view> ad, bytes_view plaintext,
                   std::uint8_t* out) const noexcept {
    const auto* mac = reinterpret_cast<const __m128i*>(mac_round_keys_);
    const auto* ctr = reinterpret_cast<const __m128i*>(ctr_round_keys_);
    const __m128i v =
        s2v(mac, _mm_load_si128(reinterpret_cast<const __m128i*>(k1_)),
            _mm_load_si128(reinterpret_cast<const __m128i*>(k2_)),
            _mm_load_si128(reinterpret_cast<const __m128i*>(zero_mac_)), ad, plaintext);
    // The plaintext is fully read: V may now go in front of it (in place).
    store(out, v);
    ctr_xor(ctr, v, plaintext.data(), plaintext.size(), out + 16);
}

bool aes_siv::open(std::span<const bytes_view> ad, bytes_view sealed,
                   std::uint8_t* out) const noexcept {
    if (sealed.size() < siv_tag_length) {
        return false;
    }
    const auto* mac = reinterpret_cast<const __m128i*>(mac_round_keys_);
    const auto* ctr = reinterpret_cast<const __m128i*>(ctr_round_keys_);
    const __m128i v = load(sealed.data());
    const std::size_t len = sealed.size() - siv_tag_length;
    ctr_xor(ctr, v, sealed.data() + siv_tag_length, len, out);
    const __m128i expected =
        s2v(mac, _mm_load_si128(reinterpret_cast<const __m128i*>(k1_)),
            _mm_load_si128(reinterpret_cast<const __m128i*>(k2_)),
            _mm_load_si128(reinterpret_cast<const __m128i*>(zero_mac_)), ad, bytes_view(out, len));
    if (!equal16(v, expected)) {
        // RFC 5297 2.7: unverified plaintext is not released, even to a careless caller.
        if (len != 0) {
            std::memset(out, 0, len);
        }
        return false;
    }
    return true;
}

nonce_source::nonce_source() {
    alignas(16) std::uint8_t key[16];
    std::uint64_t start[2];
    if (RAND_bytes(key, sizeof key) != 1 ||
        RAND_bytes(reinterpret_cast<std::uint8_t*>(start), sizeof start) != 1) {
        throw std::runtime_error("nonce_source: RAND_bytes failed");
    }
    expand_one(key, reinterpret_cast<__m128i*>(round_keys_));
    OPENSSL_cleanse(key, sizeof key);
    prefix_ = start[0];
    counter_ = start[1];
}

void nonce_source::next(std::uint8_t* out16) noexcept {
    // AES is a permutation: distinct counter blocks give distinct, unpredictable nonces (the
    // 64-bit counter does not wrap in the life of a process).
    const __m128i block =
        _mm_set_epi64x(static_cast<long long>(prefix_), static_cast<long long>(counter_++));
    store(out16, encrypt_block(reinterpret_cast<const __m128i*>(round_keys_), block));
}

}  // namespace ports::nts
