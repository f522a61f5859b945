// NTS master keys: the ring, cookies, the key file and the key store's seqlock.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ports/nts/keys.hpp"

using namespace ports::nts;

namespace {

std::array<std::uint8_t, siv_key_length> secret_of(std::uint8_t b) {
    std::array<std::uint8_t, siv_key_length> s;
    s.fill(b);
    return s;
}

session_keys sample_keys() {
    session_keys k;
    for (std::size_t i = 0; i < c2s_key_length; ++i) {
        k.c2s[i] = static_cast<std::uint8_t>(i);
        k.s2c[i] = static_cast<std::uint8_t>(0xff - i);
    }
    return k;
}

std::array<std::uint8_t, cookie_length> cookie_under(const master_key& key, const session_keys& s) {
    std::array<std::uint8_t, cookie_length> c{};
    std::uint8_t nonce[16];
    nonce_source().next(nonce);
    make_cookie(key, nonce, s, c.data());
    return c;
}

// A scratch directory per test, removed after.
class temp_dir {
  public:
    temp_dir() {
        char templ[] = "/tmp/nts-keys-XXXXXX";
        path_ = ::mkdtemp(templ);
    }
    ~temp_dir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(file(name)) << text;
        return file(name);
    }

  private:
    std::string path_;
};

const std::string key_a(64, 'a');
const std::string key_b = std::string(62, '0') + "1f";

