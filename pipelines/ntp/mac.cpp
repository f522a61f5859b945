#include "ports/ntp/mac.hpp"

// MD5_* and SHA1_* are deprecated in OpenSSL 3 but are the only digest calls that do not
// allocate: EVP_DigestInit_ex2 in 3.0 frees and re-creates the provider context on every init,
// even with the same digest (one malloc per packet, seen in the allocation-count test).
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace ports::ntp {

namespace {

EVP_MAC_CTX* new_cmac_ctx(EVP_MAC* mac) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    if (ctx == nullptr) {
        throw std::runtime_error("OpenSSL: EVP_MAC_CTX_new(CMAC) failed");
    }
    // The cipher is set once: as an init parameter it would be fetched on every packet.
    char cipher[] = "AES-128-CBC";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        throw std::runtime_error("OpenSSL: CMAC has no AES-128-CBC");
    }
    return ctx;
}

}  // namespace

mac_engine::mac_engine() {
    try {
        md5_ = EVP_MD_fetch(nullptr, "MD5", nullptr);
        sha1_ = EVP_MD_fetch(nullptr, "SHA1", nullptr);
        cmac_ = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
        if (md5_ == nullptr || sha1_ == nullptr || cmac_ == nullptr) {
            throw std::runtime_error("OpenSSL: cannot fetch MD5, SHA1 or CMAC");
        }
        md5_ctx_ = EVP_MD_CTX_new();
        sha1_ctx_ = EVP_MD_CTX_new();
        if (md5_ctx_ == nullptr || sha1_ctx_ == nullptr) {
            throw std::runtime_error("OpenSSL: EVP_MD_CTX_new failed");
        }
        // A first init creates the provider contexts now rather than on the first packet.
        if (EVP_DigestInit_ex2(md5_ctx_, md5_, nullptr) != 1 ||
            EVP_DigestInit_ex2(sha1_ctx_, sha1_, nullptr) != 1) {
            throw std::runtime_error("OpenSSL: digest init failed");
        }
        spare_cmac_ctx_ = new_cmac_ctx(cmac_);
    } catch (...) {
        release();
        throw;
    }
}

mac_engine::mac_engine(const key_table& keys) : mac_engine() {
    try {
        for (const key& k : keys.keys()) {
            if (k.type != key_type::aes128_cmac) {
                continue;
            }
            bound_cmac b;
            b.id = k.id;
            std::memcpy(b.material.data(), k.material.data(), b.material.size());
            b.ctx = new_cmac_ctx(cmac_);
            if (EVP_MAC_init(b.ctx, k.material.data(), k.length, nullptr) != 1) {
                EVP_MAC_CTX_free(b.ctx);
                throw std::runtime_error("OpenSSL: CMAC key " + std::to_string(k.id) +
                                         " refused");
            }
            bound_.push_back(b);
        }
        std::sort(bound_.begin(), bound_.end(),
                  [](const bound_cmac& a, const bound_cmac& b) { return a.id < b.id; });
    } catch (...) {
        release();
        throw;
    }
}

mac_engine::~mac_engine() {
    release();
}

mac_engine::mac_engine(mac_engine&& other) noexcept
    : md5_(std::exchange(other.md5_, nullptr)),
      sha1_(std::exchange(other.sha1_, nullptr)),
      md5_ctx_(std::exchange(other.md5_ctx_, nullptr)),
      sha1_ctx_(std::exchange(other.sha1_ctx_, nullptr)),
      cmac_(std::exchange(other.cmac_, nullptr)),
      spare_cmac_ctx_(std::exchange(other.spare_cmac_ctx_, nullptr)),
      bound_(std::move(other.bound_)) {
    other.bound_.clear();
}

mac_engine& mac_engine::operator=(mac_engine&& other) noexcept {
    if (this != &other) {
        release();
        md5_ = std::exchange(other.md5_, nullptr);
        sha1_ = std::exchange(other.sha1_, nullptr);
        md5_ctx_ = std::exchange(other.md5_ctx_, nullptr);
        sha1_ctx_ = std::exchange(other.sha1_ctx_, nullptr);
        cmac_ = std::exchange(other.cmac_, nullptr);
        spare_cmac_ctx_ = std::exchange(other.spare_cmac_ctx_, nullptr);
        bound_ = std::move(other.bound_);
        other.bound_.clear();
    }
    return *this;
}

