// AEAD_AES_SIV_CMAC_256 (RFC 5297; the NTS AEAD, id 15 of the IANA AEAD registry): S2V with
// AES-128-CMAC over the associated-data components, then AES-128-CTR keyed by the second
// half of the key. AES-NI code: the engine is built for x86-64-v3, and every CPU with AVX2 has
// AES-NI (checked once at start by aes_siv_supported()).
//
// No allocation, no syscalls, no exceptions: the fast path expands a key per request (the
// C2S/S2C keys come out of each request's cookie), so key setup is part of the per-packet cost.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ports::nts {

inline constexpr std::size_t siv_key_length = 32;  // K1 (CMAC) || K2 (CTR)
inline constexpr std::size_t siv_tag_length = 16;  // the synthetic IV V
inline constexpr std::uint16_t aead_aes_siv_cmac_256 = 15;
inline constexpr std::size_t max_siv_components = 8;  // associated-data components, nonce included

using bytes_view = std::span<const std::uint8_t>;

struct siv_op;

// True when this CPU has AES-NI (and the instructions this code uses).
bool aes_siv_supported() noexcept;

// An expanded key: round keys of both AES-128 keys and the CMAC subkeys. Trivially copyable
// (a key ring of them is copied into each lcore's own memory).
class aes_siv {
  public:
    aes_siv() = default;
    explicit aes_siv(std::span<const std::uint8_t, siv_key_length> key) noexcept { set_key(key); }
    void set_key(std::span<const std::uint8_t, siv_key_length> key) noexcept;

    // RFC 5297 section 2.6: out = V || C, 16 + plaintext.size() bytes. `ad` are the S2V
    // components in order (for the AEAD of RFC 5297 section 6: {A, N}); at most
    // max_siv_components. out may equal plaintext.data() - 16 (in place, V written before C)
    // or not overlap it at all.
    void seal(std::span<const bytes_view> ad, bytes_view plaintext,
              std::uint8_t* out) const noexcept;

    // RFC 5297 section 2.7: sealed = V || C; writes sealed.size() - 16 bytes of plaintext to
    // out (which may equal sealed.data() + 16) and returns true when V verifies; on false the
    // contents of out are unspecified (the caller must not use them). sealed.size() >= 16.
    bool open(std::span<const bytes_view> ad, bytes_view sealed, std::uint8_t* out) const noexcept;

    // Two-component AEAD form used by NTS (RFC 5116 interface, RFC 5297 section 6).
    void seal(bytes_view associated, bytes_view nonce, bytes_view plaintext,
              std::uint8_t* out) const noexcept {
        const bytes_view c[2] = {associated, nonce};
        seal(c, plaintext, out);
    }
    bool open(bytes_view associated, bytes_view nonce, bytes_view sealed,
              std::uint8_t* out) const noexcept {
        const bytes_view c[2] = {associated, nonce};
        return open(c, sealed, out);
    }

  private:
    friend void seal_batch(std::span<siv_op>) noexcept;
    friend void open_batch(std::span<siv_op>) noexcept;
    friend void set_keys(std::span<aes_siv* const>, std::span<const std::uint8_t* const>) noexcept;
    friend void set_mac_keys(std::span<aes_siv* const>,
                             std::span<const std::uint8_t* const>) noexcept;
    // RFC 4493 2.3's subkeys and CMAC(<zero>) of n (<= 4) keys whose CMAC schedule is set,
    // computed side by side: what set_key, set_keys and set_mac_keys all end with.
    static void derive_subkeys(aes_siv* const* keys, std::size_t n) noexcept;
    alignas(16) std::uint8_t mac_round_keys_[11 * 16] = {};
    alignas(16) std::uint8_t ctr_round_keys_[11 * 16] = {};
    alignas(16) std::uint8_t k1_[16] = {};  // CMAC subkeys
    alignas(16) std::uint8_t k2_[16] = {};
    // S2V's first D = CMAC(K1, <zero>): it depends on the key alone, so set_key computes it
    // once instead of every seal/open (a master key seals and opens many cookies).
    alignas(16) std::uint8_t zero_mac_[16] = {};
};

// One operation of a batch: seal_batch / open_batch give, for each, exactly what
// key->seal({ad[0], ad[1]}, input, out) / key->open(...) give (same in-place rules), computed
// together: a lone CMAC chain keeps the AES unit busy one cycle in ~4-8 (aesenc's latency), so
// the chains of up to siv_batch_lanes operations (different keys allowed) go through it
// interleaved, round by round.
struct siv_op {
    const aes_siv* key = nullptr;
    bytes_view ad[2];  // NTS's two components: associated data, nonce
    bytes_view input;  // seal: plaintext; open: V || C (>= 16 bytes, else ok = false)
    std::uint8_t* out = nullptr;
    bool ok = false;  // open_batch: V verified (seal_batch sets true)
};
inline constexpr std::size_t siv_batch_lanes = 8;  // operations interleaved; longer spans are cut
void seal_batch(std::span<siv_op> ops) noexcept;
void open_batch(std::span<siv_op> ops) noexcept;
// keys[i]->set_key(secrets[i]) for every i, the key schedules interleaved four at a time.
void set_keys(std::span<aes_siv* const> keys,
              std::span<const std::uint8_t* const> secrets) noexcept;
// The CMAC half only (the first 16 bytes of each secret), four schedules at a time: such a key
// seals and opens empty plaintexts only (S2V alone, no CTR), which is what an NTS request's
// Authenticator usually holds; the fast path sets up C2S so when it can.
void set_mac_keys(std::span<aes_siv* const> keys,
                  std::span<const std::uint8_t* const> secrets) noexcept;

// Unique, unpredictable 16-byte nonces without a syscall per call: AES-128 over a counter,
// keyed once from the OS's RNG (one per lcore; not thread-safe).
class nonce_source {
  public:
    nonce_source();  // seeds from RAND_bytes (OpenSSL); throws std::runtime_error on failure
    void next(std::uint8_t* out16) noexcept;

  private:
    void refill() noexcept;
    alignas(16) std::uint8_t round_keys_[11 * 16] = {};
    // Made eight at a time (eight AES blocks cost little more than one: the rounds overlap);
    // nonces are public, keeping a few ahead costs nothing.
    alignas(16) std::uint8_t ahead_[8 * 16] = {};
    std::uint8_t left_ = 0;
    std::uint64_t counter_ = 0;
    std::uint64_t prefix_ = 0;
};

}  // namespace ports::nts
