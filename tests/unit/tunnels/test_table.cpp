// The tunnel tables on generated sessions: frames built byte by byte per RFC 2637 (PPTP and
// its enhanced GRE) and RFC 2661 (L2TPv2), classified by the real classifier, then fed to the
// table as a worker would.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ports/pipelines/classify.hpp"
#include "ports/tunnels/table.hpp"

using namespace ports;
using tunnels::kind;
using tunnels::state;

namespace {

using bytes = std::vector<std::uint8_t>;

void put16(bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

// Hosts 192.0.2.<n>.
bytes ipv4_frame(std::uint8_t src, std::uint8_t dst, std::uint8_t proto, const bytes& l4) {
    bytes eth = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00};
    bytes ip = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 192, 0, 2, src, 192, 0, 2, dst};
    put16(ip, 2, static_cast<std::uint16_t>(20 + l4.size()));
    return cat({eth, ip, l4});
}

bytes tcp_frame(std::uint8_t src, std::uint16_t sport, std::uint8_t dst, std::uint16_t dport,
                const bytes& payload) {
    bytes t(20, 0);
    put16(t, 0, sport);
    put16(t, 2, dport);
    t[12] = 0x50;
    t[13] = 0x18;
    return ipv4_frame(src, dst, 6, cat({t, payload}));
}

bytes udp_frame(std::uint8_t src, std::uint16_t sport, std::uint8_t dst, std::uint16_t dport,
                const bytes& payload) {
    bytes u(8, 0);
    put16(u, 0, sport);
    put16(u, 2, dport);
    put16(u, 4, static_cast<std::uint16_t>(8 + payload.size()));
    return ipv4_frame(src, dst, 17, cat({u, payload}));
}

// A PPTP control message (RFC 2637 2.0) of its fixed length; fields written by the caller.
bytes pptp(std::uint16_t type) {
    static constexpr std::uint16_t lengths[] = {0,  156, 156, 16, 16, 16,  20, 168,
                                                32, 220, 24,  28, 16, 148, 40, 24};
    bytes m(lengths[type], 0);
    put16(m, 0, lengths[type]);
    put16(m, 2, 1);
    m[4] = 0x1a;
    m[5] = 0x2b;
    m[6] = 0x3c;
    m[7] = 0x4d;
    put16(m, 8, type);
    return m;
}

bytes sccr(std::uint16_t type, const std::string& host, const std::string& vendor) {
    bytes m = pptp(type);
    put16(m, 12, 0x0100);
    if (type == 2) {
        m[14] = 1;  // result: successful channel establishment
    }
    std::copy(host.begin(), host.end(), m.begin() + 28);
    std::copy(vendor.begin(), vendor.end(), m.begin() + 92);
    return m;
}

bytes call_request(std::uint16_t type, std::uint16_t call_id) {
    bytes m = pptp(type);
    put16(m, 12, call_id);
    return m;
}

bytes call_reply(std::uint16_t type, std::uint16_t call_id, std::uint16_t peer_id) {
    bytes m = pptp(type);
    put16(m, 12, call_id);
    put16(m, 14, peer_id);
    m[16] = 1;  // connected
    return m;
}

// RFC 2637 4.1: K and S set, version 1, PPP; the call ID is the receiver's.
bytes gre_v1(std::uint8_t src, std::uint8_t dst, std::uint16_t call_id, std::size_t ppp_bytes) {
    bytes g = {0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1};
    put16(g, 4, static_cast<std::uint16_t>(ppp_bytes));
    put16(g, 6, call_id);
    g.resize(g.size() + ppp_bytes, 0x21);
    return ipv4_frame(src, dst, 47, g);
}

bytes gre_v0(std::uint8_t src, std::uint8_t dst, std::uint32_t key) {
    bytes g = {0x20, 0x00, 0x08, 0x00, 0, 0, 0, 0};
    g[4] = static_cast<std::uint8_t>(key >> 24);
    g[5] = static_cast<std::uint8_t>(key >> 16);
    g[6] = static_cast<std::uint8_t>(key >> 8);
    g[7] = static_cast<std::uint8_t>(key);
    return ipv4_frame(src, dst, 47, g);
}

