// parse_snmp against the general walk (snmp_detail::parse_snmp_walk, the parser the fast decodes
// replaced, shipped unchanged as their fallback), field by field:
// on every UDP/161 and UDP/162 payload of the shared captures and of the traffic generator's
// mix, on those messages re-encoded with long-form lengths, and on every one of them bent (each
// byte set to values around the decoders' limits, cut at every length). The fast decodes may
// take any shortcut, but never a different result: same status and reason, same fields, spans
// pointing at the same bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ports/parsers/layers.hpp"
#include "ports/parsers/snmp.hpp"
#include "shared_captures.hpp"
#include "test_util.hpp"
#include "trafficgen.hpp"

namespace {

using namespace ports::parsers;
using namespace ptest;

// The first field that differs, or empty when the views are the same.
std::string difference(const snmp_view& a, const snmp_view& b) {
    const auto same_span = [](byte_span x, byte_span y) {
        return x.size() == y.size() && (x.empty() || x.data() == y.data());
    };
    if (a.st != b.st) {
        return std::string("status ") + to_string(a.st) + " vs " + to_string(b.st);
    }
    if (a.version != b.version) {
        return "version";
    }
    if (!same_span(a.community, b.community)) {
        return "community";
    }
    if (a.pdu_type != b.pdu_type) {
        return "pdu_type";
    }
    if (a.request_id != b.request_id || a.has_request_id != b.has_request_id) {
        return "request_id";
    }
    if (a.msg_id != b.msg_id) {
        return "msg_id";
    }
    if (a.msg_flags != b.msg_flags) {
        return "msg_flags";
    }
    if (a.security_model != b.security_model) {
        return "security_model";
    }
    if (!same_span(a.user_name, b.user_name)) {
        return "user_name";
    }
    if (!same_span(a.context_name, b.context_name)) {
        return "context_name";
    }
    if (a.encrypted != b.encrypted) {
        return "encrypted";
    }
    return {};
}

std::string hex(byte_span m) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (const std::uint8_t b : m) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

// Compares every entry point with the reference on one buffer; counts and keeps the first
// few differences so that one run reports them all at once.
struct differential {
    std::size_t compared = 0;
    std::size_t ok = 0;
    std::size_t v1_v2c_claimed = 0;
    std::size_t v3_claimed = 0;
    std::vector<std::string> failures;

    void check(byte_span m) {
        ++compared;
        const snmp_view want = snmp_detail::parse_snmp_walk(m);
        ok += want.st == status::ok ? 1 : 0;
        const auto fail = [&](const char* what, const std::string& d) {
            if (failures.size() < 20) {
                failures.push_back(std::string(what) + ": " + d + " on " + hex(m));
            }
        };
        if (const std::string d = difference(parse_snmp(m), want); !d.empty()) {
            fail("parse_snmp", d);
        }
        if (const std::string d = difference(snmp_detail::parse_snmp_general(m), want);
            !d.empty()) {
            fail("parse_snmp_general", d);
        }
        if (const auto fast = parse_snmp_v1_v2c(m)) {
            ++v1_v2c_claimed;
            if (const std::string d = difference(*fast, want); !d.empty()) {
                fail("parse_snmp_v1_v2c", d);
            }
        }
        if (const auto fast = snmp_detail::parse_snmp_v3(m)) {
            ++v3_claimed;
            if (const std::string d = difference(*fast, want); !d.empty()) {
                fail("parse_snmp_v3", d);
            }
        }
    }

    // The message as it is, cut at every length (each cut in a buffer of its own size, so
    // that AddressSanitizer sees a read past it), and every byte set to each of `values` and
    // to its neighbours.
    void bend(const bytes& m) {
        static const std::uint8_t values[] = {
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0c, 0x10, 0x20, 0x30,
            0x31, 0x40, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x9f, 0xa0, 0xa1,
            0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xc0, 0xfe, 0xff};
        for (std::size_t n = 0; n <= m.size(); ++n) {
            const exact_copy c(m, n);
            check(c.span());
        }
        const exact_copy c(m, m.size());
        auto* p = const_cast<std::uint8_t*>(c.span().data());
        for (std::size_t i = 0; i < m.size(); ++i) {
            const std::uint8_t original = p[i];
            for (const std::uint8_t v : values) {
                if (v != original) {
                    p[i] = v;
                    check(c.span());
                }
            }
            for (const int delta : {-1, 1}) {
                p[i] = static_cast<std::uint8_t>(original + delta);
                check(c.span());
            }
            p[i] = original;
        }
    }