void mac_engine::release() noexcept {
    for (bound_cmac& b : bound_) {
        EVP_MAC_CTX_free(b.ctx);
    }
    bound_.clear();
    EVP_MAC_CTX_free(spare_cmac_ctx_);
    EVP_MAC_free(cmac_);
    EVP_MD_CTX_free(md5_ctx_);
    EVP_MD_CTX_free(sha1_ctx_);
    EVP_MD_free(md5_);
    EVP_MD_free(sha1_);
    spare_cmac_ctx_ = nullptr;
    cmac_ = nullptr;
    md5_ctx_ = nullptr;
    sha1_ctx_ = nullptr;
    md5_ = nullptr;
    sha1_ = nullptr;
}

evp_mac_ctx_st* mac_engine::cmac_context(const key& k) noexcept {
    const auto by_id = [](const bound_cmac& b, std::uint16_t id) { return b.id < id; };
    const auto it = std::lower_bound(bound_.begin(), bound_.end(), k.id, by_id);
    if (it != bound_.end() && it->id == k.id && k.length == it->material.size() &&
        std::memcmp(it->material.data(), k.material.data(), it->material.size()) == 0) {
        // Restart with the key already bound: no allocation.
        if (EVP_MAC_init(it->ctx, nullptr, 0, nullptr) != 1) {
            return nullptr;
        }
        return it->ctx;
    }
    if (spare_cmac_ctx_ == nullptr ||
        EVP_MAC_init(spare_cmac_ctx_, k.material.data(), k.length, nullptr) != 1) {
        return nullptr;
    }
    return spare_cmac_ctx_;
}

std::size_t mac_engine::sign(const key& k, byte_span signed_part,
                             std::span<std::uint8_t> out) noexcept {
    const std::size_t n = digest_length(k.type);
    if (out.size() < n) {
        return 0;
    }
    if (k.type == key_type::aes128_cmac) {
        EVP_MAC_CTX* ctx = cmac_context(k);
        std::size_t written = 0;
        if (ctx == nullptr || EVP_MAC_update(ctx, signed_part.data(), signed_part.size()) != 1 ||
            EVP_MAC_final(ctx, out.data(), &written, out.size()) != 1 || written != n) {
            return 0;
        }
        return n;
    }
#if !defined(OPENSSL_NO_DEPRECATED_3_0)
    // On the stack: no allocation, no provider dispatch.
    if (k.type == key_type::md5) {
        MD5_CTX c;
        if (MD5_Init(&c) != 1 || MD5_Update(&c, k.material.data(), k.length) != 1 ||
            MD5_Update(&c, signed_part.data(), signed_part.size()) != 1 ||
            MD5_Final(out.data(), &c) != 1) {
            return 0;
        }
    } else {
        SHA_CTX c;
        if (SHA1_Init(&c) != 1 || SHA1_Update(&c, k.material.data(), k.length) != 1 ||
            SHA1_Update(&c, signed_part.data(), signed_part.size()) != 1 ||
            SHA1_Final(out.data(), &c) != 1) {
            return 0;
        }
    }
#else
    // An OpenSSL built without the deprecated calls: correct, one allocation per call.
    EVP_MD_CTX* ctx = k.type == key_type::md5 ? md5_ctx_ : sha1_ctx_;
    const EVP_MD* md = k.type == key_type::md5 ? md5_ : sha1_;
    unsigned int written = 0;
    if (ctx == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1 ||
        EVP_DigestUpdate(ctx, k.material.data(), k.length) != 1 ||
        EVP_DigestUpdate(ctx, signed_part.data(), signed_part.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, out.data(), &written) != 1 || written != n) {
        return 0;
    }
#endif
    return n;
}

bool mac_engine::verify(const key& k, byte_span signed_part, byte_span digest) noexcept {
    const std::size_t n = digest_length(k.type);
    if (digest.size() != n) {
        return false;
    }
    std::array<std::uint8_t, max_digest_length> computed{};
    if (sign(k, signed_part, computed) != n) {
        return false;
    }
    return CRYPTO_memcmp(computed.data(), digest.data(), n) == 0;
}

}  // namespace ports::ntp
