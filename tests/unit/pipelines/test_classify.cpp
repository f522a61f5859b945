// The classification rule, one behaviour per test, on frames built byte by byte.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "ports/pipelines/classify.hpp"
#include "trafficgen.hpp"

using namespace ports;
using pipelines::classify_frame;
using pipelines::counter;
using pipelines::traffic_class;

namespace {

using bytes = std::vector<std::uint8_t>;

void put16(bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

bytes ethernet(std::uint16_t ethertype) {
    bytes b = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x66, 0x77, 0x88, 0x99, 0xaa, 0, 0};
    put16(b, 12, ethertype);
    return b;
}

// IPv4 header (no options) for `payload_len` bytes of `proto`; checksum left zero (the parser
// does not verify it: NICs and veths deliver unfinished ones).
bytes ipv4(std::uint8_t proto, std::size_t payload_len, std::uint16_t frag = 0) {
    bytes b = {0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
    put16(b, 2, static_cast<std::uint16_t>(20 + payload_len));
    put16(b, 6, frag);
    return b;
}

bytes ipv6(std::uint8_t next, std::size_t payload_len) {
    bytes b(40, 0);
    b[0] = 0x60;
    put16(b, 4, static_cast<std::uint16_t>(payload_len));
    b[6] = next;
    b[7] = 64;
    b[8] = 0x20;
    b[9] = 0x01;
    b[10] = 0x0d;
    b[11] = 0xb8;
    b[39] = 1;
    b[24] = 0x20;
    b[25] = 0x01;
    b[26] = 0x0d;
    b[27] = 0xb8;
    b[23] = 2;
    return b;
}

bytes udp(std::uint16_t src, std::uint16_t dst, const bytes& payload) {
    bytes b(8, 0);
    put16(b, 0, src);
    put16(b, 2, dst);
    put16(b, 4, static_cast<std::uint16_t>(8 + payload.size()));
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

bytes tcp(std::uint16_t src, std::uint16_t dst, const bytes& payload) {
    bytes b(20, 0);
    put16(b, 0, src);
    put16(b, 2, dst);
    b[12] = 0x50;
    b[13] = 0x18;
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

bytes udp4_frame(std::uint16_t src, std::uint16_t dst, const bytes& payload) {
    const bytes l4 = udp(src, dst, payload);
    return cat({ethernet(0x0800), ipv4(17, l4.size()), l4});
}

bytes tcp4_frame(std::uint16_t src, std::uint16_t dst, const bytes& payload) {
    const bytes l4 = tcp(src, dst, payload);
    return cat({ethernet(0x0800), ipv4(6, l4.size()), l4});
}

// RFC 5905 client request: LI 0, VN 4, mode 3, transmit timestamp set.
bytes ntp_client() {
    bytes b(48, 0);
    b[0] = 0x23;
    b[2] = 6;
    b[3] = 0xe9;
    for (int i = 40; i < 48; ++i) {
        b[i] = static_cast<std::uint8_t>(i);
    }
    return b;
}

// RFC 4330 SNTP request: all zero but the first octet and the transmit timestamp.
bytes sntp_request() {
    bytes b(48, 0);
    b[0] = 0x1b;
    b[40] = 0xe9;
    b[47] = 1;
    return b;
}

// SNMPv2c GetRequest, community "public", request-id 1, one varbind sysDescr.0 NULL.
bytes snmp_v2c_get() {
    return {0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',  'l',  'i',  'c',  0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00};
}

bool has_detail(const pipelines::classification& r, counter c) {
    for (std::uint8_t i = 0; i < r.detail_count; ++i) {
        if (r.detail[i] == pipelines::index_of(c)) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST(Classify, NtpClientToPort123IsValidNtp) {
    const auto r = classify_frame(udp4_frame(40000, 123, ntp_client()));
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::ntp_mode_client));
    EXPECT_FALSE(has_detail(r, counter::ntp_sntp_requests));
}

TEST(Classify, SntpRequestIsCountedAsSntp) {
    const auto r = classify_frame(udp4_frame(40000, 123, sntp_request()));
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_TRUE(has_detail(r, counter::ntp_sntp_requests));
}

TEST(Classify, SourcePortDecidesWhenDestinationIsNotAService) {
    const auto r = classify_frame(udp4_frame(123, 80, ntp_client()));
    EXPECT_EQ(r.cls, traffic_class::ntp);
}

TEST(Classify, DestinationServicePortWinsOverSource) {
    const auto r = classify_frame(udp4_frame(123, 161, snmp_v2c_get()));
    EXPECT_EQ(r.cls, traffic_class::snmp);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::snmp_version_2c));
    EXPECT_TRUE(has_detail(r, counter::snmp_pdu_get));
}

TEST(Classify, TruncatedNtpIsNtpMalformed) {
    bytes payload = ntp_client();
    payload.resize(20);
    const auto r = classify_frame(udp4_frame(40000, 123, payload));
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_TRUE(r.malformed);
    EXPECT_EQ(r.detail_count, 0);
}

TEST(Classify, Port162IsSnmpTrapWithItsOwnCounters) {
    const auto r = classify_frame(udp4_frame(40000, 162, snmp_v2c_get()));
    EXPECT_EQ(r.cls, traffic_class::snmp_trap);
    EXPECT_TRUE(has_detail(r, counter::snmp_trap_version_2c));
    EXPECT_FALSE(has_detail(r, counter::snmp_version_2c));
}

TEST(Classify, Tcp123IsOther) {
    EXPECT_EQ(classify_frame(tcp4_frame(40000, 123, {})).cls, traffic_class::other);
}

TEST(Classify, Udp1723IsOther) {
    EXPECT_EQ(classify_frame(udp4_frame(40000, 1723, {1, 2, 3})).cls, traffic_class::other);
}

TEST(Classify, Tcp1723WithoutPayloadIsValidPptp) {
    const auto r = classify_frame(tcp4_frame(40000, 1723, {}));
    EXPECT_EQ(r.cls, traffic_class::pptp);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::pptp_tcp_no_payload));
}

TEST(Classify, Tcp1701IsL2tp) {
    const auto r = classify_frame(tcp4_frame(40000, 1701, {}));
    EXPECT_EQ(r.cls, traffic_class::l2tp);
    EXPECT_TRUE(has_detail(r, counter::l2tp_over_tcp));
}

TEST(Classify, PptpWithWrongMagicIsMalformed) {
    bytes msg(16, 0);
    put16(msg, 0, 16);
    put16(msg, 2, 1);
    msg[4] = 0xde;  // magic must be 1A 2B 3C 4D
    put16(msg, 8, 5);
    const auto r = classify_frame(tcp4_frame(40000, 1723, msg));
    EXPECT_EQ(r.cls, traffic_class::pptp);
    EXPECT_TRUE(r.malformed);
}

TEST(Classify, GreWinsOverInnerNtp) {
    const bytes inner_udp = udp(40000, 123, ntp_client());
    const bytes inner = cat({ipv4(17, inner_udp.size()), inner_udp});
    const bytes gre = cat({{0x00, 0x00, 0x08, 0x00}, inner});
    const auto r = classify_frame(cat({ethernet(0x0800), ipv4(47, gre.size()), gre}));
    EXPECT_EQ(r.cls, traffic_class::gre);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::gre_version_0));
    EXPECT_TRUE(has_detail(r, counter::gre_inner_ipv4));
}

