// NTS server master keys and cookies (RFC 8915 section 6 leaves the cookie format to the
// server; this is ours).
//
// Cookie (104 bytes): key id (4, big endian) || nonce (16) || AES-SIV(master key,
//   A = key id, N = nonce, P = AEAD id (2, BE) || 0 (2) || C2S key (32) || S2C key (32)).
// Any engine holding the master key of that id opens it: a fleet that shares the key file
// accepts each other's cookies.
//
// Key ring: up to max_master_keys keys; the newest (current) makes new cookies, every key in
// the ring opens them. Rotation adds a new current key and drops the oldest, so a cookie
// stays good for (max_master_keys - 1) rotation intervals at least.
//
// Key file (text, shared by a fleet; written atomically by the engine that rotates):
//   # comment
//   <key id: 8 hex digits> <key: 64 hex digits> <created: unix seconds>
// one line per key, oldest first; the last line is the current key. Errors: "FILE:LINE: what".
// Blank lines and lines starting with '#' (after blanks) are skipped. A file with more than
// max_master_keys keys is accepted and its newest max_master_keys kept (the oldest are the
// least useful: their cookies are the ones closest to expiry anyway), so an engine with a
// smaller ring can share a fleet's file; the current key is the same everywhere.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ports/nts/aes_siv.hpp"

namespace ports::nts {

inline constexpr std::size_t max_master_keys = 4;
inline constexpr std::size_t c2s_key_length = 32;
inline constexpr std::size_t cookie_length = 104;
inline constexpr std::size_t cookie_plaintext_length = 68;

struct session_keys {
    std::uint16_t aead = aead_aes_siv_cmac_256;
    std::array<std::uint8_t, c2s_key_length> c2s{};
    std::array<std::uint8_t, c2s_key_length> s2c{};
};

struct master_key {
    std::uint32_t id = 0;
    std::uint64_t created_unix_s = 0;
    std::array<std::uint8_t, siv_key_length> secret{};
    aes_siv siv;  // expanded from secret
};

// Trivially copyable: workers keep their own copy (see key_store).
struct key_ring {
    std::array<master_key, max_master_keys> keys{};
    std::uint8_t count = 0;  // keys[0, count), oldest first
    const master_key* current() const noexcept { return count == 0 ? nullptr : &keys[count - 1]; }
    const master_key* find(std::uint32_t id) const noexcept;
    // A new random key (RAND_bytes) becomes current; the oldest goes when the ring is full.
    // Key ids are random too, never repeating one in the ring. Throws std::runtime_error when
    // the RNG fails.
    void rotate(std::uint64_t now_unix_s);
    // Appends as current; drops the oldest when full. A key already in the ring under `id` is
    // removed first (ids stay unique, find() stays unambiguous).
    void add(std::uint32_t id, std::span<const std::uint8_t, siv_key_length> secret,
             std::uint64_t created_unix_s) noexcept;
};

class key_file_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Throws key_file_error ("FILE:LINE: what", or "FILE: <errno text>").
key_ring load_key_file(const std::string& path);
// Writes to PATH.tmp and renames it over PATH (readers never see half a file), mode 0600.
void save_key_file(const std::string& path, const key_ring& ring);

// The cookie's parts (see the format above), for code that seals or opens cookies in batches
// (the fast path, nts/server.cpp): where the nonce and V || C start, and the plaintext.
inline constexpr std::size_t cookie_nonce_offset = 4;
inline constexpr std::size_t cookie_sealed_offset = 4 + 16;
void cookie_plaintext(const session_keys& keys, std::uint8_t* out) noexcept;  // 68 bytes
// Nothing when the AEAD id is not one we serve.
std::optional<session_keys> keys_from_cookie_plaintext(const std::uint8_t* plain) noexcept;

// Seals a cookie for `keys` under `key` with the given 16-byte nonce. out: cookie_length bytes.
void make_cookie(const master_key& key, const std::uint8_t* nonce16, const session_keys& keys,
                 std::uint8_t* out) noexcept;
// Opens a cookie: nothing when its length is wrong, its key id is not in the ring, it does
// not verify, or its AEAD id is not one we serve.
std::optional<session_keys> open_cookie(const key_ring& ring, bytes_view cookie) noexcept;

// The ring as published by the control plane (rotation, SIGHUP reload) and read by workers
// and the NTS-KE threads without locks: a seqlock over the trivially copyable ring, and a
// version a worker checks once per burst (acquire) to know when to copy it again.
class key_store {
  public:
    void publish(const key_ring& ring) noexcept;  // one writer at a time (the control thread)
    std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }
    key_ring read() const noexcept;

  private:
    // The ring as 64-bit words, each copied with a relaxed std::atomic_ref: a reader racing a
    // writer reads torn data (and retries) but never has a data race; memcpy converts.
    static constexpr std::size_t ring_words = sizeof(key_ring) / sizeof(std::uint64_t);
    static_assert(sizeof(key_ring) % sizeof(std::uint64_t) == 0);
    std::atomic<std::uint64_t> seq_{0};      // odd while a write is in progress
    std::atomic<std::uint64_t> version_{0};  // bumped after each publish
    std::array<std::uint64_t, ring_words> words_{};
};

}  // namespace ports::nts
