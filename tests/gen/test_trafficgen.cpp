// Unit tests of the traffic generator. Headers are re-parsed here independently of the
// builder so that a builder bug cannot hide behind its own arithmetic.

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>
#include <string>

#include "pcap_writer.hpp"
#include "trafficgen.hpp"

namespace gen = ports::gen;

namespace {

std::uint16_t be16(const std::vector<std::uint8_t>& b, std::size_t at) {
    return static_cast<std::uint16_t>((b.at(at) << 8) | b.at(at + 1));
}

// Plain RFC 1071 sum, written apart from the generator's own.
std::uint16_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint64_t sum = 0) {
    for (std::size_t i = 0; i < n; ++i) {
        sum += (i % 2 == 0) ? static_cast<std::uint64_t>(p[i]) << 8 : p[i];
    }
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(sum);
}

struct walked {
    bool ip = false;
    bool ipv6 = false;
    std::size_t l3 = 0;
    std::size_t ip_header_length = 0;
    std::size_t l4 = 0;
    std::size_t l4_length = 0;  // by the IP length fields
    std::uint8_t proto = 0;
    bool fragment = false;
    bool later_fragment = false;
    std::size_t vlans = 0;
};

walked walk(const std::vector<std::uint8_t>& f) {
    walked w;
    std::size_t off = 12;
    std::uint16_t type = be16(f, off);
    while (type == 0x8100 || type == 0x88A8 || type == 0x9100) {
        ++w.vlans;
        off += 4;
        type = be16(f, off);
    }
    off += 2;
    w.l3 = off;
    if (type == 0x0800) {
        w.ip = true;
        w.ip_header_length = static_cast<std::size_t>(f.at(off) & 0x0F) * 4;
        const std::size_t total = be16(f, off + 2);
        const std::uint16_t frag = be16(f, off + 6);
        w.fragment = (frag & 0x2000) != 0 || (frag & 0x1FFF) != 0;
        w.later_fragment = (frag & 0x1FFF) != 0;
        w.proto = f.at(off + 9);
        w.l4 = off + w.ip_header_length;
        w.l4_length = total - w.ip_header_length;
    } else if (type == 0x86DD) {
        w.ip = true;
        w.ipv6 = true;
        std::size_t payload = be16(f, off + 4);
        std::uint8_t next = f.at(off + 6);
        std::size_t at = off + 40;
        while (next == 0 || next == 60) {
            const std::size_t len = (static_cast<std::size_t>(f.at(at + 1)) + 1) * 8;
            next = f.at(at);
            at += len;
            payload -= len;
        }
        w.proto = next;
        w.l4 = at;
        w.l4_length = payload;
    }
    return w;
}

std::uint64_t pseudo(const std::vector<std::uint8_t>& f, const walked& w, std::size_t length) {
    std::uint64_t sum = 0;
    const std::size_t addr = w.ipv6 ? w.l3 + 8 : w.l3 + 12;
    const std::size_t addr_len = w.ipv6 ? 32 : 8;
    for (std::size_t i = 0; i < addr_len; ++i) {
        sum += (i % 2 == 0) ? static_cast<std::uint64_t>(f[addr + i]) << 8 : f[addr + i];
    }
    sum += w.proto;
    sum += length;
    return sum;
}

// The engine's rule, restated: GRE by protocol, else the destination port when it is a service
// port, else the source port; later fragments and everything else are "other".
std::string expected_class(const std::vector<std::uint8_t>& f) {
    const walked w = walk(f);
    if (!w.ip || w.later_fragment) {
        return "other";
    }
    if (w.proto == 47) {
        return "gre";
    }
    if (w.proto != 6 && w.proto != 17) {
        return "other";
    }
    const bool udp = w.proto == 17;
    auto service = [udp](std::uint16_t port) -> std::optional<std::string> {
        if (udp && port == 123) {
            return "ntp";
        }
        if (udp && port == 161) {
            return "snmp";
        }
        if (udp && port == 162) {
            return "snmp-trap";
        }
        if (port == 1701) {
            return "l2tp";
        }
        if (!udp && port == 1723) {
            return "pptp";
        }
        return std::nullopt;
    };
    if (auto c = service(be16(f, w.l4 + 2))) {
        return *c;
    }
    if (auto c = service(be16(f, w.l4))) {
        return *c;
    }
    return "other";
}

const std::vector<gen::frame>& mix2000() {
    static const auto frames = gen::make_mix({.count = 2000, .seed = 7});
    return frames;
}

}  // namespace