TEST(Classify, LaterFragmentIsNeverReadAsTransport) {
    // Offset 185 * 8 bytes: the bytes where UDP would be are the middle of a datagram that
    // happen to read as ports 40000 -> 123.
    const bytes l4 = udp(40000, 123, ntp_client());
    const auto r = classify_frame(cat({ethernet(0x0800), ipv4(17, l4.size(), 185), l4}));
    EXPECT_EQ(r.cls, traffic_class::other);
    EXPECT_TRUE(has_detail(r, counter::other_later_fragment));
}

TEST(Classify, FirstFragmentIsCountedByPortAsFragment) {
    bytes payload = ntp_client();
    bytes l4 = udp(40000, 123, payload);
    put16(l4, 4, 1400);  // the whole datagram's length
    const auto r = classify_frame(cat({ethernet(0x0800), ipv4(17, l4.size(), 0x2000), l4}));
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_TRUE(r.fragment);
    EXPECT_FALSE(r.malformed);
}

TEST(Classify, ArpIsOther) {
    bytes f = ethernet(0x0806);
    f.resize(60, 0);
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::other);
    EXPECT_TRUE(has_detail(r, counter::other_arp));
}

TEST(Classify, QinQIpv6NtpIsNtp) {
    bytes f = ethernet(0x88a8);
    const bytes tags = {0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x86, 0xdd};
    const bytes l4 = udp(40000, 123, ntp_client());
    f = cat({f, tags, ipv6(17, l4.size()), l4});
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_FALSE(r.malformed);
}

TEST(Classify, PppoeSessionIsLookedThrough) {
    // PPPoE session header: ver/type 0x11, code 0, session 0x1234, length, PPP proto 0x0021.
    const bytes l4 = udp(1701, 1701, {0x00, 0x02, 0x00, 0x01, 0x00, 0x01});
    const bytes ip = ipv4(17, l4.size());
    bytes pppoe = {0x11, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x21};
    put16(pppoe, 4, static_cast<std::uint16_t>(2 + ip.size() + l4.size()));
    const auto r = classify_frame(cat({ethernet(0x8864), pppoe, ip, l4}));
    EXPECT_EQ(r.cls, traffic_class::l2tp);
    EXPECT_FALSE(r.malformed);
}

TEST(Classify, PppoeWithoutIpIsOther) {
    bytes f = cat({ethernet(0x8864), {0x11, 0x00, 0x12, 0x34, 0x00, 0x06, 0xc0, 0x21}});
    f.resize(60, 0);  // LCP (0xC021), padded
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::other);
    EXPECT_FALSE(r.malformed);
}

TEST(Classify, EthernetPaddingIsNotPayload) {
    // A 20-byte SNTP payload would be malformed; here UDP carries 48 bytes and the frame has
    // 10 bytes of trailing padding that must not be read as a MAC or extension.
    bytes f = udp4_frame(40000, 123, sntp_request());
    f.resize(f.size() + 10, 0);
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_FALSE(r.malformed);
}

