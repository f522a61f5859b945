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

// Short copies without a call to libc's memcpy (a variable-length memcpy is a call, ~20
// cycles, and a cookie took five): fixed-size copies that overlap. n < 16.
inline void copy_below_16(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) noexcept {
    if (n >= 8) {
        std::uint64_t a, b;
        std::memcpy(&a, src, 8);
        std::memcpy(&b, src + n - 8, 8);
        std::memcpy(dst, &a, 8);
        std::memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, src, 4);
        std::memcpy(&b, src + n - 4, 4);
        std::memcpy(dst, &a, 4);
        std::memcpy(dst + n - 4, &b, 4);
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            dst[i] = src[i];
        }
    }
}

// 16..32 bytes: two 16-byte copies that overlap.
inline void copy_16_to_32(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) noexcept {
    const __m128i a = load(src);
    const __m128i b = load(src + n - 16);
    store(dst, a);
    store(dst + n - 16, b);
}

// r < 16 bytes, then 0x80, then zeros (RFC 5297 pad()).
inline __m128i pad(const std::uint8_t* p, std::size_t r) noexcept {
    alignas(16) std::uint8_t b[16] = {};
    if (r != 0) {  // p may be null for an empty component
        copy_below_16(b, p, r);
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
        copy_below_16(b, in + i + 16 * full, r);
        store(b, _mm_xor_si128(x[full], load(b)));
        copy_below_16(out + i + 16 * full, b, r);
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
    expand_two(key.data(), key.data() + 16, reinterpret_cast<__m128i*>(mac_round_keys_),
               reinterpret_cast<__m128i*>(ctr_round_keys_));
    aes_siv* self = this;
    derive_subkeys(&self, 1);
}

namespace {

// S2V (RFC 5297 2.4) in pieces, which the single operation and the batches both put together:
// the batches run the same steps for up to eight operations side by side.

// D after one more component: D = dbl(D) xor CMAC(Si), starting from D = CMAC(<zero>).
inline __m128i s2v_absorb(__m128i d, __m128i component_mac) noexcept {
    return _mm_xor_si128(dbl(d), component_mac);
}

// The blocks of the plaintext's CMAC that come before those holding its last 16 bytes: they do
// not depend on D, so they chain alongside the components.
inline std::size_t s2v_prefix_blocks(std::size_t len) noexcept {
    return len >= 16 ? (len - 16) / 16 : 0;
}

// What is left of S2V once D and the chain state over the plaintext's leading blocks are
// known: the last CMAC block, or two. `first` goes through AES; when `two`, the result xored
// with `second` goes through once more. The output is V.
struct s2v_tail {
    __m128i first;
    __m128i second;
    bool two;
};

[[gnu::always_inline]] inline s2v_tail s2v_final_blocks(__m128i d, __m128i prefix_state,
                                                        bytes_view p, __m128i k1,
                                                        __m128i k2) noexcept {
    const std::size_t len = p.size();
    if (len < 16) {
        // T = dbl(D) xor pad(Sn): one full block.
        return {_mm_xor_si128(_mm_xor_si128(dbl(d), pad(p.data(), len)), k1), _mm_setzero_si128(),
                false};
    }
    // T = Sn xorend D: the last 16..31 bytes, D folded into their last 16.
    const std::size_t prefix = s2v_prefix_blocks(len);
    const std::size_t tail = len - 16 * prefix;
    alignas(16) std::uint8_t b[32] = {};
    copy_16_to_32(b, p.data() + 16 * prefix, tail);
    store(b + tail - 16, _mm_xor_si128(load(b + tail - 16), d));
    if (tail == 16) {
        return {_mm_xor_si128(_mm_xor_si128(prefix_state, load(b)), k1), _mm_setzero_si128(),
                false};
    }
    return {_mm_xor_si128(prefix_state, load(b)), _mm_xor_si128(pad(b + 16, tail - 16), k2), true};
}

// S2V over ad..., then the plaintext p.
__m128i s2v(const __m128i* rk, __m128i k1, __m128i k2, __m128i zero_mac,
            std::span<const bytes_view> ad, bytes_view p) noexcept {
    assert(ad.size() <= max_siv_components);
    const std::size_t n_ad = std::min(ad.size(), max_siv_components);
    cmac_lane lanes[max_lanes];
    for (std::size_t i = 0; i < n_ad; ++i) {
        lanes[i] = message_lane(ad[i], k1, k2);
    }
    const std::size_t prefix = s2v_prefix_blocks(p.size());
    std::size_t count = n_ad;
    if (prefix != 0) {
        lanes[count].data = p.data();
        lanes[count].raw = prefix;
        ++count;
    }
    run_lanes(rk, lanes, count);

    __m128i d = zero_mac;
    for (std::size_t i = 0; i < n_ad; ++i) {
        d = s2v_absorb(d, lanes[i].state);
    }
    const __m128i s = prefix != 0 ? lanes[n_ad].state : _mm_setzero_si128();
    const s2v_tail t = s2v_final_blocks(d, s, p, k1, k2);
    const __m128i v = encrypt_block(rk, t.first);
    return t.two ? encrypt_block(rk, _mm_xor_si128(v, t.second)) : v;
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

// ---- batches ------------------------------------------------------------------------------
//
// The single-operation code above keeps one operation's chains in lock step; a batch puts the
// chains of up to siv_batch_lanes operations (each under its own key) in the same lock step.
// An AES round is 4 cycles of latency but issues every cycle (two units on Zen 3, one or two on
// Intel cores): eight operations' chains fill the pipeline that one leaves mostly idle.

namespace {

// W blocks, each under its own key schedule, round by round.
template <std::size_t W>
[[gnu::always_inline]] inline void encrypt_blocks_mk(const __m128i* const* rk,
                                                     __m128i* blocks) noexcept {
    __m128i v[W];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < W; ++i) {
        v[i] = _mm_xor_si128(blocks[i], rk[i][0]);
    }
#pragma GCC unroll 16
    for (std::size_t r = 1; r < 10; ++r) {
#pragma GCC unroll 16
        for (std::size_t i = 0; i < W; ++i) {
            v[i] = _mm_aesenc_si128(v[i], rk[i][r]);
        }
    }
#pragma GCC unroll 16
    for (std::size_t i = 0; i < W; ++i) {
        blocks[i] = _mm_aesenclast_si128(v[i], rk[i][10]);
    }
}

inline void encrypt_n_mk(const __m128i* const* rk, __m128i* blocks, std::size_t n) noexcept {
    switch (n) {
        case 1:
            encrypt_blocks_mk<1>(rk, blocks);
            break;
        case 2:
            encrypt_blocks_mk<2>(rk, blocks);
            break;
        case 3:
            encrypt_blocks_mk<3>(rk, blocks);
            break;
        case 4:
            encrypt_blocks_mk<4>(rk, blocks);
            break;
        case 5:
            encrypt_blocks_mk<5>(rk, blocks);
            break;
        case 6:
            encrypt_blocks_mk<6>(rk, blocks);
            break;
        case 7:
            encrypt_blocks_mk<7>(rk, blocks);
            break;
        case 8:
            encrypt_blocks_mk<8>(rk, blocks);
            break;
        default:
            break;
    }
}

struct key_material {
    const __m128i* mac;
    const __m128i* ctr;
    __m128i k1, k2, zero_mac;
};

// Chains of equal length, W of them (W <= 8) under their own keys, advanced in lock step: the
// per-step work is a load and an xor per chain and W-wide AES rounds, no per-chain branch.
// `last` (when given) is each chain's final block, already padded and xored with its subkey.
template <std::size_t W>
void chains_uniform(const __m128i* const* rk, const std::uint8_t* const* data, std::size_t raw,
                    const __m128i* last, __m128i* state) noexcept {
    __m128i x[W];
    for (std::size_t i = 0; i < W; ++i) {
        x[i] = state[i];
    }
    for (std::size_t t = 0; t < raw; ++t) {
#pragma GCC unroll 8
        for (std::size_t i = 0; i < W; ++i) {
            x[i] = _mm_xor_si128(x[i], load(data[i] + 16 * t));
        }
        encrypt_blocks_mk<W>(rk, x);
    }
    if (last != nullptr) {
#pragma GCC unroll 8
        for (std::size_t i = 0; i < W; ++i) {
            x[i] = _mm_xor_si128(x[i], last[i]);
        }
        encrypt_blocks_mk<W>(rk, x);
    }
    for (std::size_t i = 0; i < W; ++i) {
        state[i] = x[i];
    }
}

void chains(std::size_t w, const __m128i* const* rk, const std::uint8_t* const* data,
            std::size_t raw, const __m128i* last, __m128i* state) noexcept {
    switch (w) {
        case 1:
            chains_uniform<1>(rk, data, raw, last, state);
            break;
        case 2:
            chains_uniform<2>(rk, data, raw, last, state);
            break;
        case 3:
            chains_uniform<3>(rk, data, raw, last, state);
            break;
        case 4:
            chains_uniform<4>(rk, data, raw, last, state);
            break;
        case 5:
            chains_uniform<5>(rk, data, raw, last, state);
            break;
        case 6:
            chains_uniform<6>(rk, data, raw, last, state);
            break;
        case 7:
            chains_uniform<7>(rk, data, raw, last, state);
            break;
        case 8:
            chains_uniform<8>(rk, data, raw, last, state);
            break;
        default:
            break;
    }
}

// One kind of chain (a component, or the plaintext's leading blocks) of n operations, grouped by
// length: a burst's requests mostly have one shape, so this is mostly one group of n.
struct chain_set {
    const __m128i* rk[siv_batch_lanes];
    const std::uint8_t* data[siv_batch_lanes];
    std::size_t raw[siv_batch_lanes];
    __m128i last[siv_batch_lanes];
    __m128i state[siv_batch_lanes];
};

void run_chain_set(chain_set& c, std::size_t n, bool with_last) noexcept {
    bool uniform = true;
    for (std::size_t i = 1; i < n; ++i) {
        uniform = uniform && c.raw[i] == c.raw[0];
    }
    if (uniform) {  // the common case: one group, in place
        for (std::size_t i = 0; i < n; ++i) {
            c.state[i] = _mm_setzero_si128();
        }
        chains(n, c.rk, c.data, n == 0 ? 0 : c.raw[0], with_last ? c.last : nullptr, c.state);
        return;
    }
    std::uint8_t order[siv_batch_lanes];
    for (std::size_t i = 0; i < n; ++i) {
        order[i] = static_cast<std::uint8_t>(i);
    }
    // Insertion sort by length (n <= 8).
    for (std::size_t i = 1; i < n; ++i) {
        for (std::size_t j = i; j > 0 && c.raw[order[j - 1]] > c.raw[order[j]]; --j) {
            std::swap(order[j - 1], order[j]);
        }
    }
    for (std::size_t at = 0; at < n;) {
        std::size_t end = at + 1;
        while (end < n && c.raw[order[end]] == c.raw[order[at]]) {
            ++end;
        }
        const std::size_t w = end - at;
        const __m128i* rk[siv_batch_lanes];
        const std::uint8_t* data[siv_batch_lanes];
        __m128i last[siv_batch_lanes];
        __m128i state[siv_batch_lanes];
        for (std::size_t j = 0; j < w; ++j) {
            const std::size_t i = order[at + j];
            rk[j] = c.rk[i];
            data[j] = c.data[i];
            last[j] = c.last[i];
            state[j] = _mm_setzero_si128();
        }
        chains(w, rk, data, c.raw[order[at]], with_last ? last : nullptr, state);
        for (std::size_t j = 0; j < w; ++j) {
            c.state[order[at + j]] = state[j];
        }
        at = end;
    }
}

// S2V of n (<= siv_batch_lanes) operations: components ad[0], ad[1], then plains[i].
void s2v_batch(const siv_op* ops, const key_material* km, const bytes_view* plains, std::size_t n,
               __m128i* v_out) noexcept {
    chain_set comp[2];
    chain_set prefix;
    std::size_t with_prefix = 0;
    std::uint8_t prefix_of[siv_batch_lanes];
    for (std::size_t i = 0; i < n; ++i) {
        for (int a = 0; a < 2; ++a) {
            const cmac_lane lane = message_lane(ops[i].ad[a], km[i].k1, km[i].k2);
            comp[a].rk[i] = km[i].mac;
            comp[a].data[i] = lane.data;
            comp[a].raw[i] = lane.raw;
            comp[a].last[i] = lane.last;
        }
        const std::size_t blocks = s2v_prefix_blocks(plains[i].size());
        prefix_of[i] = 0xFF;
        if (blocks != 0) {
            prefix.rk[with_prefix] = km[i].mac;
            prefix.data[with_prefix] = plains[i].data();
            prefix.raw[with_prefix] = blocks;
            prefix_of[i] = static_cast<std::uint8_t>(with_prefix++);
        }
    }
    run_chain_set(comp[0], n, true);
    run_chain_set(comp[1], n, true);
    if (with_prefix != 0) {
        run_chain_set(prefix, with_prefix, false);
    }
    // The tails: one block per operation, then a second one for those whose plaintext's last
    // 16..31 bytes span two blocks.
    __m128i x1[siv_batch_lanes];
    __m128i last2[siv_batch_lanes];
    const __m128i* rk1[siv_batch_lanes];
    bool need2[siv_batch_lanes];
    for (std::size_t i = 0; i < n; ++i) {
        const key_material& k = km[i];
        const __m128i d = s2v_absorb(s2v_absorb(k.zero_mac, comp[0].state[i]), comp[1].state[i]);
        const __m128i s = prefix_of[i] != 0xFF ? prefix.state[prefix_of[i]] : _mm_setzero_si128();
        const s2v_tail t = s2v_final_blocks(d, s, plains[i], k.k1, k.k2);
        rk1[i] = k.mac;
        x1[i] = t.first;
        need2[i] = t.two;
        last2[i] = t.second;
    }
    encrypt_n_mk(rk1, x1, n);
    __m128i x2[siv_batch_lanes];
    const __m128i* rk2[siv_batch_lanes];
    std::uint8_t idx2[siv_batch_lanes];
    std::size_t k2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v_out[i] = x1[i];
        if (need2[i]) {
            x2[k2] = _mm_xor_si128(x1[i], last2[i]);
            rk2[k2] = rk1[i];
            idx2[k2++] = static_cast<std::uint8_t>(i);
        }
    }
    encrypt_n_mk(rk2, x2, k2);
    for (std::size_t j = 0; j < k2; ++j) {
        v_out[idx2[j]] = x2[j];
    }
}

// CTR full blocks [0, blocks) of W operations at once, no per-lane branch.
template <std::size_t W>
void ctr_uniform(const __m128i* const* rk, const __m128i* ctr, const std::uint8_t* const* in,
                 std::uint8_t* const* out, std::size_t blocks) noexcept {
    for (std::size_t j = 0; j < blocks; ++j) {
        __m128i x[W];
        const __m128i add = _mm_set_epi64x(0, static_cast<long long>(j));
#pragma GCC unroll 8
        for (std::size_t i = 0; i < W; ++i) {
            x[i] = byte_swap(_mm_add_epi64(ctr[i], add));
        }
        encrypt_blocks_mk<W>(rk, x);
#pragma GCC unroll 8
        for (std::size_t i = 0; i < W; ++i) {
            store(out[i] + 16 * j, _mm_xor_si128(x[i], load(in[i] + 16 * j)));
        }
    }
}

void ctr_full_blocks(std::size_t w, const __m128i* const* rk, const __m128i* ctr,
                     const std::uint8_t* const* in, std::uint8_t* const* out,
                     std::size_t blocks) noexcept {
    switch (w) {
        case 1:
            ctr_uniform<1>(rk, ctr, in, out, blocks);
            break;
        case 2:
            ctr_uniform<2>(rk, ctr, in, out, blocks);
            break;
        case 3:
            ctr_uniform<3>(rk, ctr, in, out, blocks);
            break;
        case 4:
            ctr_uniform<4>(rk, ctr, in, out, blocks);
            break;
        case 5:
            ctr_uniform<5>(rk, ctr, in, out, blocks);
            break;
        case 6:
            ctr_uniform<6>(rk, ctr, in, out, blocks);
            break;
        case 7:
            ctr_uniform<7>(rk, ctr, in, out, blocks);
            break;
        case 8:
            ctr_uniform<8>(rk, ctr, in, out, blocks);
            break;
        default:
            break;
    }
}

// CTR (as ctr_xor) for n operations at once: the full blocks all operations have, W-wide and
// branch-free; then, block by block, what some have beyond that (other lengths, partial blocks).
void ctr_batch(const __m128i* const* rk, const __m128i* v, const std::uint8_t* const* in,
               const std::size_t* len, std::uint8_t* const* out, std::size_t n) noexcept {
    const __m128i mask =
        _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1);
    __m128i ctr[siv_batch_lanes];
    std::size_t blocks = 0;
    std::size_t common = ~std::size_t{0};
    for (std::size_t i = 0; i < n; ++i) {
        ctr[i] = byte_swap(_mm_and_si128(v[i], mask));
        blocks = std::max(blocks, (len[i] + 15) / 16);
        common = std::min(common, len[i] / 16);
    }
    if (n == 0) {
        return;
    }
    ctr_full_blocks(n, rk, ctr, in, out, common);
    for (std::size_t j = common; j < blocks; ++j) {
        __m128i x[siv_batch_lanes];
        const __m128i* krk[siv_batch_lanes];
        std::uint8_t idx[siv_batch_lanes];
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (16 * j < len[i]) {
                x[k] =
                    byte_swap(_mm_add_epi64(ctr[i], _mm_set_epi64x(0, static_cast<long long>(j))));
                krk[k] = rk[i];
                idx[k++] = static_cast<std::uint8_t>(i);
            }
        }
        encrypt_n_mk(krk, x, k);
        for (std::size_t q = 0; q < k; ++q) {
            const std::size_t i = idx[q];
            const std::size_t at = 16 * j;
            if (len[i] - at >= 16) {
                store(out[i] + at, _mm_xor_si128(x[q], load(in[i] + at)));
            } else {
                const std::size_t r = len[i] - at;
                alignas(16) std::uint8_t b[16] = {};
                copy_below_16(b, in[i] + at, r);
                store(b, _mm_xor_si128(x[q], load(b)));
                copy_below_16(out[i] + at, b, r);
            }
        }
    }
}