TEST(TrafficGen, DeterministicForASeed) {
    const auto a = gen::make_mix({.count = 500, .seed = 42});
    const auto b = gen::make_mix({.count = 500, .seed = 42});
    const auto c = gen::make_mix({.count = 500, .seed = 43});
    ASSERT_EQ(a.size(), 500u);
    ASSERT_EQ(a.size(), b.size());
    bool differs = false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].bytes, b[i].bytes) << i;
        EXPECT_EQ(a[i].label, b[i].label) << i;
        EXPECT_EQ(a[i].cls, b[i].cls) << i;
        EXPECT_EQ(a[i].malformed, b[i].malformed) << i;
        EXPECT_EQ(a[i].timestamp_us, b[i].timestamp_us) << i;
        differs = differs || a[i].bytes != c[i].bytes;
    }
    EXPECT_TRUE(differs);
}

TEST(TrafficGen, EveryClassValidAndMalformed) {
    std::map<std::string, std::pair<int, int>> seen;  // valid, malformed
    for (const auto& f : mix2000()) {
        auto& s = seen[std::string(f.cls)];
        (f.malformed ? s.second : s.first) += 1;
    }
    for (auto cls : gen::class_names) {
        EXPECT_GT(seen[std::string(cls)].first, 0) << cls;
        if (cls != "other") {
            EXPECT_GT(seen[std::string(cls)].second, 0) << cls;
        }
    }
    EXPECT_EQ(seen.size(), gen::class_names.size());
}

TEST(TrafficGen, ClassMatchesPortRule) {
    for (const auto& f : mix2000()) {
        EXPECT_EQ(expected_class(f.bytes), f.cls) << f.label;
    }
}

TEST(TrafficGen, FramesAtLeastMinimumAndTimestamps) {
    const gen::mix_options opt{.count = 2000, .seed = 7};
    const auto& frames = mix2000();
    std::size_t largest = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        EXPECT_GE(frames[i].bytes.size(), gen::min_frame_length) << frames[i].label;
        EXPECT_EQ(frames[i].timestamp_us, opt.start_us + i * opt.gap_us);
        largest = std::max(largest, frames[i].bytes.size());
    }
    EXPECT_GT(largest, 400u);
    EXPECT_LT(largest, 700u);
}

TEST(TrafficGen, Ipv4HeaderChecksums) {
    std::size_t checked = 0;
    for (const auto& f : mix2000()) {
        const walked w = walk(f.bytes);
        if (!w.ip || w.ipv6) {
            continue;
        }
        EXPECT_EQ(ones_sum(&f.bytes[w.l3], w.ip_header_length), 0xFFFF) << f.label;
        ++checked;
    }
    EXPECT_GT(checked, 1000u);
}

TEST(TrafficGen, TransportChecksums) {
    std::size_t udp = 0;
    std::size_t tcp = 0;
    for (const auto& f : mix2000()) {
        const walked w = walk(f.bytes);
        // A fragment's checksum covers the whole datagram; a lying UDP length has no right answer.
        if (!w.ip || w.fragment || f.label.find("udp-length") != std::string_view::npos) {
            continue;
        }
        if (w.proto != 17 && w.proto != 6 && w.proto != 58) {
            continue;
        }
        ASSERT_LE(w.l4 + w.l4_length, f.bytes.size()) << f.label;
        if (w.proto == 17) {
            EXPECT_EQ(be16(f.bytes, w.l4 + 4), w.l4_length) << f.label;
            EXPECT_NE(be16(f.bytes, w.l4 + 6), 0) << f.label;
            ++udp;
        } else if (w.proto == 6) {
            ++tcp;
        }
        const std::uint16_t s = ones_sum(&f.bytes[w.l4], w.l4_length, pseudo(f.bytes, w, w.l4_length));
        EXPECT_EQ(s, 0xFFFF) << f.label;
    }
    EXPECT_GT(udp, 500u);
    EXPECT_GT(tcp, 200u);
}

TEST(TrafficGen, PaddingIsOutsideIp) {
    const gen::endpoint_options ep;
    const auto f = gen::ntp_client_request(ep, 4, 0);
    EXPECT_EQ(f.size(), 14u + 20 + 8 + 48);
    const auto arp = gen::arp_request_frame(ep);
    EXPECT_EQ(arp.size(), 60u);
    gen::endpoint_options small = ep;
    small.dst_port = 1723;
    gen::tcp_options syn;
    syn.flags = gen::tcp_syn;
    const auto s = gen::tcp_frame(small, syn, {});
    ASSERT_EQ(s.size(), 60u);
    EXPECT_EQ(be16(s, 16), 40u);  // IPv4 total length: 20 + 20, the 6 padding bytes excluded
}