TEST(Classify, BrokenIpHeaderIsOtherMalformed) {
    bytes f = udp4_frame(40000, 123, ntp_client());
    f[14] = 0x43;  // IHL 3 (< 5)
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::other);
    EXPECT_TRUE(r.malformed);
}

TEST(Count, BumpsClassBytesMalformedAndDetails) {
    pipelines::core_counters c;
    pipelines::count(c, classify_frame(udp4_frame(40000, 123, ntp_client())), 90);
    bytes bad = ntp_client();
    bad.resize(10);
    pipelines::count(c, classify_frame(udp4_frame(40000, 123, bad)), 60);
    pipelines::counter_snapshot s;
    s.accumulate(c);
    EXPECT_EQ(s.packets(traffic_class::ntp), 2u);
    EXPECT_EQ(s.bytes(traffic_class::ntp), 150u);
    EXPECT_EQ(s.get(counter::ntp_malformed), 1u);
    EXPECT_EQ(s.get(counter::ntp_mode_client), 1u);
    EXPECT_EQ(s.total_packets(), 2u);
}

TEST(Counters, NamesAreUniqueWithinAClass) {
    for (std::size_t i = 0; i < pipelines::counter_count; ++i) {
        for (std::size_t j = i + 1; j < pipelines::counter_count; ++j) {
            EXPECT_FALSE(pipelines::counter_defs[i].cls == pipelines::counter_defs[j].cls &&
                         pipelines::counter_defs[i].key == pipelines::counter_defs[j].key)
                << pipelines::counter_defs[i].key;
        }
    }
    EXPECT_EQ(alignof(pipelines::core_counters), 64u);
}

// classify_and_count (the workers' fused walk with counting_sink, and its untagged-IPv4 fast
// path) must bump exactly the counters count(classify_frame(...)) bumps, on any input.
namespace {

struct fused_vs_reference {
    pipelines::core_counters fused;
    pipelines::core_counters reference;
    std::size_t frames = 0;

    // Per frame, not only in the sum: a difference on one frame cannot hide behind another.
    void check(const bytes& f) {
        const parsers::byte_span frame(f.data(), f.size());
        const auto len = static_cast<std::uint32_t>(f.size());
        pipelines::core_counters one_fused;
        pipelines::core_counters one_reference;
        pipelines::classify_and_count(one_fused, frame, len);
        pipelines::count(one_reference, classify_frame(frame), len);
        ASSERT_EQ(one_fused.values, one_reference.values) << "frame " << frames;
        pipelines::classify_and_count(fused, frame, len);
        pipelines::count(reference, classify_frame(frame), len);
        ++frames;
    }
};

// splitmix64, as the generator does: deterministic everywhere.
struct rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

}  // namespace

TEST(ClassifyAndCount, MatchesCountOfClassifyFrameOnTheGeneratorMix) {
    fused_vs_reference cmp;
    for (const auto& f : gen::make_mix({.count = 20000, .seed = 11, .malformed_share = 0.2})) {
        cmp.check(f.bytes);
    }
    EXPECT_EQ(cmp.fused.values, cmp.reference.values);
    EXPECT_EQ(cmp.frames, 20000u);
}

TEST(ClassifyAndCount, MatchesCountOfClassifyFrameOnMutatedFrames) {
    // Every header byte the walk reads, bent: flips, truncations, and the header fields the
    // fast path tests set to the values around its limits.
    fused_vs_reference cmp;
    rng r{42};
    const auto mix = gen::make_mix({.count = 2000, .seed = 5, .malformed_share = 0.1});
    const std::uint8_t interesting[] = {0x00, 0x01, 0x05, 0x06, 0x08, 0x11, 0x13, 0x14, 0x2f,
                                        0x3f, 0x40, 0x45, 0x46, 0x4f, 0x50, 0x7b, 0x80, 0x86,
                                        0xa1, 0xa2, 0xa5, 0xbb, 0xdd, 0xff};
    for (const auto& g : mix) {
        const bytes& base = g.bytes;
        cmp.check(base);
        for (int m = 0; m < 24; ++m) {
            bytes f = base;
            const std::uint64_t x = r.next();
            // Mostly the first 64 bytes: Ethernet, IPv4/IPv6 and transport headers.
            const std::size_t span = std::min<std::size_t>(f.size(), (x & 3) == 0 ? f.size() : 64);
            if (span == 0) {
                continue;
            }
            switch ((x >> 2) % 5) {
                case 0: f[(x >> 8) % span] ^= static_cast<std::uint8_t>(1u << ((x >> 40) % 8)); break;
                case 1: f[(x >> 8) % span] = interesting[(x >> 40) % std::size(interesting)]; break;
                case 2: f.resize((x >> 8) % (f.size() + 1)); break;
                case 3: {
                    // IPv4 total length or fragment field (untagged frames), near the limits.
                    const std::size_t at = (x & 0x100) ? 16 : 20;
                    if (f.size() >= at + 2) {
                        const auto v = static_cast<std::uint16_t>(
                            (x & 0x200) ? (f.size() - 14 + ((x >> 16) % 5) - 2) : (x >> 16));
                        put16(f, at, v);
                    }
                    break;
                }
                default: {
                    // Transport ports onto service ports, either side.
                    const std::uint16_t ports[] = {123, 161, 162, 1701, 1723, 1536, 1791, 80};
                    const std::size_t at = 34 + ((x >> 8) % 2) * 2;
                    if (f.size() >= at + 2) {
                        put16(f, at, ports[(x >> 16) % std::size(ports)]);
                    }
                    break;
                }
            }
            cmp.check(f);
        }
    }
    EXPECT_EQ(cmp.fused.values, cmp.reference.values);
    EXPECT_GT(cmp.frames, 40000u);
}