// Four key schedules in one sequence of steps: independent chains the CPU overlaps.
template <int Rcon>
[[gnu::always_inline]] inline void expand_four_step(__m128i* const* a, int i) noexcept {
    a[0][i] = expand_step<Rcon>(a[0][i - 1]);
    a[1][i] = expand_step<Rcon>(a[1][i - 1]);
    a[2][i] = expand_step<Rcon>(a[2][i - 1]);
    a[3][i] = expand_step<Rcon>(a[3][i - 1]);
}

void expand_four(const std::uint8_t* const* key, __m128i* const* a) noexcept {
    for (int j = 0; j < 4; ++j) {
        a[j][0] = load(key[j]);
    }
    expand_four_step<0x01>(a, 1);
    expand_four_step<0x02>(a, 2);
    expand_four_step<0x04>(a, 3);
    expand_four_step<0x08>(a, 4);
    expand_four_step<0x10>(a, 5);
    expand_four_step<0x20>(a, 6);
    expand_four_step<0x40>(a, 7);
    expand_four_step<0x80>(a, 8);
    expand_four_step<0x1b>(a, 9);
    expand_four_step<0x36>(a, 10);
}

}  // namespace

void seal_batch(std::span<siv_op> ops) noexcept {
    for (std::size_t at = 0; at < ops.size(); at += siv_batch_lanes) {
        const std::size_t n = std::min(siv_batch_lanes, ops.size() - at);
        siv_op* o = ops.data() + at;
        key_material km[siv_batch_lanes];
        bytes_view plains[siv_batch_lanes];
        for (std::size_t i = 0; i < n; ++i) {
            const aes_siv& k = *o[i].key;
            km[i] = {reinterpret_cast<const __m128i*>(k.mac_round_keys_),
                     reinterpret_cast<const __m128i*>(k.ctr_round_keys_),
                     _mm_load_si128(reinterpret_cast<const __m128i*>(k.k1_)),
                     _mm_load_si128(reinterpret_cast<const __m128i*>(k.k2_)),
                     _mm_load_si128(reinterpret_cast<const __m128i*>(k.zero_mac_))};
            plains[i] = o[i].input;
        }
        __m128i v[siv_batch_lanes];
        s2v_batch(o, km, plains, n, v);
        const __m128i* rk[siv_batch_lanes];
        const std::uint8_t* in[siv_batch_lanes];
        std::size_t len[siv_batch_lanes];
        std::uint8_t* out[siv_batch_lanes];
        for (std::size_t i = 0; i < n; ++i) {
            // Every plaintext is fully read: V may go in front of it (in place).
            store(o[i].out, v[i]);
            rk[i] = km[i].ctr;
            in[i] = o[i].input.data();
            len[i] = o[i].input.size();
            out[i] = o[i].out + 16;
            o[i].ok = true;
        }
        ctr_batch(rk, v, in, len, out, n);
    }
}