TEST(TrafficGen, MixShares) {
    const auto& frames = mix2000();
    std::size_t v6 = 0;
    std::size_t vlan = 0;
    std::size_t qinq = 0;
    std::size_t malformed = 0;
    for (const auto& f : frames) {
        const walked w = walk(f.bytes);
        v6 += w.ipv6 ? 1 : 0;
        vlan += w.vlans == 1 ? 1 : 0;
        qinq += w.vlans == 2 ? 1 : 0;
        malformed += f.malformed ? 1 : 0;
    }
    const double n = static_cast<double>(frames.size());
    EXPECT_NEAR(v6 / n, 0.30, 0.05);
    EXPECT_NEAR(vlan / n, 0.15, 0.03);
    EXPECT_NEAR(qinq / n, 0.05, 0.02);
    EXPECT_NEAR(malformed / n, 0.05, 0.02);
}

TEST(TrafficGen, PptpMessageLengths) {
    EXPECT_EQ(gen::pptp_sccrq("pptp-client", "ports-gen").size(), 156u);
    EXPECT_EQ(gen::pptp_sccrp("pptp-server", "ports-gen").size(), 156u);
    EXPECT_EQ(gen::pptp_ocrq(1, 2, "555").size(), 168u);
    EXPECT_EQ(gen::pptp_ocrp(1, 2).size(), 32u);
    EXPECT_EQ(gen::pptp_echo_request(1).size(), 16u);
    EXPECT_EQ(gen::pptp_echo_reply(1).size(), 20u);
    EXPECT_EQ(gen::pptp_set_link_info(1).size(), 24u);
    EXPECT_EQ(gen::pptp_call_clear_request(1).size(), 16u);
    EXPECT_EQ(gen::pptp_call_disconnect_notify(1).size(), 148u);
    const auto m = gen::pptp_sccrq("pptp-client", "ports-gen");
    EXPECT_EQ(be16(m, 0), 156u);
    EXPECT_EQ(be16(m, 2), 1u);
    EXPECT_EQ(be16(m, 4), 0x1A2Bu);
    EXPECT_EQ(be16(m, 6), 0x3C4Du);
    EXPECT_EQ(be16(m, 8), 1u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&m[28]), 11), "pptp-client");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&m[92]), 9), "ports-gen");
}

TEST(TrafficGen, NtpPayloads) {
    const auto s = gen::ntp_sntp_request(4, 0x0102030405060708ULL);
    ASSERT_EQ(s.size(), 48u);
    EXPECT_EQ(s[0], 0x23);
    for (std::size_t i = 1; i < 40; ++i) {
        EXPECT_EQ(s[i], 0) << i;
    }
    EXPECT_EQ(s[40], 1);
    EXPECT_EQ(s[47], 8);
    const auto mon = gen::ntp_monlist_request();
    EXPECT_EQ(mon[0] & 7, 7);
    EXPECT_EQ(mon[2], 3);
    EXPECT_EQ(mon[3], 42);
    const std::vector<std::uint8_t> digest(20, 0xAB);
    EXPECT_EQ(gen::ntp_with_mac(s, 9, digest).size(), 72u);
    EXPECT_EQ(gen::ntp_with_crypto_nak(s).size(), 52u);
    EXPECT_EQ(gen::ntp_control_read_vars(1, 0)[0] & 7, 6);
    EXPECT_EQ(gen::ntp_timestamp(0) >> 32, 2208988800ULL);
}

TEST(TrafficGen, SnmpBer) {
    const auto m = gen::snmp_v1_get_request("public", 1);
    ASSERT_GE(m.size(), 2u);
    EXPECT_EQ(m[0], 0x30);
    EXPECT_EQ(m[1], m.size() - 2);
    EXPECT_EQ((std::vector<std::uint8_t>(m.begin() + 2, m.begin() + 5)), (std::vector<std::uint8_t>{0x02, 0x01, 0x00}));
    EXPECT_EQ(gen::ber_integer(128), (std::vector<std::uint8_t>{0x02, 0x02, 0x00, 0x80}));
    EXPECT_EQ(gen::ber_integer(-1), (std::vector<std::uint8_t>{0x02, 0x01, 0xFF}));
    EXPECT_EQ(gen::ber_length(200), (std::vector<std::uint8_t>{0x81, 200}));
    const auto over = gen::snmp_length_overrun(m, 20);
    EXPECT_EQ(over[1], m.size() - 2 + 20);
    const auto indef = gen::snmp_indefinite_length(m);
    EXPECT_EQ(indef[1], 0x80);
    const auto v3 = gen::snmp_v3_get_request("operator", 5);
    EXPECT_NE(std::string(v3.begin(), v3.end()).find("operator"), std::string::npos);
}