TEST(ClassifyAndCount, SimpleIpv4ShapeParsesAsParseEthernet) {
    // The fast path's layers equal parse_ethernet's wherever it claims a frame.
    rng r{7};
    std::size_t claimed = 0;
    for (const auto& g : gen::make_mix({.count = 5000, .seed = 3, .malformed_share = 0.2})) {
        for (int m = 0; m < 8; ++m) {
            bytes f = g.bytes;
            if (m > 0 && !f.empty()) {
                const std::uint64_t x = r.next();
                f[(x >> 8) % std::min<std::size_t>(f.size(), 40)] = static_cast<std::uint8_t>(x);
            }
            const parsers::byte_span frame(f.data(), f.size());
            const auto claim = parsers::parse_ethernet_simple_ipv4(frame);
            if (!claim) {
                continue;
            }
            ++claimed;
            const parsers::layers& fast = *claim;
            const parsers::layers ref = parsers::parse_ethernet(frame);
            ASSERT_EQ(fast.st, ref.st);
            ASSERT_EQ(fast.vlan_count, ref.vlan_count);
            ASSERT_EQ(fast.pppoe, ref.pppoe);
            ASSERT_EQ(fast.ethertype, ref.ethertype);
            ASSERT_EQ(fast.l3, ref.l3);
            ASSERT_EQ(fast.l4_proto, ref.l4_proto);
            ASSERT_EQ(fast.fragment, ref.fragment);
            ASSERT_EQ(fast.later_fragment, ref.later_fragment);
            ASSERT_EQ(fast.truncated, ref.truncated);
            ASSERT_EQ(fast.l3_offset, ref.l3_offset);
            ASSERT_EQ(fast.l4_offset, ref.l4_offset);
            ASSERT_EQ(fast.l4_length, ref.l4_length);
        }
    }
    EXPECT_GT(claimed, 10000u);
}

TEST(ClassifyAndCount, GreFastPathParsesAsTheGeneralWalk) {
    // parse_gre decodes the usual version-0 shape inline; every field must equal the general
    // walk's, on every header of 4 to 16 bytes whose flag word or length is bent.
    rng r{9};
    std::size_t compared = 0;
    for (int i = 0; i < 200000; ++i) {
        const std::uint64_t x = r.next();
        bytes g(4 + (x % 24), 0);
        for (std::size_t j = 0; j < g.size(); ++j) {
            g[j] = static_cast<std::uint8_t>(r.next());
        }
        // Mostly flag words the fast path takes: C, K, S in any mix and nothing else.
        if ((x >> 8) % 4 != 0) {
            g[0] = static_cast<std::uint8_t>(g[0] & 0xB0);
            g[1] = 0;
        }
        const parsers::byte_span in(g.data(), g.size());
        const auto a = parsers::parse_gre(in);
        const auto b = parsers::tunnels_detail::parse_gre_general(in);
        ASSERT_EQ(a.st, b.st);
        ASSERT_EQ(a.version, b.version);
        ASSERT_EQ(a.checksum_present, b.checksum_present);
        ASSERT_EQ(a.routing_present, b.routing_present);
        ASSERT_EQ(a.key_present, b.key_present);
        ASSERT_EQ(a.sequence_present, b.sequence_present);
        ASSERT_EQ(a.ack_present, b.ack_present);
        ASSERT_EQ(a.protocol, b.protocol);
        ASSERT_EQ(a.checksum, b.checksum);
        ASSERT_EQ(a.key, b.key);
        ASSERT_EQ(a.sequence, b.sequence);
        ASSERT_EQ(a.ack, b.ack);
        ASSERT_EQ(a.payload_length, b.payload_length);
        ASSERT_EQ(a.call_id, b.call_id);
        ASSERT_EQ(a.header_length, b.header_length);
        ASSERT_EQ(a.payload.data(), b.payload.data());
        ASSERT_EQ(a.payload.size(), b.payload.size());
        ++compared;
    }
    EXPECT_EQ(compared, 200000u);
}

// ---- Encapsulations: GRE in UDP (RFC 8086), IP-in-IP, L2TPv3 over IP (RFC 3931) ----