    void expect_none() const {
        EXPECT_TRUE(failures.empty()) << failures.size() << " differences, first ones:\n"
                                      << [&] {
                                             std::string s;
                                             for (const auto& f : failures) {
                                                 s += f + "\n";
                                             }
                                             return s;
                                         }();
    }
};

// UDP payloads to or from port 161 or 162 of a list of frames (the outer UDP header only).
void snmp_payloads(const std::vector<bytes>& frames, std::vector<bytes>& out) {
    for (const bytes& f : frames) {
        const byte_span s(f.data(), f.size());
        const layers l = parse_ethernet(s);
        if (l.st != status::ok || l.l4_proto != ipproto_udp || l.later_fragment) {
            continue;
        }
        const udp_view u = parse_udp(s.subspan(l.l4_offset, l.l4_length));
        if (u.st == status::truncated) {
            continue;
        }
        const auto snmp_port = [](std::uint16_t p) { return p == 161 || p == 162; };
        if (snmp_port(u.src_port) || snmp_port(u.dst_port)) {
            out.emplace_back(u.payload.begin(), u.payload.end());
        }
    }
}

// Every Ethernet frame of the shared captures (PORTS_SHARED_DIR, set by meson), none when
// they are absent.
std::vector<bytes> shared_frames() {
    const char* dir = std::getenv("PORTS_SHARED_DIR");
    if (dir == nullptr) {
        return {};
    }
    return load_shared_captures(std::filesystem::path(dir) / "pcaps").frames;
}

// A message's shape for picking one representative of each: version, PDU or encryption, the
// forms of the outer lengths, the USM user's length and whether the message is valid.
std::string shape(const bytes& m) {
    const snmp_view v = snmp_detail::parse_snmp_walk(byte_span(m.data(), m.size()));
    std::string s = std::to_string(static_cast<int>(v.st)) + "/" + std::to_string(v.version) + "/" +
                    std::to_string(v.pdu_type) + "/" + (v.encrypted ? "e" : "") + "/" +
                    std::to_string(v.msg_flags) + "/" + std::to_string(v.user_name.size());
    s += m.size() > 1 ? "/" + std::to_string(m[1] < 0x80 ? 0 : m[1]) : "/-";
    return s;
}

// ---- BER re-encoding: the same message with chosen length forms ----

struct node {
    std::uint8_t tag = 0;
    bytes value;                 // leaves
    std::vector<node> children;  // constructed (and the v3 msgSecurityParameters wrapper)
    bool constructed = false;
};

bool decode(byte_span in, std::vector<node>& out, int depth);

// One TLV in any definite form; a SEQUENCE, a PDU, or an OCTET STRING that holds a SEQUENCE
// exactly (the v3 security parameters) is decoded into its children.
bool decode_one(byte_span& in, node& n, int depth) {
    if (in.size() < 2 || depth > 8) {
        return false;
    }
    n.tag = in[0];
    std::size_t header = 2;
    std::size_t length = in[1];
    if (in[1] >= 0x80) {
        const std::size_t octets = in[1] & 0x7f;
        if (octets == 0 || octets > 4 || in.size() < 2 + octets) {
            return false;
        }
        length = 0;
        for (std::size_t i = 0; i < octets; ++i) {
            length = (length << 8) | in[2 + i];
        }
        header += octets;
    }
    if (length > in.size() - header) {
        return false;
    }
    const byte_span value = in.subspan(header, length);
    in = in.subspan(header + length);
    const bool seq = n.tag == 0x30 || (n.tag >= 0xa0 && n.tag <= 0xa8);
    const bool wrapped = n.tag == 0x04 && !value.empty() && value[0] == 0x30;
    if (seq || wrapped) {
        std::vector<node> kids;
        if (decode(value, kids, depth + 1)) {
            n.constructed = true;
            n.children = std::move(kids);
            return true;
        }
    }
    n.value.assign(value.begin(), value.end());
    return true;
}

bool decode(byte_span in, std::vector<node>& out, int depth) {
    while (!in.empty()) {
        node n;
        if (!decode_one(in, n, depth)) {
            return false;
        }
        out.push_back(std::move(n));
    }
    return true;
}

std::size_t count_nodes(const node& n) {
    std::size_t c = 1;
    for (const node& k : n.children) {
        c += count_nodes(k);
    }
    return c;
}

// Encodes `n`, giving the TLV numbered `which` (pre-order) the long form with `octets` length
// octets (0x81..0x84; 0: shortest form everywhere), or every TLV that form when `all`.
bytes encode(const node& n, std::size_t& number, std::size_t which, std::size_t octets, bool all) {
    const std::size_t me = number++;
    bytes content;
    if (n.constructed) {
        for (const node& k : n.children) {
            const bytes b = encode(k, number, which, octets, all);
            content.insert(content.end(), b.begin(), b.end());
        }
    } else {
        content = n.value;
    }
    bytes out = {n.tag};
    const std::size_t len = content.size();
    std::size_t want = (all || me == which) ? octets : 0;
    if (want == 0) {
        want = len < 0x80 ? 0 : (len <= 0xff ? 1 : 2);
    }
    if (want == 1 && len > 0xff) {
        want = 2;  // one octet cannot hold this length
    }
    if (want == 0) {
        out.push_back(static_cast<std::uint8_t>(len));
    } else {
        out.push_back(static_cast<std::uint8_t>(0x80 | want));
        for (std::size_t i = want; i-- > 0;) {
            out.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
        }
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

// The TLV numbered `which` (pre-order) of the tree under `n`.
node* find(node& n, std::size_t& number, std::size_t which) {
    if (number++ == which) {
        return &n;
    }
    for (node& k : n.children) {
        if (node* f = find(k, number, which)) {
            return f;
        }
    }
    return nullptr;
}

// The message with each TLV in turn in each long form, then every TLV in each; and, with
// every length kept true, each TLV edited: a leaf one octet longer or shorter or with a
// leading 0x00 or 0xff (a non-minimal or out-of-range INTEGER, a longer string), a
// constructed one with a NULL more at its end (trailing data) or its last element dropped.
std::vector<bytes> reencodings(const bytes& m) {
    std::vector<bytes> out;
    byte_span in(m.data(), m.size());
    node root;
    if (!decode_one(in, root, 0) || !in.empty()) {
        return out;
    }
    const std::size_t nodes = count_nodes(root);
    for (std::size_t octets = 1; octets <= 4; ++octets) {
        for (std::size_t which = 0; which < nodes; ++which) {
            std::size_t number = 0;
            out.push_back(encode(root, number, which, octets, false));
        }
        std::size_t number = 0;
        out.push_back(encode(root, number, 0, octets, true));
    }
    for (std::size_t which = 0; which < nodes; ++which) {
        for (int edit = 0; edit < 4; ++edit) {
            node copy = root;
            std::size_t number = 0;
            node& n = *find(copy, number, which);
            if (n.constructed) {
                if (edit == 0) {
                    node null;
                    null.tag = 0x05;
                    n.children.push_back(null);
                } else if (edit == 1 && !n.children.empty()) {
                    n.children.pop_back();
                } else {
                    continue;
                }
            } else if (edit == 0) {
                n.value.push_back(0x00);
            } else if (edit == 1 && !n.value.empty()) {
                n.value.pop_back();
            } else if (edit >= 2) {
                n.value.insert(n.value.begin(), edit == 2 ? 0x00 : 0xff);
            } else {
                continue;
            }
            number = 0;
            out.push_back(encode(copy, number, nodes, 0, false));
        }
    }
    return out;
}

// Generated messages: the mix (valid and malformed), and the builders over a range of
// community, user and ciphertext sizes (short and long forms of every outer length).
std::vector<bytes> generated_payloads() {
    namespace gen = ports::gen;
    std::vector<bytes> frames;
    for (const std::uint64_t seed : {1u, 2u, 3u}) {
        for (auto& f : gen::make_mix({.count = 4000, .seed = seed, .malformed_share = 0.3})) {
            frames.push_back(std::move(f.bytes));
        }
    }
    std::vector<bytes> out;
    snmp_payloads(frames, out);
    for (const std::size_t n : {0u, 1u, 6u, 40u, 127u, 128u, 200u, 300u}) {
        const std::string name(n, 'u');
        out.push_back(gen::snmp_v1_get_request(name, 0x12345678));
        out.push_back(gen::snmp_v2c_get_bulk(name, -1, 0, 25));
        out.push_back(gen::snmp_v2c_response(name, 0));
        out.push_back(gen::snmp_v1_trap(name, {192, 0, 2, 1}, 1234));
        out.push_back(gen::snmp_v2c_inform(name, 128, 99));
        out.push_back(gen::snmp_v3_get_request(name.substr(0, 32), 0x7fffffff));
        const bytes cipher(n * 2, 0xa5);
        out.push_back(gen::snmp_v3_encrypted(name.substr(0, 32), -128, cipher));
    }
    return out;
}

// One of each shape, in first-seen order.
std::vector<bytes> one_per_shape(const std::vector<bytes>& all) {
    std::vector<bytes> out;
    std::set<std::string> seen;
    for (const bytes& m : all) {
        if (seen.insert(shape(m)).second) {
            out.push_back(m);
        }
    }
    return out;
}

TEST(SnmpDifferential, SharedCapturesAndEveryBendOfThem) {
    std::vector<bytes> payloads;
    snmp_payloads(shared_frames(), payloads);
    if (payloads.empty()) {
        GTEST_SKIP() << "no shared captures (../shared/pcaps beside the clone)";
    }
    // 600+ messages: each in full with every bend is a few million parses.
    differential d;
    for (const bytes& m : payloads) {
        d.bend(m);
    }
    d.expect_none();
    std::map<std::string, int> shapes;
    for (const bytes& m : payloads) {
        ++shapes[shape(m)];
    }
    EXPECT_GT(payloads.size(), 600u);
    EXPECT_GT(d.ok, payloads.size());
    // Every valid captured message is one of the usual encodings a fast decode takes.
    std::size_t valid = 0;
    std::size_t fast = 0;
    for (const bytes& m : payloads) {
        const byte_span s(m.data(), m.size());
        if (snmp_detail::parse_snmp_walk(s).st == status::ok) {
            ++valid;
            fast += parse_snmp_v1_v2c(s) || snmp_detail::parse_snmp_v3(s) ? 1 : 0;
        }
    }
    EXPECT_EQ(fast, valid);
    std::printf("%zu payloads, %zu shapes; %zu messages compared, %zu valid\n", payloads.size(),
                shapes.size(), d.compared, d.ok);
}

TEST(SnmpDifferential, GeneratedMessagesAndEveryBendOfThem) {
    const std::vector<bytes> payloads = generated_payloads();
    differential d;
    for (const bytes& m : one_per_shape(payloads)) {
        d.bend(m);
    }
    for (const bytes& m : payloads) {
        d.check(byte_span(m.data(), m.size()));
    }
    d.expect_none();
    EXPECT_GT(payloads.size(), 1000u);
    std::printf("%zu payloads; %zu messages compared, %zu valid\n", payloads.size(), d.compared,
                d.ok);
}

// Long forms where the encoders write short ones (each TLV in turn with one to four length
// octets, then all of them) and edits that keep every length true (see reencodings), each of
// those bent.
TEST(SnmpDifferential, LongFormsAndEditsAndEveryBendOfThem) {
    std::vector<bytes> bases;
    snmp_payloads(shared_frames(), bases);
    const std::vector<bytes> generated = generated_payloads();
    bases.insert(bases.end(), generated.begin(), generated.end());
    differential d;
    std::size_t variants = 0;
    for (const bytes& m : one_per_shape(bases)) {
        if (snmp_detail::parse_snmp_walk(byte_span(m.data(), m.size())).st != status::ok) {
            continue;
        }
        for (const bytes& r : reencodings(m)) {
            ++variants;
            d.check(byte_span(r.data(), r.size()));
            // Bend the headers only (the decoders read no further than the request-id).
            const exact_copy c(r, r.size());
            auto* p = const_cast<std::uint8_t*>(c.span().data());
            for (std::size_t i = 0; i < std::min<std::size_t>(r.size(), 200); ++i) {
                const std::uint8_t original = p[i];
                for (const std::uint8_t v :
                     {0x00, 0x01, 0x04, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff}) {
                    p[i] = v;
                    d.check(c.span());
                }
                for (const int delta : {-1, 1}) {
                    p[i] = static_cast<std::uint8_t>(original + delta);
                    d.check(c.span());
                }
                p[i] = original;
            }
            for (std::size_t n = 0; n < r.size(); ++n) {
                const exact_copy cut(r, n);
                d.check(cut.span());
            }
        }
    }
    d.expect_none();
    EXPECT_GT(variants, 1000u);
    std::printf("%zu re-encodings; %zu messages compared, %zu valid\n", variants, d.compared, d.ok);
}

// A parent whose length stops short of its last children while the octets after that end
// happen to read as what the decoder expects there: msgGlobalData of 5 octets (msgID and the
// first two octets of msgMaxSize), followed by msgMaxSize's value 04 12 30 10 and msgFlags'
// header, which read as msgSecurityParameters, a USM SEQUENCE and an engine ID; the model's
// octets then read as msgAuthoritativeEngineBoots, and the rest is a valid USM and encrypted
// msgData. The walk stops at msgMaxSize (bad_length); a decoder that checked only what it
// reads next would take the message. Random bends almost never build such a message, so it
// is written out here, then bent.
TEST(SnmpDifferential, ShortenedParentWhoseNextOctetsReadAsItsSuccessors) {
    const bytes m = {
        0x30, 0x22,                          // message, 34 octets
        0x02, 0x01, 0x03,                    // version 3
        0x30, 0x05,                          // msgGlobalData: 5 octets only
        0x02, 0x01, 0x05,                    // msgID 5
        0x02, 0x04, 0x04, 0x12, 0x30, 0x10,  // msgMaxSize, past msgGlobalData's end
        0x04, 0x01, 0xff,                    // msgFlags
        0x02, 0x01, 0x03,                    // msgSecurityModel
        0x02, 0x01, 0x07,                    // (as "time")
        0x04, 0x01, 0x75,                    // (as the user name "u")
        0x04, 0x00, 0x04, 0x00,              // (as auth and priv parameters)
        0x04, 0x02, 0xaa, 0xbb,              // (as msgData, encrypted)
    };
    ASSERT_EQ(snmp_detail::parse_snmp_walk(byte_span(m.data(), m.size())).st, status::bad_length);
    differential d;
    d.bend(m);
    d.expect_none();
}

// ---- Messages from the grammar, with lying lengths and tag-like contents ----

// Random SNMP messages built from the grammar (v1/v2c, v3 plain and encrypted), where every
// octet of content is drawn from tag and length values (so that a value can pass for the
// header a decoder expects next) and some lengths lie, some take a long form, some elements
// are missing or followed by others: the shapes single-octet bends of real messages do not
// reach, such as a shortened parent whose next octets happen to read as what follows it.
class grammar {
  public:
    explicit grammar(std::uint64_t seed) : x_(seed) {}

    bytes message() {
        const std::uint64_t kind = next() % 8;
        if (kind < 3) {
            return tlv(0x30, {integer_of({pick({0x00, 0x01, 0x01, 0x02, 0x03})}),
                              leaf(0x04, content(40)), pdu()});
        }
        // v3: msgGlobalData, msgSecurityParameters, msgData.
        const bool encrypted = kind >= 6;
        const std::uint8_t flags =
            encrypted ? pick({0x03, 0x07, 0x02, 0x05}) : pick({0x00, 0x01, 0x04, 0x05, 0x07, 0x03});
        bytes global = tlv(0x30, {integer_of(small()), integer_of(small()),
                                  leaf(0x04, chance(12) ? content(2) : bytes{flags}),
                                  integer_of(chance(10) ? small() : bytes{0x03})});
        bytes usm =
            tlv(0x30, {leaf(0x04, content(20)), integer_of(small()), integer_of(small()),
                       leaf(0x04, content(20)), leaf(0x04, content(24)), leaf(0x04, content(10))});
        // Tags drawn before the contents: the order arguments are evaluated in is unspecified.
        const std::uint8_t data_tag =
            encrypted ? (chance(8) ? 0x30 : 0x04) : (chance(10) ? 0x04 : 0x30);
        bytes data = encrypted
                         ? leaf(data_tag, content(60))
                         : tlv(data_tag, {leaf(0x04, content(12)), leaf(0x04, content(8)), pdu()});
        return tlv(
            0x30, {integer_of(chance(12) ? small() : bytes{0x03}), global, tlv(0x04, {usm}), data});
    }

  private:
    std::uint64_t x_;

    std::uint64_t next() {
        // splitmix64: deterministic everywhere.
        std::uint64_t z = (x_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    bool chance(unsigned one_in) { return next() % one_in == 0; }
    std::uint8_t pick(std::initializer_list<std::uint8_t> from) {
        return *(from.begin() + next() % from.size());
    }
    // Octets that read as tags, short and long length forms, small lengths.
    std::uint8_t octet() {
        return pick({0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x30, 0x7f, 0x80, 0x81, 0x82, 0xa0,
                     0xa2, 0xa4, 0xa7, 0xa8, 0xff});
    }
    bytes content(std::size_t max) {
        bytes b(next() % (max + 1));
        for (std::uint8_t& o : b) {
            o = octet();
        }
        return b;
    }
    bytes small() {
        // 1..4 octets mostly, sometimes 0 or 5 (INTEGERs the walk rejects)
        bytes b(chance(10) ? (chance(2) ? 0 : 5) : 1 + next() % 4);
        for (std::uint8_t& o : b) {
            o = octet();
        }
        return b;
    }
    bytes integer_of(const bytes& v) { return leaf(0x02, v); }
    bytes pdu() {
        const std::uint8_t type =
            pick({0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0x30});
        if (type == 0xa4 && chance(2)) {
            return tlv(type, {leaf(0x06, content(8)), leaf(0x40, content(4)), integer_of(small())});
        }
        return tlv(type, {integer_of(small()), integer_of(small()), integer_of(small()),
                          leaf(0x30, content(16))});
    }
    bytes leaf(std::uint8_t tag, const bytes& value) { return tlv(tag, {value}); }
    // The elements (one sometimes dropped, one sometimes added after them), under a length
    // that is mostly true, in the shortest form mostly.
    bytes tlv(std::uint8_t tag, std::initializer_list<bytes> parts) {
        bytes value;
        const std::size_t drop = chance(60) ? next() % parts.size() : parts.size();
        std::size_t i = 0;
        for (const bytes& part : parts) {
            if (i++ != drop) {
                value.insert(value.end(), part.begin(), part.end());
            }
        }
        if (chance(60)) {
            const std::uint8_t tag = octet();  // before content(): argument order is unspecified
            const bytes extra = leaf(tag, content(4));
            value.insert(value.end(), extra.begin(), extra.end());
        }
        std::size_t length = value.size();
        if (chance(40)) {
            length = chance(2) ? length + (next() % 5) - 2 : next() % 9;  // a lie
        }
        bytes out = {tag};
        const std::uint64_t form = next() % 32;
        if (length < 0x80 && form < 30) {
            out.push_back(static_cast<std::uint8_t>(length));
        } else {
            const std::size_t octets = form < 31 ? (length <= 0xff ? 1 : 2) : 1 + next() % 4;
            out.push_back(static_cast<std::uint8_t>(0x80 | octets));
            for (std::size_t k = octets; k-- > 0;) {
                out.push_back(
                    static_cast<std::uint8_t>(k >= sizeof(length) ? 0 : length >> (8 * k)));
            }
        }
        out.insert(out.end(), value.begin(), value.end());
        return out;
    }
};

TEST(SnmpDifferential, GrammarMessagesWithLyingLengths) {
    grammar g(20261203);
    differential d;
    for (int i = 0; i < 1000000; ++i) {
        bytes m = g.message();
        if (i % 16 == 0 && !m.empty()) {
            m.resize(m.size() - 1 -
                     (static_cast<std::size_t>(i) / 16) % std::min<std::size_t>(m.size(), 8));
        }
        const exact_copy c(m, m.size());
        d.check(c.span());
    }
    d.expect_none();
    // Enough of them valid, and the fast decodes claim many.
    EXPECT_GT(d.ok, 200000u);
    EXPECT_GT(d.v1_v2c_claimed, 100000u);
    EXPECT_GT(d.v3_claimed, 20000u);
    std::printf(
        "%zu messages compared, %zu valid, claimed: %zu by the v1/v2c decode, %zu by the v3 one\n",
        d.compared, d.ok, d.v1_v2c_claimed, d.v3_claimed);
}

}  // namespace
