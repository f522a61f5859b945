// Master keys, cookies and the key file (see keys.hpp for the formats).
#include "ports/nts/keys.hpp"

#include <fcntl.h>
#include <immintrin.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "ports/common/text.hpp"

namespace ports::nts {

static_assert(std::is_trivially_copyable_v<key_ring>, "key_store copies rings as raw words");
static_assert(4 + 16 + siv_tag_length + cookie_plaintext_length == cookie_length);

namespace {

void put_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get_be32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
           std::uint32_t{p[3]};
}

}  // namespace

// ---- key ring ------------------------------------------------------------------------------

const master_key* key_ring::find(std::uint32_t id) const noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        if (keys[i].id == id) {
            return &keys[i];
        }
    }
    return nullptr;
}

void key_ring::add(std::uint32_t id, std::span<const std::uint8_t, siv_key_length> secret,
                   std::uint64_t created_unix_s) noexcept {
    std::size_t n = count;
    // Remove an older key of the same id, else the oldest when full: the survivors shift down
    // so keys[] stays oldest first.
    std::size_t drop = n;
    for (std::size_t i = 0; i < n; ++i) {
        if (keys[i].id == id) {
            drop = i;
        }
    }
    if (drop == n && n == max_master_keys) {
        drop = 0;
    }
    if (drop < n) {
        for (std::size_t i = drop; i + 1 < n; ++i) {
            keys[i] = keys[i + 1];
        }
        --n;
    }
    master_key& k = keys[n];
    k.id = id;
    k.created_unix_s = created_unix_s;
    std::copy(secret.begin(), secret.end(), k.secret.begin());
    k.siv.set_key(k.secret);
    count = static_cast<std::uint8_t>(n + 1);
    // Whatever of a dropped key lingers past the end of the ring is wiped.
    for (std::size_t i = count; i < max_master_keys; ++i) {
        OPENSSL_cleanse(&keys[i], sizeof keys[i]);
    }
}

void key_ring::rotate(std::uint64_t now_unix_s) {
    std::array<std::uint8_t, siv_key_length> secret;
    std::uint32_t id = 0;
    if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
        throw std::runtime_error("NTS master key: RAND_bytes failed");
    }
    do {
        std::uint8_t b[4];
        if (RAND_bytes(b, sizeof b) != 1) {
            throw std::runtime_error("NTS master key: RAND_bytes failed");
        }
        id = get_be32(b);
    } while (find(id) != nullptr);
    add(id, secret, now_unix_s);
    OPENSSL_cleanse(secret.data(), secret.size());
}

// ---- cookies -------------------------------------------------------------------------------

void cookie_plaintext(const session_keys& keys, std::uint8_t* out) noexcept {
    out[0] = static_cast<std::uint8_t>(keys.aead >> 8);
    out[1] = static_cast<std::uint8_t>(keys.aead);
    out[2] = 0;
    out[3] = 0;
    std::memcpy(out + 4, keys.c2s.data(), c2s_key_length);
    std::memcpy(out + 4 + c2s_key_length, keys.s2c.data(), c2s_key_length);
}

std::optional<session_keys> keys_from_cookie_plaintext(const std::uint8_t* plain) noexcept {
    session_keys keys;
    keys.aead = static_cast<std::uint16_t>(plain[0] << 8 | plain[1]);
    // Only the AEAD we serve; the reserved bytes are ours to extend the format with later.
    if (keys.aead != aead_aes_siv_cmac_256) {
        return std::nullopt;
    }
    std::memcpy(keys.c2s.data(), plain + 4, c2s_key_length);
    std::memcpy(keys.s2c.data(), plain + 4 + c2s_key_length, c2s_key_length);
    return keys;
}

void make_cookie(const master_key& key, const std::uint8_t* nonce16, const session_keys& keys,
                 std::uint8_t* out) noexcept {
    put_be32(out, key.id);
    std::memcpy(out + cookie_nonce_offset, nonce16, 16);
    std::uint8_t plain[cookie_plaintext_length];
    cookie_plaintext(keys, plain);
    key.siv.seal(bytes_view(out, 4), bytes_view(out + cookie_nonce_offset, 16),
                 bytes_view(plain, sizeof plain), out + cookie_sealed_offset);
}