namespace {

// Frame `number` (1-based) of a shared capture, or nothing when the capture is absent (a clone
// without ../shared): PORTS_SHARED_DIR is set by meson.
std::optional<bytes> shared_frame(const std::string& rel, int number) {
    const char* dir = std::getenv("PORTS_SHARED_DIR");
    if (dir == nullptr) {
        return std::nullopt;
    }
    const std::string path = std::string(dir) + "/pcaps/" + rel;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    if (p == nullptr) {
        return std::nullopt;
    }
    std::optional<bytes> out;
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    for (int i = 1; pcap_next_ex(p, &hdr, &data) == 1; ++i) {
        if (i == number) {
            out = bytes(data, data + hdr->caplen);
            break;
        }
    }
    pcap_close(p);
    return out;
}

#define SHARED_FRAME(var, rel, number)                                          \
    const auto var##_opt = shared_frame(rel, number);                           \
    if (!var##_opt) {                                                           \
        GTEST_SKIP() << rel << " is absent (../shared/pcaps beside the clone)"; \
    }                                                                           \
    const bytes& var = *var##_opt

// RFC 8086 3: the UDP payload is the GRE header itself (here key-less version 0 with IPv4).
bytes gre_udp4_frame(const bytes& inner_ip) {
    return udp4_frame(50000, 4754, cat({{0x00, 0x00, 0x08, 0x00}, inner_ip}));
}

bytes ntp_ipv4_datagram() {
    const bytes l4 = udp(40000, 123, ntp_client());
    return cat({ipv4(17, l4.size()), l4});
}

bytes ntp_ipv6_datagram() {
    const bytes l4 = udp(40000, 123, ntp_client());
    return cat({ipv6(17, l4.size()), l4});
}

}  // namespace

TEST(ClassifyEncap, GreInUdp4754IsGreWithUdpEncap) {
    const auto r = classify_frame(gre_udp4_frame(ntp_ipv4_datagram()));
    EXPECT_EQ(r.cls, traffic_class::gre);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::gre_version_0));
    EXPECT_TRUE(has_detail(r, counter::gre_udp_encap));
    EXPECT_TRUE(has_detail(r, counter::gre_inner_ipv4));
    // The source port decides too, as for every UDP service.
    const auto back = classify_frame(udp4_frame(4754, 50000, {0x00, 0x00, 0x86, 0xdd}));
    EXPECT_EQ(back.cls, traffic_class::gre);
    EXPECT_TRUE(has_detail(back, counter::gre_no_payload));
}

TEST(ClassifyEncap, GreInUdpKeepsThePortsInTheRecord) {
    const bytes f = gre_udp4_frame(ntp_ipv4_datagram());
    const auto full = pipelines::classify_frame_full(parsers::byte_span(f.data(), f.size()));
    ASSERT_TRUE(full.record.parsed);
    EXPECT_EQ(full.record.src_port, 50000);
    EXPECT_EQ(full.record.dst_port, 4754);
    EXPECT_EQ(full.record.f.gre.protocol, 0x0800);
    // l7 is the GRE payload: the inner IPv4 header.
    EXPECT_EQ(full.record.l7.offset, 14 + 20 + 8 + 4);
}

TEST(ClassifyEncap, GreInUdpBrokenHeaderIsGreMalformed) {
    const auto r = classify_frame(udp4_frame(50000, 4754, {0x00, 0x03, 0x08, 0x00}));  // version 3
    EXPECT_EQ(r.cls, traffic_class::gre);
    EXPECT_TRUE(r.malformed);
    EXPECT_EQ(r.reason, parsers::status::bad_version);
}

TEST(ClassifyEncap, SharedCaptureGreOverUdp4754) {
    // Zeek's capture: 172.17.0.2 -> 1.1.1.1 UDP -> 4754, GRE (protocol 0x0800), DNS inside.
    SHARED_FRAME(f, "zeek/tunnels/gre-over-udp-4754.pcap", 1);
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::gre);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::gre_udp_encap));
    EXPECT_TRUE(has_detail(r, counter::gre_inner_ipv4));
}

TEST(ClassifyEncap, EveryIpInIpCombinationIsLookedThrough) {
    const bytes v4 = ntp_ipv4_datagram();
    const bytes v6 = ntp_ipv6_datagram();
    struct shape {
        const char* name;
        bytes frame;
        parsers::l3_kind inner;
    };
    const shape shapes[] = {
        {"4in4", cat({ethernet(0x0800), ipv4(4, v4.size()), v4}), parsers::l3_kind::ipv4},
        {"6in4", cat({ethernet(0x0800), ipv4(41, v6.size()), v6}), parsers::l3_kind::ipv6},
        {"4in6", cat({ethernet(0x86dd), ipv6(4, v4.size()), v4}), parsers::l3_kind::ipv4},
        {"6in6", cat({ethernet(0x86dd), ipv6(41, v6.size()), v6}), parsers::l3_kind::ipv6},
    };
    for (const auto& s : shapes) {
        const parsers::byte_span in(s.frame.data(), s.frame.size());
        const auto full = pipelines::classify_frame_full(in);
        EXPECT_EQ(full.c.cls, traffic_class::ntp) << s.name;
        EXPECT_FALSE(full.c.malformed) << s.name;
        EXPECT_TRUE(has_detail(full.c, counter::ntp_mode_client)) << s.name;
        EXPECT_EQ(full.record.ip_in_ip, 1) << s.name;
        EXPECT_EQ(full.record.l3, s.inner) << s.name;
        EXPECT_EQ(full.record.outer_l3_offset, 14) << s.name;
        EXPECT_EQ(full.record.l3_offset,
                  s.frame.size() - (s.inner == parsers::l3_kind::ipv4 ? v4.size() : v6.size()))
            << s.name;
        EXPECT_EQ(full.record.dst_port, 123) << s.name;
        // The fused walk counts what the reference walk classifies.
        pipelines::core_counters a;
        pipelines::core_counters b;
        pipelines::classify_and_count(a, in, 100);
        pipelines::count(b, full.c, 100);
        EXPECT_EQ(a.values, b.values) << s.name;
    }
}