TEST(TrafficGen, GreV1Key) {
    gen::gre_options g;
    g.version = 1;
    g.protocol = gen::gre_proto_ppp;
    g.pptp_call_id = 0x1234;
    g.sequence = 5;
    const std::vector<std::uint8_t> payload(10, 0);
    const auto p = gen::gre_packet(g, payload);
    EXPECT_EQ(p[0], 0x30);  // K, S
    EXPECT_EQ(p[1], 0x01);
    EXPECT_EQ(be16(p, 2), 0x880Bu);
    EXPECT_EQ(be16(p, 4), 10u);
    EXPECT_EQ(be16(p, 6), 0x1234u);
    gen::gre_options c;
    c.checksum = true;
    const auto q = gen::gre_packet(c, payload);
    EXPECT_EQ(ones_sum(q.data(), q.size()), 0xFFFF);
}

TEST(TrafficGen, L2tpHeaders) {
    const auto sccrq = gen::l2tp_v2_sccrq(7, "lac.example");
    EXPECT_EQ(sccrq[0], 0xC8);
    EXPECT_EQ(sccrq[1], 0x02);
    EXPECT_EQ(be16(sccrq, 2), sccrq.size());
    EXPECT_EQ(be16(sccrq, 12) & 0x3FF, 8u);  // Message Type AVP length
    EXPECT_EQ(be16(sccrq, 16), 0u);          // type 0
    EXPECT_EQ(be16(sccrq, 18), 1u);          // SCCRQ
    EXPECT_EQ(gen::l2tp_v2_zlb_ack(1, 2, 3).size(), 12u);
    const std::vector<std::uint8_t> ppp{0xFF, 0x03, 0x00, 0x21};
    EXPECT_EQ(gen::l2tp_v2_data(1, 2, {}, ppp).size(), 10u);
    const auto lso = gen::l2tp_v2_data(1, 2, {true, true, std::uint16_t{2}}, ppp);
    EXPECT_EQ(lso[0], 0x4A);
    EXPECT_EQ(be16(lso, 2), lso.size());
}

TEST(TrafficGen, TallyJson) {
    const auto& frames = mix2000();
    const auto t = gen::tally(frames);
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    for (const auto& c : t.classes) {
        packets += c.packets;
        bytes += c.bytes;
    }
    EXPECT_EQ(packets, frames.size());
    EXPECT_EQ(t.total.packets, frames.size());
    EXPECT_EQ(bytes, t.total.bytes);
    const auto js = gen::tally_json(t);
    for (auto cls : gen::class_names) {
        EXPECT_NE(js.find("\"" + std::string(cls) + "\":{\"packets\":"), std::string::npos) << cls;
    }
    EXPECT_EQ(t.classes[gen::class_index("other")].malformed, 0u);
    EXPECT_THROW(gen::class_index("dns"), std::invalid_argument);
}

TEST(TrafficGen, PcapRoundTrip) {
    const auto frames = gen::make_mix({.count = 50, .seed = 3});
    const auto path = std::filesystem::temp_directory_path() / ("trafficgen-test-" + std::to_string(::getpid()) + ".pcap");
    gen::write_pcap(path.string(), frames);
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    ASSERT_NE(p, nullptr) << err;
    EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    std::size_t i = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        ASSERT_LT(i, frames.size());
        EXPECT_EQ(h->caplen, frames[i].bytes.size());
        EXPECT_EQ(static_cast<std::uint64_t>(h->ts.tv_sec) * 1000000 + static_cast<std::uint64_t>(h->ts.tv_usec),
                  frames[i].timestamp_us);
        EXPECT_TRUE(std::equal(frames[i].bytes.begin(), frames[i].bytes.end(), data));
        ++i;
    }
    EXPECT_EQ(i, frames.size());
    pcap_close(p);
    std::filesystem::remove(path);
}

TEST(TrafficGen, PcapWriterReportsErrors) {
    EXPECT_THROW(gen::write_pcap("/nonexistent-dir/x.pcap", {}), std::runtime_error);
}