bytes avp(std::uint16_t type, const bytes& value) {
    bytes a(6, 0);
    put16(a, 0, static_cast<std::uint16_t>(0x8000 | (6 + value.size())));
    put16(a, 4, type);
    return cat({a, value});
}
bytes u16(std::uint16_t v) {
    bytes b(2);
    put16(b, 0, v);
    return b;
}

// An L2TPv2 control message (RFC 2661 3.1): T, L, S; the header's IDs are the receiver's.
bytes l2tp_control(std::uint16_t tunnel, std::uint16_t session, std::uint16_t type,
                   const bytes& avps) {
    bytes h(12, 0);
    put16(h, 0, 0xc802);
    put16(h, 4, tunnel);
    put16(h, 6, session);
    bytes m = cat({h, avp(0, u16(type)), avps});
    put16(m, 2, static_cast<std::uint16_t>(m.size()));
    return m;
}

bytes l2tp_data(std::uint16_t tunnel, std::uint16_t session, std::size_t ppp_bytes) {
    bytes h(6, 0);
    put16(h, 0, 0x0002);
    put16(h, 2, tunnel);
    put16(h, 4, session);
    h.resize(h.size() + ppp_bytes, 0xff);
    return h;
}

bytes host(const std::string& name) {
    return avp(7, bytes(name.begin(), name.end()));
}

struct feeder {
    tunnels::table& t;
    std::uint64_t now = 1'000'000'000;

    void operator()(const bytes& f) {
        const parsers::byte_span s(f.data(), f.size());
        const auto c = pipelines::classify_frame_full(s);
        ASSERT_FALSE(c.c.malformed) << "a test frame the classifier refuses";
        t.update(c.record, s, static_cast<std::uint32_t>(f.size()), now);
        now += 1'000'000;
    }
};

std::vector<tunnels::row> rows_of(std::initializer_list<const tunnels::table*> tables) {
    std::vector<const tunnels::table*> v(tables);
    return tunnels::merge(v);
}

const tunnels::row* find_row(const std::vector<tunnels::row>& rows, kind k,
                             std::uint64_t client_id) {
    for (const auto& r : rows) {
        if (r.e.k == k && r.e.client_id == client_id) {
            return &r;
        }
    }
    return nullptr;
}

constexpr std::uint8_t pns = 1;  // 192.0.2.1: PPTP client (PNS), L2TP LAC
constexpr std::uint8_t pac = 2;  // 192.0.2.2: PPTP server (PAC), L2TP LNS

}  // namespace