void open_batch(std::span<siv_op> ops) noexcept {
    for (std::size_t at = 0; at < ops.size(); at += siv_batch_lanes) {
        const std::size_t end = std::min(ops.size(), at + siv_batch_lanes);
        siv_op* o[siv_batch_lanes];
        siv_op list[siv_batch_lanes];
        key_material km[siv_batch_lanes];
        bytes_view plains[siv_batch_lanes];
        __m128i v[siv_batch_lanes];
        const __m128i* rk[siv_batch_lanes];
        const std::uint8_t* in[siv_batch_lanes];
        std::size_t len[siv_batch_lanes];
        std::uint8_t* out[siv_batch_lanes];
        std::size_t n = 0;
        for (std::size_t j = at; j < end; ++j) {
            siv_op& op = ops[j];
            op.ok = false;
            if (op.input.size() < siv_tag_length) {
                continue;
            }
            const aes_siv& k = *op.key;
            km[n] = {reinterpret_cast<const __m128i*>(k.mac_round_keys_),
                     reinterpret_cast<const __m128i*>(k.ctr_round_keys_),
                     _mm_load_si128(reinterpret_cast<const __m128i*>(k.k1_)),
                     _mm_load_si128(reinterpret_cast<const __m128i*>(k.k2_)),
                     _mm_load_si128(reinterpret_cast<const __m128i*>(k.zero_mac_))};
            v[n] = load(op.input.data());
            rk[n] = km[n].ctr;
            in[n] = op.input.data() + siv_tag_length;
            len[n] = op.input.size() - siv_tag_length;
            out[n] = op.out;
            plains[n] = bytes_view(op.out, len[n]);
            list[n] = op;
            o[n++] = &op;
        }
        ctr_batch(rk, v, in, len, out, n);
        __m128i expected[siv_batch_lanes];
        s2v_batch(list, km, plains, n, expected);
        for (std::size_t i = 0; i < n; ++i) {
            o[i]->ok = equal16(v[i], expected[i]);
            if (!o[i]->ok && !plains[i].empty()) {
                std::memset(o[i]->out, 0, plains[i].size());  // nothing unverified released
            }
        }
    }
}

