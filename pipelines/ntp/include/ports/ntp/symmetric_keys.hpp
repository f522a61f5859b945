// Symmetric keys for NTP authentication (RFC 5905 section 7.3, RFC 8573) and the key file that
// ntpd, ntpsec and chrony share in spirit: one key per line, `KEYID TYPE KEY [# comment]`.
//
// Accepted (setup code: parsing allocates and throws key_error "FILE:LINE: message"):
//   KEYID  1..65535 (decimal).
//   TYPE   case-insensitive. MD5: `MD5`, `M` (ntpd). SHA-1: `SHA1`, `SHA-1` (not `SHA`: that
//          names SHA-0 in OpenSSL).
//          AES-128-CMAC: `AES128CMAC` (ntpd), `AES-128-CMAC`, `AES` (ntpsec), `AES128` (chrony),
//          `CMAC`. The type may be left out (chrony's `KEYID KEY`): MD5.
//          Anything else (SHA256, AES256, ...) is refused: its MAC does not fit NTP's 16/20-byte
//          digest slots as the parser sees them.
//   KEY    `HEX:...` or `ASCII:...` (chrony) say the encoding. Without a prefix, ntpd's rule: at
//          most 20 characters is ASCII, longer is hex (so a 40-digit SHA-1 key and a 32-digit
//          AES key are hex, a 16-character AES password is ASCII, as ntpsec allows).
//          ASCII keys are printable characters other than '#' (which starts a comment).
//          Decoded length 1..64 bytes; AES-128-CMAC needs exactly 16.
//   Extra fields (ntpd 4.2.8's per-key address list) are refused, not ignored: silently dropping
//   a restriction would widen who may use the key.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ports::ntp {

enum class key_type : std::uint8_t { md5, sha1, aes128_cmac };

constexpr const char* to_string(key_type t) {
    switch (t) {
        case key_type::md5:
            return "MD5";
        case key_type::sha1:
            return "SHA1";
        case key_type::aes128_cmac:
            return "AES128CMAC";
    }
    return "?";
}

inline constexpr std::uint32_t max_key_id = 65535;
inline constexpr std::size_t max_key_length = 64;

struct key {
    std::uint16_t id = 0;
    key_type type = key_type::md5;
    std::uint8_t length = 0;
    std::array<std::uint8_t, max_key_length> material{};

    std::span<const std::uint8_t> bytes() const { return {material.data(), length}; }
};

class key_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Keys by id. Lookup is one load from a dense 64 Ki index (128 KiB, one cache line touched per
// lookup) then one from the key array: no hashing, no allocation.
class key_table {
  public:
    key_table();

    // Throws key_error on a duplicate id, an id outside 1..65535 or a bad length for the type.
    void add(const key& k);

    // Ids come from the wire as 32 bits: anything above 65535 is simply unknown.
    const key* find(std::uint32_t id) const noexcept {
        if (id == 0 || id > max_key_id) {
            return nullptr;
        }
        const std::uint16_t slot = index_[id];
        return slot == 0 ? nullptr : &keys_[slot - 1];
    }

    // Position of a key in the table, stable once setup is over (mac_engine keys its
    // per-key contexts by it).
    std::size_t slot_of(const key& k) const noexcept {
        return static_cast<std::size_t>(&k - keys_.data());
    }

    std::span<const key> keys() const noexcept { return keys_; }
    std::size_t size() const noexcept { return keys_.size(); }
    bool empty() const noexcept { return keys_.empty(); }

  private:
    std::vector<std::uint16_t> index_;  // id -> slot + 1, 0 for none
    std::vector<key> keys_;
};

// Builds one key from its three textual fields (no FILE:LINE: prefix on errors).
key make_key(std::string_view id, std::string_view type, std::string_view material);

// `name` is what error messages call the text (the file name).
key_table parse_key_file(std::string_view text, std::string_view name);
key_table load_key_file(const std::string& path);

}  // namespace ports::ntp