std::string load_error(const std::string& path) {
    try {
        load_key_file(path);
    } catch (const key_file_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(KeyRing, RotationKeepsNewestAndUniqueIds) {
    key_ring ring;
    EXPECT_EQ(ring.current(), nullptr);
    std::vector<std::uint32_t> ids;
    for (std::uint64_t t = 1; t <= 10; ++t) {
        ring.rotate(1000 + t);
        ids.push_back(ring.current()->id);
        ASSERT_EQ(ring.count, std::min<std::size_t>(t, max_master_keys));
        EXPECT_EQ(ring.current()->created_unix_s, 1000 + t);
        std::set<std::uint32_t> unique;
        for (std::size_t i = 0; i < ring.count; ++i) {
            unique.insert(ring.keys[i].id);
        }
        EXPECT_EQ(unique.size(), ring.count);
    }
    // The ring holds the last max_master_keys ids, oldest first; older ones are gone.
    for (std::size_t i = 0; i < max_master_keys; ++i) {
        EXPECT_EQ(ring.keys[i].id, ids[ids.size() - max_master_keys + i]);
        EXPECT_EQ(ring.find(ring.keys[i].id), &ring.keys[i]);
    }
    for (std::size_t i = 0; i + max_master_keys < ids.size(); ++i) {
        EXPECT_EQ(ring.find(ids[i]), nullptr);
    }
}

TEST(KeyRing, AddReplacesSameId) {
    key_ring ring;
    ring.add(1, secret_of(1), 10);
    ring.add(2, secret_of(2), 20);
    ring.add(1, secret_of(3), 30);
    ASSERT_EQ(ring.count, 2);
    EXPECT_EQ(ring.keys[0].id, 2u);
    EXPECT_EQ(ring.current()->id, 1u);
    EXPECT_EQ(ring.current()->secret, secret_of(3));
}

TEST(Cookie, RoundTrip) {
    key_ring ring;
    ring.rotate(1);
    const session_keys s = sample_keys();
    const auto c = cookie_under(*ring.current(), s);
    const auto back = open_cookie(ring, c);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->aead, aead_aes_siv_cmac_256);
    EXPECT_EQ(back->c2s, s.c2s);
    EXPECT_EQ(back->s2c, s.s2c);
    // The key id leads, big endian.
    const std::uint32_t id = ring.current()->id;
    EXPECT_EQ(c[0], id >> 24);
    EXPECT_EQ(c[3], id & 0xff);
}

TEST(Cookie, OlderKeysOpenUntilRotatedOut) {
    key_ring ring;
    ring.rotate(1);
    const auto c = cookie_under(*ring.current(), sample_keys());
    for (std::size_t i = 1; i < max_master_keys; ++i) {
        ring.rotate(1 + i);
        EXPECT_TRUE(open_cookie(ring, c).has_value()) << "after " << i << " rotations";
    }
    ring.rotate(100);
    EXPECT_FALSE(open_cookie(ring, c).has_value());
}

TEST(Cookie, TamperedFails) {
    key_ring ring;
    ring.rotate(1);
    const auto c = cookie_under(*ring.current(), sample_keys());
    for (std::size_t i = 0; i < c.size(); ++i) {
        auto bad = c;
        bad[i] ^= 0x20;
        EXPECT_FALSE(open_cookie(ring, bad).has_value()) << "byte " << i;
    }
}

TEST(Cookie, WrongLengthFails) {
    key_ring ring;
    ring.rotate(1);
    const auto c = cookie_under(*ring.current(), sample_keys());
    EXPECT_FALSE(open_cookie(ring, bytes_view(c.data(), c.size() - 1)).has_value());
    std::vector<std::uint8_t> longer(c.begin(), c.end());
    longer.push_back(0);
    EXPECT_FALSE(open_cookie(ring, longer).has_value());
    EXPECT_FALSE(open_cookie(ring, {}).has_value());
}

TEST(Cookie, WrongAeadRejected) {
    key_ring ring;
    ring.rotate(1);
    const master_key& key = *ring.current();
    // A well-sealed cookie whose plaintext names AEAD 16 (AES-SIV-CMAC-384): authentic, but
    // not one we serve.
    session_keys s = sample_keys();
    s.aead = 16;
    const auto c = cookie_under(key, s);
    EXPECT_FALSE(open_cookie(ring, c).has_value());
    // The same crafted by hand: id || nonce || seal(P with AEAD id 0x000f -> 0x0100).
    std::array<std::uint8_t, cookie_length> hand{};
    hand[0] = static_cast<std::uint8_t>(key.id >> 24);
    hand[1] = static_cast<std::uint8_t>(key.id >> 16);
    hand[2] = static_cast<std::uint8_t>(key.id >> 8);
    hand[3] = static_cast<std::uint8_t>(key.id);
    std::uint8_t plain[cookie_plaintext_length] = {0x01, 0x00};
    key.siv.seal(bytes_view(hand.data(), 4), bytes_view(hand.data() + 4, 16), plain,
                 hand.data() + 20);
    EXPECT_FALSE(open_cookie(ring, hand).has_value());
    plain[0] = 0;
    plain[1] = 15;
    key.siv.seal(bytes_view(hand.data(), 4), bytes_view(hand.data() + 4, 16), plain,
                 hand.data() + 20);
    EXPECT_TRUE(open_cookie(ring, hand).has_value());  // the craft itself is right
}

TEST(Cookie, UnknownKeyIdFails) {
    key_ring a, b;
    a.rotate(1);
    b.add(a.current()->id ^ 1, a.current()->secret, 1);  // same secret, other id
    const auto c = cookie_under(*a.current(), sample_keys());
    EXPECT_FALSE(open_cookie(b, c).has_value());
}

TEST(KeyFile, SaveLoadRoundTrip) {
    temp_dir dir;
    key_ring ring;
    for (int i = 0; i < 6; ++i) {
        ring.rotate(1700000000 + i);
    }
    const std::string path = dir.file("keys");
    save_key_file(path, ring);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);

    const key_ring back = load_key_file(path);
    ASSERT_EQ(back.count, ring.count);
    for (std::size_t i = 0; i < ring.count; ++i) {
        EXPECT_EQ(back.keys[i].id, ring.keys[i].id);
        EXPECT_EQ(back.keys[i].secret, ring.keys[i].secret);
        EXPECT_EQ(back.keys[i].created_unix_s, ring.keys[i].created_unix_s);
    }
    // A cookie of one opens with the other: the expanded keys agree.
    const auto c = cookie_under(*ring.current(), sample_keys());
    EXPECT_TRUE(open_cookie(back, c).has_value());

    // Saving again replaces the file (and fixes a too-open leftover PATH.tmp's mode).
    std::ofstream(path + ".tmp") << "junk";
    ::chmod((path + ".tmp").c_str(), 0644);
    ring.rotate(1800000000);
    save_key_file(path, ring);
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(load_key_file(path).current()->id, ring.current()->id);
}

TEST(KeyFile, CommentsBlanksAndCase) {
    temp_dir dir;
    const std::string path = dir.write("keys",
                                       "# fleet keys\n\n   # indented comment\n"
                                       "0000000A " +
                                           key_a +
                                           " 5\r\n"
                                           "\t0000000b\t" +
                                           key_b + "\t6");
    const key_ring ring = load_key_file(path);
    ASSERT_EQ(ring.count, 2);
    EXPECT_EQ(ring.keys[0].id, 10u);
    EXPECT_EQ(ring.keys[0].secret, secret_of(0xaa));
    EXPECT_EQ(ring.current()->id, 11u);
    EXPECT_EQ(ring.current()->secret[31], 0x1f);
    EXPECT_EQ(ring.current()->created_unix_s, 6u);
}