void aes_siv::derive_subkeys(aes_siv* const* keys, std::size_t n) noexcept {
    const __m128i* rk[4];
    __m128i x[4];
    for (std::size_t j = 0; j < n; ++j) {
        rk[j] = reinterpret_cast<const __m128i*>(keys[j]->mac_round_keys_);
        x[j] = _mm_setzero_si128();
    }
    encrypt_n_mk(rk, x, n);  // L = AES(K, 0); K1 = dbl(L), K2 = dbl(K1)
    for (std::size_t j = 0; j < n; ++j) {
        aes_siv& a = *keys[j];
        const __m128i k1 = dbl(x[j]);
        _mm_store_si128(reinterpret_cast<__m128i*>(a.k1_), k1);
        _mm_store_si128(reinterpret_cast<__m128i*>(a.k2_), dbl(k1));
        x[j] = k1;  // CMAC(<zero>): one full block, 0 ^ K1
    }
    encrypt_n_mk(rk, x, n);
    for (std::size_t j = 0; j < n; ++j) {
        _mm_store_si128(reinterpret_cast<__m128i*>(keys[j]->zero_mac_), x[j]);
    }
}

void set_keys(std::span<aes_siv* const> keys,
              std::span<const std::uint8_t* const> secrets) noexcept {
    const std::size_t count = std::min(keys.size(), secrets.size());
    std::size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        const std::uint8_t* k[4] = {secrets[i], secrets[i] + 16, secrets[i + 1],
                                    secrets[i + 1] + 16};
        __m128i* out[4] = {reinterpret_cast<__m128i*>(keys[i]->mac_round_keys_),
                           reinterpret_cast<__m128i*>(keys[i]->ctr_round_keys_),
                           reinterpret_cast<__m128i*>(keys[i + 1]->mac_round_keys_),
                           reinterpret_cast<__m128i*>(keys[i + 1]->ctr_round_keys_)};
        expand_four(k, out);
        aes_siv::derive_subkeys(keys.data() + i, 2);
    }
    if (i < count) {
        keys[i]->set_key(std::span<const std::uint8_t, siv_key_length>(secrets[i], siv_key_length));
    }
}