TEST(ClassifyEncap, IpInIpDepthIsBoundedAtTwo) {
    const bytes v4 = ntp_ipv4_datagram();
    const bytes two = cat({ipv4(4, 20 + v4.size()), ipv4(4, v4.size()), v4});
    const bytes f2 = cat({ethernet(0x0800), two});
    const auto r2 = pipelines::classify_frame_full(parsers::byte_span(f2.data(), f2.size()));
    EXPECT_EQ(r2.c.cls, traffic_class::ntp);
    EXPECT_EQ(r2.record.ip_in_ip, 2);
    EXPECT_EQ(r2.record.outer_l3_offset, 14);
    const bytes three = cat({ipv4(4, two.size()), two});
    const auto r3 = classify_frame(cat({ethernet(0x0800), three}));
    EXPECT_EQ(r3.cls, traffic_class::other);
    EXPECT_TRUE(r3.malformed);
    EXPECT_EQ(r3.reason, parsers::status::unsupported);
}

TEST(ClassifyEncap, FragmentedIpInIpIsNotLookedThrough) {
    const bytes v4 = ntp_ipv4_datagram();
    const auto r = classify_frame(cat({ethernet(0x0800), ipv4(4, v4.size(), 0x2000), v4}));
    EXPECT_EQ(r.cls, traffic_class::other);
    EXPECT_FALSE(r.malformed);
    EXPECT_TRUE(has_detail(r, counter::other_ipv4));
}

TEST(ClassifyEncap, WrongInnerVersionIsOtherMalformed) {
    const bytes v6 = ntp_ipv6_datagram();
    const auto r = classify_frame(cat({ethernet(0x0800), ipv4(4, v6.size()), v6}));
    EXPECT_EQ(r.cls, traffic_class::other);
    EXPECT_TRUE(r.malformed);
    EXPECT_EQ(r.reason, parsers::status::bad_version);
}

TEST(ClassifyEncap, InnerHeaderIsReadWithinTheOuterDatagram) {
    // The outer datagram ends 8 bytes into the inner UDP header; Ethernet padding after it
    // must not complete the inner datagram.
    const bytes v4 = ntp_ipv4_datagram();
    bytes f = cat({ethernet(0x0800), ipv4(4, 28), v4});
    const auto r = classify_frame(f);
    EXPECT_EQ(r.cls, traffic_class::ntp);
    EXPECT_TRUE(r.malformed);
    EXPECT_EQ(r.reason, parsers::status::bad_length);  // UDP's length runs past the datagram
}

TEST(ClassifyEncap, SharedCaptureGreInsideIpv4InIpv6) {
    // Zeek's gre-pptp.pcap: VLAN, IPv6 (next header 4), IPv4, GRE v1 of PPTP call 6016.
    SHARED_FRAME(f, "zeek/tunnels/gre-pptp.pcap", 1);
    const auto full = pipelines::classify_frame_full(parsers::byte_span(f.data(), f.size()));
    EXPECT_EQ(full.c.cls, traffic_class::gre);
    EXPECT_FALSE(full.c.malformed);
    EXPECT_TRUE(has_detail(full.c, counter::gre_version_1));
    EXPECT_TRUE(has_detail(full.c, counter::gre_inner_ppp));
    EXPECT_EQ(full.record.ip_in_ip, 1);
    EXPECT_EQ(full.record.vlan_count, 1);
    EXPECT_EQ(full.record.l3, parsers::l3_kind::ipv4);
    EXPECT_EQ(full.record.outer_l3_offset, 18);
    EXPECT_EQ(full.record.l3_offset, 18 + 40);
    ASSERT_TRUE(full.record.parsed);
    EXPECT_EQ(full.record.f.gre.call_id, 6016);
}

TEST(ClassifyEncap, L2tpv3OverIpDataIsL2tpOverIp) {
    const bytes payload = {0x00, 0x50, 0x0a, 0x30, 0xde, 0xad, 0xbe, 0xef};  // session, cookie
    const bytes f = cat({ethernet(0x0800), ipv4(115, payload.size()), payload});
    const auto full = pipelines::classify_frame_full(parsers::byte_span(f.data(), f.size()));
    EXPECT_EQ(full.c.cls, traffic_class::l2tp);
    EXPECT_FALSE(full.c.malformed);
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_version_3));
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_data));
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_over_ip));
    ASSERT_TRUE(full.record.parsed);
    EXPECT_EQ(full.record.f.l2tp.session_id, 0x00500a30u);
    EXPECT_FALSE(full.record.f.l2tp.control);
}