TEST(KeyFile, TooManyKeepsNewest) {
    temp_dir dir;
    std::string text;
    for (std::size_t i = 1; i <= max_master_keys + 2; ++i) {
        char id[9];
        std::snprintf(id, sizeof id, "%08zx", i);
        text += std::string(id) + " " + key_a + " " + std::to_string(i) + "\n";
    }
    const key_ring ring = load_key_file(dir.write("keys", text));
    ASSERT_EQ(ring.count, max_master_keys);
    EXPECT_EQ(ring.keys[0].id, 3u);
    EXPECT_EQ(ring.current()->id, max_master_keys + 2);
}

TEST(KeyFile, Errors) {
    temp_dir dir;
    const std::string ok = "00000001 " + key_a + " 1\n";
    struct {
        std::string text;
        std::string error;  // after "PATH:"
    } cases[] = {
        {"", " no keys"},
        {"# only a comment\n\n", " no keys"},
        {ok + "0000000g " + key_a + " 2\n", "2: key id: bad hex digit 'g'"},
        {ok + "00000002 " + key_a.substr(0, 63) + "x 2\n", "2: key: bad hex digit 'x'"},
        {ok + "\n00000002 " + key_a + "00 2\n", "3: key: expected 64 hex digits, got 66"},
        {ok + "0002 " + key_a + " 2\n", "2: key id: expected 8 hex digits, got 4"},
        {ok + "00000002 " + key_a + " soon\n", "2: created: expected unix seconds, got 'soon'"},
        {ok + "00000002 " + key_a + " -1\n", "2: created: expected unix seconds, got '-1'"},
        {ok + "00000002 " + key_a + "\n", "2: expected <key id> <key> <created>, got 2 fields"},
        {ok + "00000002\n", "2: expected <key id> <key> <created>, got 1 field"},
        {ok + "00000002 " + key_a + " 2 extra\n", "2: unexpected text after the created time"},
        {"# c\n" + ok + "00000001 " + key_b + " 2\n", "3: duplicate key id 00000001 (line 2)"},
    };
    for (const auto& c : cases) {
        const std::string path = dir.write("keys", c.text);
        EXPECT_EQ(load_error(path), path + ":" + c.error) << c.text;
    }
    EXPECT_EQ(load_error(dir.file("absent")), dir.file("absent") + ": No such file or directory");
}

TEST(KeyFile, SaveErrorNamesTheFile) {
    key_ring ring;
    ring.rotate(1);
    try {
        save_key_file("/nonexistent-dir/keys", ring);
        FAIL() << "no error";
    } catch (const key_file_error& e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent-dir/keys.tmp: No such file or directory");
    }
}

TEST(KeyStore, PublishReadVersion) {
    key_store store;
    EXPECT_EQ(store.version(), 0u);
    EXPECT_EQ(store.read().count, 0);
    key_ring ring;
    ring.rotate(1);
    ring.rotate(2);
    store.publish(ring);
    EXPECT_EQ(store.version(), 1u);
    const key_ring copy = store.read();
    ASSERT_EQ(copy.count, 2);
    EXPECT_EQ(copy.current()->id, ring.current()->id);
    // The copy works on its own: its expanded keys open the original's cookies.
    const auto c = cookie_under(*ring.current(), sample_keys());
    EXPECT_TRUE(open_cookie(copy, c).has_value());
    ring.rotate(3);
    store.publish(ring);
    EXPECT_EQ(store.version(), 2u);
    EXPECT_EQ(store.read().count, 3);
}

TEST(KeyStore, ReadersNeverSeeATornRing) {
    // The writer publishes rings whose every byte (padding included) is the low byte of a
    // counter; a torn read would mix two counters.
    static key_store store;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> reads{0}, torn{0};
    auto pattern = [](std::uint8_t b) {
        key_ring r;
        std::memset(static_cast<void*>(&r), b, sizeof r);
        return r;
    };
    store.publish(pattern(1));
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
        readers.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                const key_ring r = store.read();
                const auto* p = reinterpret_cast<const std::uint8_t*>(&r);
                for (std::size_t i = 1; i < sizeof r; ++i) {
                    if (p[i] != p[0]) {
                        torn.fetch_add(1, std::memory_order_relaxed);
                        break;
                    }
                }
                reads.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    std::uint64_t published = 1;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < until || reads.load() < 1000) {
        store.publish(pattern(static_cast<std::uint8_t>(++published)));
    }
    stop = true;
    for (auto& t : readers) {
        t.join();
    }
    EXPECT_EQ(torn.load(), 0u) << reads.load() << " reads, " << published << " publishes";
    EXPECT_EQ(store.version(), published);
    EXPECT_GT(reads.load(), 0u);
}