void set_mac_keys(std::span<aes_siv* const> keys,
                  std::span<const std::uint8_t* const> secrets) noexcept {
    const std::size_t count = std::min(keys.size(), secrets.size());
    for (std::size_t i = 0; i < count; i += 4) {
        const std::size_t w = std::min<std::size_t>(4, count - i);
        // A short group repeats its last key: four schedules always, the extra ones unused.
        const std::uint8_t* k[4];
        alignas(16) __m128i spare[3][11];
        __m128i* out[4];
        for (std::size_t j = 0; j < 4; ++j) {
            k[j] = secrets[i + std::min(j, w - 1)];
            out[j] =
                j < w ? reinterpret_cast<__m128i*>(keys[i + j]->mac_round_keys_) : spare[j - 1];
        }
        expand_four(k, out);
        aes_siv::derive_subkeys(keys.data() + i, w);
    }
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

void nonce_source::refill() noexcept {
    // AES is a permutation: distinct counter blocks give distinct, unpredictable nonces (the
    // 64-bit counter does not wrap in the life of a process).
    __m128i x[8];
    for (int i = 0; i < 8; ++i) {
        x[i] = _mm_set_epi64x(static_cast<long long>(prefix_), static_cast<long long>(counter_++));
    }
    encrypt_blocks<8>(reinterpret_cast<const __m128i*>(round_keys_), x);
    for (int i = 0; i < 8; ++i) {
        store(ahead_ + 16 * i, x[i]);
    }
    left_ = 8;
}

void nonce_source::next(std::uint8_t* out16) noexcept {
    if (left_ == 0) {
        refill();
    }
    store(out16, load(ahead_ + 16 * (8 - left_)));
    --left_;
}

}  // namespace ports::nts
