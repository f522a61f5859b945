// The NTP message authentication code (RFC 5905 section 7.3 and appendix A.2, RFC 8573).
//
// MD5 and SHA-1 keys use the legacy construction H(key || message), 16 or 20 bytes.
// AES-128-CMAC keys use CMAC(key, message), 16 bytes. The message is the packet from its first
// byte up to the key id of the MAC trailer (header plus any extension fields).
//
// One mac_engine per lcore: it owns OpenSSL contexts, which are not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ports/ntp/symmetric_keys.hpp"

// OpenSSL's types, declared here so that users of this header do not pull in its headers.
struct evp_md_st;
struct evp_md_ctx_st;
struct evp_mac_st;
struct evp_mac_ctx_st;

namespace ports::ntp {

using byte_span = std::span<const std::uint8_t>;

inline constexpr std::size_t max_digest_length = 20;

constexpr std::size_t digest_length(key_type t) {
    return t == key_type::sha1 ? 20 : 16;
}

// Allocation: everything is fetched and allocated in the constructor. Per packet:
//  - MD5/SHA-1: OpenSSL's low-level MD5_*/SHA1_* on a stack context (deprecated in 3.0, still
//    shipped): EVP_DigestInit_ex2 in 3.0 re-creates its provider context on every init, one
//    malloc per packet. Where the deprecated calls are compiled out, the EVP path is used
//    (same digests, that allocation back). The EVP digests are still fetched at setup, so that
//    a configuration without MD5 (FIPS) fails at start, not per packet.
//  - AES-128-CMAC: one EVP_MAC_CTX per CMAC key of the table given at construction, keyed at
//    setup; per packet it is only restarted (EVP_MAC_init with no key), which does not
//    allocate. Setting a key on a CMAC context re-creates its cipher context inside OpenSSL
//    (an allocation), which is why keys are bound once.
//  A key that is not from that table (or a CMAC key added later) still works through a spare
//  context that is keyed per call: correct, but OpenSSL allocates internally then.
// The unit tests count OpenSSL's allocations around sign/verify to hold this.
class mac_engine {
  public:
    // Throws std::runtime_error when OpenSSL lacks an algorithm (MD5 under a FIPS-only
    // configuration, for instance).
    mac_engine();
    explicit mac_engine(const key_table& keys);
    ~mac_engine();
    mac_engine(const mac_engine&) = delete;
    mac_engine& operator=(const mac_engine&) = delete;
    mac_engine(mac_engine&& other) noexcept;
    mac_engine& operator=(mac_engine&& other) noexcept;

    // Writes digest_length(k.type) bytes to out and returns that count; 0 when out is too
    // small or OpenSSL fails.
    std::size_t sign(const key& k, byte_span signed_part, std::span<std::uint8_t> out) noexcept;

    // Constant-time comparison; false for a digest of the wrong length.
    bool verify(const key& k, byte_span signed_part, byte_span digest) noexcept;

  private:
    evp_mac_ctx_st* cmac_context(const key& k) noexcept;
    void release() noexcept;

    evp_md_st* md5_ = nullptr;
    evp_md_st* sha1_ = nullptr;
    evp_md_ctx_st* md5_ctx_ = nullptr;
    evp_md_ctx_st* sha1_ctx_ = nullptr;
    evp_mac_st* cmac_ = nullptr;
    evp_mac_ctx_st* spare_cmac_ctx_ = nullptr;
    // Bound CMAC contexts: by id, so a key found in any table with the same id and bytes
    // reuses it.
    struct bound_cmac {
        std::uint16_t id = 0;
        std::array<std::uint8_t, 16> material{};
        evp_mac_ctx_st* ctx = nullptr;
    };
    std::vector<bound_cmac> bound_;  // sorted by id
};

}  // namespace ports::ntp