TEST(ClassifyEncap, L2tpv3OverIpSessionZeroIsControl) {
    // RFC 3931 4.1.1.2: session ID 0, then T=1 L=1 S=1 version 3, length 20, control
    // connection 0x01020304, Ns 0, Nr 0, Message Type AVP SCCRQ (1).
    const bytes payload = {0, 0, 0, 0, 0xc8, 0x03, 0x00, 0x14, 0x01, 0x02, 0x03, 0x04,
                           0, 0, 0, 0, 0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    const bytes f = cat({ethernet(0x0800), ipv4(115, payload.size()), payload});
    const auto full = pipelines::classify_frame_full(parsers::byte_span(f.data(), f.size()));
    EXPECT_EQ(full.c.cls, traffic_class::l2tp);
    EXPECT_FALSE(full.c.malformed);
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_control));
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_over_ip));
    EXPECT_EQ(full.record.f.l2tp.tunnel_id, 0x01020304u);
    EXPECT_EQ(full.record.f.l2tp.message_type, 1);
    // A version 2 header there is nobody's.
    bytes v2 = payload;
    v2[5] = 0x02;
    const auto bad = classify_frame(cat({ethernet(0x0800), ipv4(115, v2.size()), v2}));
    EXPECT_EQ(bad.cls, traffic_class::l2tp);
    EXPECT_TRUE(bad.malformed);
    // Fewer than 4 bytes: truncated.
    const auto cut = classify_frame(cat({ethernet(0x0800), ipv4(115, 2), {0, 0}}));
    EXPECT_EQ(cut.cls, traffic_class::l2tp);
    EXPECT_EQ(cut.reason, parsers::status::truncated);
}

TEST(ClassifyEncap, L2tpv3OverIpLaterFragmentIsOther) {
    const bytes payload = {0x00, 0x50, 0x0a, 0x30, 0xde, 0xad, 0xbe, 0xef};
    const auto r = classify_frame(cat({ethernet(0x0800), ipv4(115, payload.size(), 100), payload}));
    EXPECT_EQ(r.cls, traffic_class::other);
    const auto first =
        classify_frame(cat({ethernet(0x0800), ipv4(115, payload.size(), 0x2000), payload}));
    EXPECT_EQ(first.cls, traffic_class::l2tp);
    EXPECT_TRUE(first.fragment);
}

TEST(ClassifyEncap, SharedCaptureL2tpv3OverIp) {
    // nDPI's fuzz-2006-09-29-28586.pcap frame 122: 172.20.3.13 -> 172.20.3.5, protocol 115,
    // session 0x00500A30 (TShark: "L2TPv3 D[S:0x00500A30]").
    SHARED_FRAME(f, "ndpi/fuzz-2006-09-29-28586.pcap", 122);
    const auto full = pipelines::classify_frame_full(parsers::byte_span(f.data(), f.size()));
    EXPECT_EQ(full.c.cls, traffic_class::l2tp);
    EXPECT_FALSE(full.c.malformed);
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_over_ip));
    EXPECT_TRUE(has_detail(full.c, counter::l2tp_data));
    EXPECT_EQ(full.record.f.l2tp.session_id, 0x00500a30u);
}

// The NTP server's fast lane recognises its request shape itself (plain_ntp_v4::matches) and
// counts such a frame without the walk: both must be the walk's own verdict, on every frame.
namespace {

// The walk's definition of the shape: untagged IPv4 without options, whole, UDP to port 123
// carrying exactly 56 bytes of UDP (IP's length too), 48 of NTP, valid, client mode.
bool walk_says_plain_ntp_v4(const bytes& f) {
    const auto full = pipelines::classify_frame_full({f.data(), f.size()});
    const pipelines::frame_record& r = full.record;
    return full.c.cls == traffic_class::ntp && !full.c.malformed && r.has_layers &&
           r.vlan_count == 0 && !r.pppoe && r.ip_in_ip == 0 && r.l3 == parsers::l3_kind::ipv4 &&
           r.l3_offset == 14 && r.l4_offset == 34 && r.whole() && r.l4_length == 56 &&
           r.l4_proto == parsers::ipproto_udp && r.dst_port == 123 && r.l7.length == 48 &&
           r.parsed && r.f.ntp.mode == 3;
}

bool lane_says(const bytes& f) {
    return pipelines::plain_ntp_v4::matches(f.data(), f.size());
}

// The lane's count of a frame, next to classify_and_count's.
void expect_lane_counts_as_the_walk(const bytes& f) {
    pipelines::core_counters lane;
    pipelines::core_counters walk;
    pipelines::plain_ntp_v4::count(lane, 1, f.size(),
                                   pipelines::plain_ntp_v4::sntp(f.data()) ? 1 : 0);
    pipelines::classify_and_count(walk, {f.data(), f.size()}, static_cast<std::uint32_t>(f.size()));
    EXPECT_EQ(lane.values, walk.values);
}

bytes plain_request(std::uint8_t version, bool sntp) {
    gen::endpoint_options ep;
    ep.dst_port = 123;
    gen::ntp_header h;
    h.version = version;
    h.mode = 3;
    if (!sntp) {
        h.poll = 6;
        h.origin_ts = 0x1122334455667788ULL;
    }
    h.transmit_ts = 0x0102030405060708ULL;
    return gen::udp_frame(ep, gen::ntp_packet(h));
}

}  // namespace

TEST(PlainNtpV4, EveryVersionOfThePlainRequestIsTheLanesAndCountsAsTheWalk) {
    for (std::uint8_t v = 1; v <= 4; ++v) {
        for (const bool sntp : {false, true}) {
            const bytes f = plain_request(v, sntp);
            ASSERT_TRUE(walk_says_plain_ntp_v4(f)) << int{v};
            EXPECT_TRUE(lane_says(f)) << int{v};
            EXPECT_EQ(pipelines::plain_ntp_v4::sntp(f.data()), sntp);
            expect_lane_counts_as_the_walk(f);
        }
    }
}