TEST(PptpTable, SessionWithGreBothWaysAndInterleavedCalls) {
    tunnels::table t(64, 60'000'000'000);
    feeder feed{t};
    feed(tcp_frame(pns, 40000, pac, 1723, sccr(1, "pns-host", "vendor-a")));
    feed(tcp_frame(pac, 1723, pns, 40000, sccr(2, "pac-host", "vendor-b")));
    feed(tcp_frame(pns, 40000, pac, 1723, call_request(7, 100)));     // OCRQ, call 100
    feed(tcp_frame(pns, 40000, pac, 1723, call_request(7, 101)));     // OCRQ, call 101
    feed(tcp_frame(pac, 1723, pns, 40000, call_reply(8, 201, 101)));  // OCRP 201 for 101
    feed(gre_v1(pac, pns, 101, 40));                                  // to the PNS: its ID
    feed(tcp_frame(pac, 1723, pns, 40000, call_reply(8, 200, 100)));  // OCRP 200 for 100
    for (int i = 0; i < 3; ++i) {
        feed(gre_v1(pns, pac, 200, 100));  // call 100, client -> server: the PAC's ID
        feed(gre_v1(pac, pns, 101, 40));   // call 101, server -> client
    }
    feed(gre_v1(pac, pns, 100, 60));
    feed(gre_v1(pns, pac, 201, 10));
    feed(tcp_frame(pac, 1723, pns, 40000, call_request(13, 200)));  // CDN: the PAC's own ID

    const auto rows = rows_of({&t});
    const auto* c100 = find_row(rows, kind::pptp_call, 100);
    const auto* c101 = find_row(rows, kind::pptp_call, 101);
    ASSERT_NE(c100, nullptr);
    ASSERT_NE(c101, nullptr);
    EXPECT_EQ(c100->e.server_id, 200u);
    EXPECT_EQ(c100->e.client.text(), "192.0.2.1");
    EXPECT_EQ(c100->e.server.text(), "192.0.2.2");
    EXPECT_EQ(c100->e.packets[0], 3u);
    EXPECT_EQ(c100->e.packets[1], 1u);
    EXPECT_EQ(c100->e.st, state::closed);
    EXPECT_EQ(c101->e.server_id, 201u);
    EXPECT_EQ(c101->e.packets[0], 1u);
    EXPECT_EQ(c101->e.packets[1], 4u);
    EXPECT_EQ(c101->e.st, state::established);
    // Frame lengths: 14 + 20 + 12 + PPP bytes.
    EXPECT_EQ(c101->e.bytes[1], 4u * (46 + 40));
    const auto* ctl = find_row(rows, kind::pptp_control, 0);
    ASSERT_NE(ctl, nullptr);
    EXPECT_EQ(ctl->e.client_host(), "pns-host");
    EXPECT_EQ(ctl->e.vendor_name(), "vendor-a");
    EXPECT_EQ(ctl->e.server_host(), "pac-host");
    EXPECT_EQ(ctl->e.st, state::established);
    EXPECT_EQ(ctl->e.packets[0] + ctl->e.packets[1], 7u);
    EXPECT_EQ(t.stats().unknown, 0u);
    EXPECT_EQ(t.stats().table_full, 0u);
}

TEST(PptpTable, GreCountedOnAnotherLcoreIsMergedIntoItsCall) {
    // RSS puts TCP/1723 on one lcore and GRE (hashed on addresses) on another.
    tunnels::table control(16, 60'000'000'000);
    tunnels::table gre(16, 60'000'000'000);
    feeder fc{control};
    feeder fg{gre};
    fg(gre_v1(pac, pns, 300, 20));  // before the call is known anywhere
    fc(tcp_frame(pns, 40000, pac, 1723, call_request(7, 300)));
    fc(tcp_frame(pac, 1723, pns, 40000, call_reply(8, 400, 300)));
    fg(gre_v1(pns, pac, 400, 20));
    fg(gre_v1(pns, pac, 400, 20));
    EXPECT_EQ(gre.size(), 2u);  // two data entries: one per direction
    const auto rows = rows_of({&control, &gre});
    const auto* call = find_row(rows, kind::pptp_call, 300);
    ASSERT_NE(call, nullptr);
    EXPECT_EQ(call->e.packets[0], 2u);
    EXPECT_EQ(call->e.packets[1], 1u);
    for (const auto& r : rows) {
        EXPECT_NE(r.e.k, kind::pptp_data) << "a GRE frame left unattributed";
    }
}

TEST(PptpTable, DataSeenBeforeTheCallIsFoldedIntoIt) {
    tunnels::table t(16, 60'000'000'000);
    feeder feed{t};
    feed(gre_v1(pac, pns, 7, 20));
    feed(tcp_frame(pns, 40000, pac, 1723, call_request(7, 7)));
    const auto rows = rows_of({&t});
    const auto* call = find_row(rows, kind::pptp_call, 7);
    ASSERT_NE(call, nullptr);
    EXPECT_EQ(call->e.packets[1], 1u);
    EXPECT_EQ(t.size(), 2u);  // the control connection and the call
}

TEST(PptpTable, CallIdReuseStartsANewCall) {
    tunnels::table t(16, 60'000'000'000);
    feeder feed{t};
    feed(tcp_frame(pns, 40000, pac, 1723, call_request(7, 100)));
    feed(tcp_frame(pac, 1723, pns, 40000, call_reply(8, 200, 100)));
    feed(gre_v1(pns, pac, 200, 20));
    feed(tcp_frame(pac, 1723, pns, 40000, call_request(13, 200)));  // CDN
    feed(tcp_frame(pns, 40000, pac, 1723, call_request(7, 100)));   // the same ID again
    EXPECT_EQ(t.stats().reused, 1u);
    const auto rows = rows_of({&t});
    const auto* call = find_row(rows, kind::pptp_call, 100);
    ASSERT_NE(call, nullptr);
    EXPECT_EQ(call->e.st, state::requested);
    EXPECT_EQ(call->e.total_packets(), 0u);
    EXPECT_FALSE(call->e.has_server_id);
    // The old call's server ID no longer attributes anything to the new call.
    feed(gre_v1(pns, pac, 200, 20));
    const auto after = rows_of({&t});
    EXPECT_EQ(find_row(after, kind::pptp_call, 100)->e.total_packets(), 0u);
}

TEST(L2tpTable, TunnelWithSeveralSessions) {
    tunnels::table t(64, 60'000'000'000);
    feeder feed{t};
    const auto lac_to_lns = [&](const bytes& m) { feed(udp_frame(pns, 1701, pac, 1701, m)); };
    const auto lns_to_lac = [&](const bytes& m) { feed(udp_frame(pac, 1701, pns, 1701, m)); };
    lac_to_lns(l2tp_control(0, 0, 1, cat({host("lac-1"), avp(9, u16(5))})));  // SCCRQ
    lns_to_lac(l2tp_control(5, 0, 2, cat({host("lns-1"), avp(9, u16(9))})));  // SCCRP
    lac_to_lns(l2tp_control(9, 0, 3, {}));                                    // SCCCN
    for (std::uint16_t s : {11, 12, 13}) {
        lac_to_lns(l2tp_control(9, 0, 10, avp(14, u16(s))));  // ICRQ
    }
    for (std::uint16_t s : {11, 12, 13}) {
        lns_to_lac(l2tp_control(5, s, 11, avp(14, u16(s + 10))));  // ICRP
        lac_to_lns(l2tp_control(9, s + 10, 12, {}));               // ICCN
    }
    for (int i = 0; i < 5; ++i) {
        lac_to_lns(l2tp_data(9, 21, 30));  // session 11/21, to the LNS
    }
    lns_to_lac(l2tp_data(5, 11, 30));
    lns_to_lac(l2tp_data(5, 13, 30));
    lac_to_lns(l2tp_control(9, 22, 14, avp(14, u16(12))));  // CDN of session 12/22

    const auto rows = rows_of({&t});
    const auto* tunnel = find_row(rows, kind::l2tp_tunnel, 5);
    ASSERT_NE(tunnel, nullptr);
    EXPECT_EQ(tunnel->e.server_id, 9u);
    EXPECT_EQ(tunnel->e.client_host(), "lac-1");
    EXPECT_EQ(tunnel->e.server_host(), "lns-1");
    EXPECT_EQ(tunnel->e.st, state::established);
    const auto* s11 = find_row(rows, kind::l2tp_session, 11);
    const auto* s12 = find_row(rows, kind::l2tp_session, 12);
    const auto* s13 = find_row(rows, kind::l2tp_session, 13);
    ASSERT_NE(s11, nullptr);
    ASSERT_NE(s12, nullptr);
    ASSERT_NE(s13, nullptr);
    EXPECT_EQ(s11->e.server_id, 21u);
    EXPECT_EQ(s11->e.packets[0], 5u);
    EXPECT_EQ(s11->e.packets[1], 1u);
    EXPECT_EQ(s11->e.st, state::established);
    EXPECT_EQ(s12->e.st, state::closed);
    EXPECT_EQ(s12->e.total_packets(), 0u);
    EXPECT_EQ(s13->e.packets[1], 1u);
    EXPECT_EQ(s11->e.tunnel_client_id, 5u);
    EXPECT_EQ(s11->e.tunnel_server_id, 9u);
    EXPECT_EQ(t.stats().unknown, 0u);
    for (const auto& r : rows) {
        EXPECT_NE(r.e.k, kind::l2tp_data);
    }
}

TEST(GreTable, TunnelsByEndpointsAndKeyBothWays) {
    tunnels::table t(16, 60'000'000'000);
    feeder feed{t};
    feed(gre_v0(1, 2, 42));
    feed(gre_v0(2, 1, 42));
    feed(gre_v0(1, 2, 43));
    const auto rows = rows_of({&t});
    const auto* k42 = find_row(rows, kind::gre_tunnel, 42);
    ASSERT_NE(k42, nullptr);
    EXPECT_EQ(k42->e.packets[0], 1u);
    EXPECT_EQ(k42->e.packets[1], 1u);
    EXPECT_NE(find_row(rows, kind::gre_tunnel, 43), nullptr);
}

TEST(Table, FullIsCountedNotACrash) {
    tunnels::table t(2, 60'000'000'000);
    feeder feed{t};
    for (std::uint32_t key = 0; key < 5; ++key) {
        feed(gre_v0(1, 2, key));
    }
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.stats().table_full, 3u);
    feed(gre_v0(1, 2, 0));  // a known tunnel is still counted
    EXPECT_EQ(rows_of({&t})[0].e.total_packets() + rows_of({&t})[1].e.total_packets(), 3u);
}

TEST(Table, IdleEntriesAgeOut) {
    tunnels::table t(8, 10'000'000'000);  // 10 s
    feeder feed{t};
    feed(gre_v0(1, 2, 1));
    feed.now += 8'000'000'000;
    feed(gre_v0(1, 2, 2));
    EXPECT_EQ(t.expire(feed.now + 5'000'000'000, 100), 1u);  // key 1 idle 13 s, key 2 5 s
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.expire(feed.now + 5'000'000'000, 100), 0u);
    EXPECT_EQ(t.expire(feed.now + 11'000'000'000, 100), 1u);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.stats().expired, 2u);
    // The index forgot them: the same tunnel starts again from zero.
    feed(gre_v0(1, 2, 1));
    EXPECT_EQ(rows_of({&t}).at(0).e.total_packets(), 1u);
}

TEST(Table, ExpireLooksAtNoMoreThanItIsAllowed) {
    tunnels::table t(8, 1);
    feeder feed{t};
    for (std::uint32_t key = 0; key < 8; ++key) {
        feed(gre_v0(1, 2, key));
    }
    EXPECT_EQ(t.expire(feed.now + 10, 3), 3u);
    EXPECT_EQ(t.expire(feed.now + 10, 100), 5u);
}

TEST(Table, IndexSurvivesChurn) {
    // Many tunnels come and go through a small table: every live one stays findable (the
    // backward-shift deletion keeps probe chains whole).
    tunnels::table t(32, 1'000);
    feeder feed{t};
    for (std::uint32_t round = 0; round < 50; ++round) {
        for (std::uint32_t i = 0; i < 20; ++i) {
            feed.now = round * 1'000'000ull + i;
            feed(gre_v0(1, 2, round * 100 + i));
        }
        for (std::uint32_t i = 0; i < 20; ++i) {
            feed.now = round * 1'000'000ull + 100 + i;
            feed(gre_v0(1, 2, round * 100 + i));  // hits, no new entry
        }
        EXPECT_EQ(t.size(), 20u) << round;
        t.expire((round + 1) * 1'000'000ull - 1, 32);
        EXPECT_EQ(t.size(), 0u) << round;
    }
    EXPECT_EQ(t.stats().table_full, 0u);
    EXPECT_EQ(t.stats().created, 1000u);
}

TEST(Table, CopyIsTheSameState) {
    tunnels::table t(8, 60'000'000'000);
    tunnels::table copy(8, 60'000'000'000);
    feeder feed{t};
    feed(gre_v0(1, 2, 9));
    t.copy_to(copy);
    feeder{copy}(gre_v0(2, 1, 9));
    const auto rows = rows_of({&copy});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].e.packets[1], 1u);
    EXPECT_GT(t.memory_bytes(), 8 * sizeof(tunnels::entry));
}