std::optional<session_keys> open_cookie(const key_ring& ring, bytes_view cookie) noexcept {
    if (cookie.size() != cookie_length) {
        return std::nullopt;
    }
    const master_key* key = ring.find(get_be32(cookie.data()));
    if (key == nullptr) {
        return std::nullopt;
    }
    std::uint8_t plain[cookie_plaintext_length];
    if (!key->siv.open(cookie.first(4), cookie.subspan(cookie_nonce_offset, 16),
                       cookie.subspan(cookie_sealed_offset), plain)) {
        return std::nullopt;
    }
    return keys_from_cookie_plaintext(plain);
}

// ---- key file ------------------------------------------------------------------------------

namespace {

[[noreturn]] void fail(const std::string& path, std::size_t line, const std::string& what) {
    throw key_file_error(path + ":" + std::to_string(line) + ": " + what);
}

[[noreturn]] void fail_errno(const std::string& path, int err) {
    throw key_file_error(path + ": " + std::strerror(err));
}

// Decodes exactly out.size() bytes of hex, or says what is wrong with the field.
std::string parse_hex(std::string_view field, std::span<std::uint8_t> out, const char* name) {
    if (field.size() != 2 * out.size()) {
        return std::string(name) + ": expected " + std::to_string(2 * out.size()) +
               " hex digits, got " + std::to_string(field.size());
    }
    if (const std::size_t bad = text::decode_hex(field, out); bad != std::string_view::npos) {
        return std::string(name) + ": bad hex digit '" + field[bad] + "'";
    }
    return {};
}

struct parsed_key {
    std::uint32_t id;
    std::array<std::uint8_t, siv_key_length> secret;
    std::uint64_t created;
    std::size_t line;
};

std::string read_all(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail_errno(path, errno);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            OPENSSL_cleanse(buf, sizeof buf);
            fail_errno(path, err);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    OPENSSL_cleanse(buf, sizeof buf);
    return text;
}

// Wipes the file's text (secrets) whichever way the parse ends.
struct wiped_string {
    std::string s;
    ~wiped_string() { OPENSSL_cleanse(s.data(), s.size()); }
};

}  // namespace

key_ring load_key_file(const std::string& path) {
    const wiped_string file{read_all(path)};
    struct wiped_keys {
        std::vector<parsed_key> v;
        ~wiped_keys() { OPENSSL_cleanse(v.data(), v.size() * sizeof(parsed_key)); }
    } parsed;
    std::vector<parsed_key>& keys = parsed.v;
    text::line_reader lines(file.s);
    std::string_view line;
    while (lines.next(line)) {
        const std::size_t line_no = lines.number();
        // <key id> <key> <created>, and a fourth slot to see what follows them.
        std::string_view f[4];
        const std::size_t n = text::split_fields(line, f);
        if (n == 0 || f[0].front() == '#') {
            continue;
        }
        if (n < 3) {
            fail(path, line_no,
                 "expected <key id> <key> <created>, got " + std::to_string(n) +
                     (n == 1 ? " field" : " fields"));
        }
        if (n > 3) {
            fail(path, line_no, "unexpected text after the created time");
        }
        parsed_key k{};
        k.line = line_no;
        std::uint8_t id[4];
        if (auto err = parse_hex(f[0], id, "key id"); !err.empty()) {
            fail(path, line_no, err);
        }
        k.id = get_be32(id);
        if (auto err = parse_hex(f[1], k.secret, "key"); !err.empty()) {
            fail(path, line_no, err);
        }
        const auto [end, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), k.created);
        if (ec != std::errc{} || end != f[2].data() + f[2].size()) {
            fail(path, line_no, "created: expected unix seconds, got '" + std::string(f[2]) + "'");
        }
        for (const auto& other : keys) {
            if (other.id == k.id) {
                char hex[9];
                std::snprintf(hex, sizeof hex, "%08x", k.id);
                fail(path, line_no,
                     std::string("duplicate key id ") + hex + " (line " +
                         std::to_string(other.line) + ")");
            }
        }
        keys.push_back(k);
    }
    if (keys.empty()) {
        throw key_file_error(path + ": no keys");
    }
    key_ring ring;
    // Newest max_master_keys only (see keys.hpp); add() drops the oldest as it goes.
    for (const auto& k : keys) {
        ring.add(k.id, k.secret, k.created);
    }
    return ring;
}