TEST(PlainNtpV4, EthernetPaddingAfterTheRequestStillMatches) {
    bytes f = plain_request(4, false);
    f.resize(f.size() + 6, 0);  // IP's length still says 76
    EXPECT_TRUE(walk_says_plain_ntp_v4(f));
    EXPECT_TRUE(lane_says(f));
    expect_lane_counts_as_the_walk(f);
}

TEST(PlainNtpV4, AgreesWithTheWalkOnEverySingleByteChangeOfTheHeaders) {
    // Every byte the shape depends on (Ethernet to the NTP mode octet), set to every value:
    // the lane claims exactly the frames the walk calls plain; and where it claims one, its
    // count is the walk's.
    std::size_t claimed = 0;
    std::size_t refused = 0;
    for (const bool sntp : {false, true}) {
        const bytes base = plain_request(4, sntp);
        for (std::size_t at = 12; at <= 42; ++at) {
            for (unsigned v = 0; v < 256; ++v) {
                bytes f = base;
                f[at] = static_cast<std::uint8_t>(v);
                const bool walk = walk_says_plain_ntp_v4(f);
                ASSERT_EQ(lane_says(f), walk) << "byte " << at << " = " << v;
                if (walk) {
                    ++claimed;
                    expect_lane_counts_as_the_walk(f);
                } else {
                    ++refused;
                }
            }
        }
    }
    // 31 bytes x 256 values x 2 requests: most bytes are free (addresses, ports, TTL...).
    EXPECT_GT(claimed, 5000u);
    EXPECT_GT(refused, 5000u);
}

TEST(PlainNtpV4, ShortFramesAndOtherShapesAreNotTheLanes) {
    const bytes f = plain_request(4, false);
    for (std::size_t n = 0; n < f.size(); ++n) {
        const bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_FALSE(lane_says(cut)) << n;
    }
    bytes tagged = f;  // the same request behind an 802.1Q tag: ntp, but not the lane's
    const std::uint8_t tag[] = {0x81, 0x00, 0x00, 0x0a};
    tagged.insert(tagged.begin() + 12, std::begin(tag), std::end(tag));
    EXPECT_EQ(classify_frame({tagged.data(), tagged.size()}).cls, traffic_class::ntp);
    EXPECT_FALSE(lane_says(tagged));
}

TEST(PlainNtpV4, NoFrameOfTheSharedCapturesOrTheMixDisagrees) {
    std::size_t frames = 0;
    for (const auto& g : gen::make_mix({.count = 20000, .seed = 13, .malformed_share = 0.2})) {
        ASSERT_EQ(lane_says(g.bytes), walk_says_plain_ntp_v4(g.bytes));
        ++frames;
    }
    EXPECT_EQ(frames, 20000u);
}

// classify_ntp decides the 48-byte header of modes 0-5 inline: its classification must be the
// one parse_ntp's view gives, for every first octet and body.
TEST(NtpFastPath, ClassifiesEveryFortyEightByteHeaderAsParseNtp) {
    std::size_t frames = 0;
    for (unsigned b0 = 0; b0 < 256; ++b0) {
        for (const bool zero_body : {true, false}) {
            bytes payload = zero_body ? sntp_request() : ntp_client();
            payload[0] = static_cast<std::uint8_t>(b0);
            const auto v = parsers::parse_ntp({payload.data(), payload.size()});
            const bytes frame = udp4_frame(40000, 123, payload);
            const auto r = classify_frame({frame.data(), frame.size()});
            ASSERT_EQ(r.cls, traffic_class::ntp);
            ASSERT_EQ(r.malformed, v.st != parsers::status::ok) << b0;
            ASSERT_EQ(r.reason, v.st) << b0;
            if (v.st != parsers::status::ok) {
                continue;
            }
            ++frames;
            EXPECT_TRUE(
                has_detail(r, static_cast<counter>(pipelines::index_of(counter::ntp_mode_reserved) +
                                                   static_cast<unsigned>(v.mode))))
                << b0;
            EXPECT_EQ(has_detail(r, counter::ntp_sntp_requests), v.sntp_request) << b0;
            EXPECT_EQ(has_detail(r, counter::ntp_with_mac), v.has_mac) << b0;
            EXPECT_EQ(has_detail(r, counter::ntp_with_extensions), v.extension_count > 0) << b0;
            const auto full = pipelines::classify_frame_full({frame.data(), frame.size()});
            EXPECT_TRUE(full.record.parsed);
            EXPECT_EQ(full.record.f.ntp.version, v.version);
            EXPECT_EQ(full.record.f.ntp.mode, static_cast<std::uint8_t>(v.mode));
            EXPECT_EQ(full.record.f.ntp.has_mac, v.has_mac);
            EXPECT_EQ(full.record.f.ntp.extension_count, v.extension_count);
        }
    }
    EXPECT_EQ(frames, 256u);  // every LI, versions 1-4, every mode (6 and 7 too), both bodies
}