void save_key_file(const std::string& path, const key_ring& ring) {
    std::string text =
        "# NTS master keys: <key id> <key> <created unix seconds>, oldest first, the last is "
        "current.\n# Secret: keep this file mode 0600.\n";
    for (std::size_t i = 0; i < ring.count; ++i) {
        const master_key& k = ring.keys[i];
        char line[8 + 1 + 64 + 1 + 20 + 2];
        int n = std::snprintf(line, sizeof line, "%08x ", k.id);
        for (std::uint8_t b : k.secret) {
            n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), "%02x", b);
        }
        std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), " %llu\n",
                      static_cast<unsigned long long>(k.created_unix_s));
        text += line;
        OPENSSL_cleanse(line, sizeof line);
    }
    const wiped_string wipe{std::move(text)};

    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail_errno(tmp, errno);
    }
    auto give_up = [&](int err) {
        ::close(fd);
        ::unlink(tmp.c_str());
        fail_errno(tmp, err);
    };
    // O_CREAT's mode does not apply to a leftover PATH.tmp.
    if (::fchmod(fd, 0600) != 0) {
        give_up(errno);
    }
    std::size_t done = 0;
    while (done < wipe.s.size()) {
        const ssize_t n = ::write(fd, wipe.s.data() + done, wipe.s.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            give_up(errno);
        }
        done += static_cast<std::size_t>(n);
    }
    // Data on disk before the rename makes it visible: a crash leaves the old file or the new.
    if (::fsync(fd) != 0) {
        give_up(errno);
    }
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail_errno(tmp, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail_errno(path, err);
    }
    // The rename itself is durable once the directory is synced (best effort: a failure here
    // leaves a correct file that may, after a crash, still be the old one).
    const std::size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : path.substr(0, slash);
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

// ---- key store (seqlock) -------------------------------------------------------------------

void key_store::publish(const key_ring& ring) noexcept {
    const auto* src = reinterpret_cast<const unsigned char*>(&ring);
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    // The odd sequence is visible before any word of the new ring.
    std::atomic_thread_fence(std::memory_order_release);
    for (std::size_t i = 0; i < ring_words; ++i) {
        std::uint64_t w;
        std::memcpy(&w, src + i * sizeof w, sizeof w);
        std::atomic_ref<std::uint64_t>(words_[i]).store(w, std::memory_order_relaxed);
    }
    seq_.store(s + 2, std::memory_order_release);
    version_.fetch_add(1, std::memory_order_release);
}

key_ring key_store::read() const noexcept {
    key_ring ring;
    auto* dst = reinterpret_cast<unsigned char*>(&ring);
    for (;;) {
        const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
        if (s1 & 1) {
            _mm_pause();  // a publish is under way: it is short
            continue;
        }
        for (std::size_t i = 0; i < ring_words; ++i) {
            // atomic_ref wants a non-const object; the load does not write it.
            auto& word = const_cast<std::uint64_t&>(words_[i]);
            const std::uint64_t w =
                std::atomic_ref<std::uint64_t>(word).load(std::memory_order_relaxed);
            std::memcpy(dst + i * sizeof w, &w, sizeof w);
        }
        // The words' loads complete before the second look at the sequence.
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq_.load(std::memory_order_relaxed) == s1) {
            return ring;
        }
    }
}

}  // namespace ports::nts
