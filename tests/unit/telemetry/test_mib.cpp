// The flat view of PORTS-ENGINE-MIB: OID order, table layout (column-major, rows by index) and
// the values of every group, as a snmpwalk sees them.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "ports/telemetry/mib.hpp"

namespace {

using namespace ports::telemetry;
using ports::pipelines::class_base;
using ports::pipelines::class_count;
using ports::pipelines::counter;
using ports::pipelines::counter_count;
using ports::pipelines::counter_defs;
using ports::pipelines::index_of;
using ports::pipelines::traffic_class;

mib_snapshot sample() {
    mib_snapshot s;
    s.version = "9.8.7";
    s.uptime_ticks = 12345;
    s.taken = std::chrono::system_clock::from_time_t(1795768215) + std::chrono::milliseconds(700);
    port_row a;
    a.port_id = 0;
    a.name = "wan";
    a.driver = "net_pcap";
    a.link_up = true;
    a.speed_mbps = 10000;
    a.rx_packets = 100;
    a.rx_octets = 6400;
    a.rx_nombuf = 3;
    port_row b = a;
    b.port_id = 3;
    b.name = "lan";
    b.link_up = false;
    b.rx_packets = 200;
    s.ports = {a, b};
    for (std::size_t i = 0; i < counter_count; ++i) {
        s.classes.values[i] = 1000 + i;  // every counter distinct
    }
    s.ntp.enabled = true;
    s.ntp.requests = 50;
    s.ntp.replies = 49;
    s.ntp.rate_limited = 1;
    s.ntp.tx_dropped = 7;
    s.ntp.stratum = 1;
    s.ntp.leap = 0;
    s.ntp.drop_timestamp_error = 3;
    s.ntp.interleaved_replies = 11;
    s.ntp.interleaved_misses = 2;
    s.lcores = {{0, 10, 5, 0, 2500, 4, 3, 0, 2, 1}, {2, 20, 6, 1, 10000, 0, 20, 0, 0, 0}};
    return s;
}

const mib_entry& at(const mib_view& v, std::initializer_list<std::uint32_t> path) {
    const mib_entry* e = find_exact(v, object_oid(path));
    if (e == nullptr) {
        throw std::runtime_error("no such instance");
    }
    return *e;
}

TEST(MibView, IsStrictlyOrderedAndUnderTheRoot) {
    const auto v = build_view(sample());
    ASSERT_FALSE(v.empty());
    const oid_vector root(std::begin(mib_root), std::end(mib_root));
    for (std::size_t i = 0; i < v.size(); ++i) {
        ASSERT_GT(v[i].oid.size(), root.size());
        EXPECT_TRUE(std::equal(root.begin(), root.end(), v[i].oid.begin()));
        if (i > 0) {
            EXPECT_LT(compare_oid(v[i - 1].oid, v[i].oid), 0) << "entry " << i;
        }
    }
}

TEST(MibView, ScalarsCountRowsAndCarryTheSnapshot) {
    const auto v = build_view(sample());
    EXPECT_EQ(at(v, {1, 1, 0}).value.text, "9.8.7");
    EXPECT_EQ(at(v, {1, 2, 0}).value.type, value_type::timeticks);
    EXPECT_EQ(at(v, {1, 2, 0}).value.number, 12345u);
    EXPECT_EQ(at(v, {1, 3, 0}).value.number, 2u);  // lcores
    EXPECT_EQ(at(v, {1, 4, 0}).value.number, 2u);  // ports
    const auto s = sample();
    EXPECT_EQ(at(v, {1, 6, 0}).value.number, s.classes.total_packets());
    EXPECT_EQ(at(v, {1, 7, 0}).value.number, s.classes.total_bytes());
    EXPECT_EQ(at(v, {1, 5, 0}).value.text.size(), 11u);
}

TEST(MibView, PortTableIsColumnMajorIndexedByPortIdPlusOne) {
    const auto v = build_view(sample());
    // name.1 (port 0) then name.4 (port 3), then the driver column.
    const auto* e = find_next(v, object_oid({2}));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->oid, object_oid({2, 1, 2, 1}));
    EXPECT_EQ(e->value.text, "wan");
    e = find_next(v, e->oid);
    EXPECT_EQ(e->oid, object_oid({2, 1, 2, 4}));
    EXPECT_EQ(e->value.text, "lan");
    e = find_next(v, e->oid);
    EXPECT_EQ(e->oid, object_oid({2, 1, 3, 1}));
    EXPECT_EQ(e->value.text, "net_pcap");
    EXPECT_EQ(at(v, {2, 1, 4, 1}).value.number, 1u);  // up
    EXPECT_EQ(at(v, {2, 1, 4, 4}).value.number, 2u);  // down
    EXPECT_EQ(at(v, {2, 1, 5, 1}).value.type, value_type::gauge32);
    EXPECT_EQ(at(v, {2, 1, 6, 1}).value.number, 100u);
    EXPECT_EQ(at(v, {2, 1, 6, 4}).value.number, 200u);
    EXPECT_EQ(at(v, {2, 1, 8, 1}).value.number, 6400u);
    EXPECT_EQ(at(v, {2, 1, 12, 1}).value.number, 3u);
    EXPECT_EQ(at(v, {2, 1, 6, 1}).value.type, value_type::counter64);
    EXPECT_EQ(find_exact(v, object_oid({2, 1, 6, 2})), nullptr);  // no port 1
}

TEST(MibView, ClassTableHasEveryClassWithItsBaseCounters) {
    const auto s = sample();
    const auto v = build_view(s);
    for (std::size_t c = 0; c < class_count; ++c) {
        const std::uint32_t i = static_cast<std::uint32_t>(c) + 1;
        EXPECT_EQ(at(v, {3, 1, 2, i}).value.text, ports::pipelines::class_names[c]);
        for (std::uint32_t k = 0; k < 4; ++k) {
            EXPECT_EQ(at(v, {3, 1, 3 + k, i}).value.number, s.classes.values[class_base[c] + k]);
        }
    }
    EXPECT_EQ(at(v, {3, 1, 5, 2}).value.number, s.classes.get(counter::snmp_malformed));
}

TEST(MibView, DetailTableHasEveryDetailCounterOfTheXMacro) {
    const auto s = sample();
    const auto v = build_view(s);
    std::size_t names = 0;
    std::set<std::uint64_t> values;
    for (const auto& e : v) {
        const auto prefix = object_oid({4, 1, 2});
        if (std::equal(prefix.begin(), prefix.end(), e.oid.begin()) &&
            e.oid.size() == prefix.size() + 2) {
            ++names;
        }
        const auto vprefix = object_oid({4, 1, 3});
        if (std::equal(vprefix.begin(), vprefix.end(), e.oid.begin())) {
            values.insert(e.value.number);
        }
    }
    EXPECT_EQ(names, counter_count - 4 * class_count);
    EXPECT_EQ(values.size(), counter_count - 4 * class_count);
    // GRE's first detail counter is version_0; L2TP's fourth is data; other's last later_fragment.
    EXPECT_EQ(at(v, {4, 1, 2, 6, 1}).value.text, "version_0");
    EXPECT_EQ(at(v, {4, 1, 3, 6, 1}).value.number, s.classes.get(counter::gre_version_0));
    EXPECT_EQ(at(v, {4, 1, 2, 4, 4}).value.text, "data");
    EXPECT_EQ(at(v, {4, 1, 3, 4, 4}).value.number, s.classes.get(counter::l2tp_data));
    EXPECT_EQ(at(v, {4, 1, 2, 7, 5}).value.text, "later_fragment");
    EXPECT_EQ(at(v, {4, 1, 3, 3, 13}).value.number, s.classes.get(counter::snmp_trap_encrypted));
}

TEST(MibView, NtpServerGroup) {
    const auto v = build_view(sample());
    EXPECT_EQ(at(v, {5, 1, 0}).value.number, 1u);  // TruthValue true
    EXPECT_EQ(at(v, {5, 2, 0}).value.number, 50u);
    EXPECT_EQ(at(v, {5, 3, 0}).value.number, 49u);
    EXPECT_EQ(at(v, {5, 7, 0}).value.number, 1u);
    EXPECT_EQ(at(v, {5, 17, 0}).value.number, 7u);
    EXPECT_EQ(at(v, {5, 18, 0}).value.number, 1u);
    EXPECT_EQ(at(v, {5, 19, 0}).value.number, 0u);
    // After leap: the receive stamps' refusals, interleaved replies and misses.
    EXPECT_EQ(at(v, {5, 20, 0}).value.number, 3u);
    EXPECT_EQ(at(v, {5, 21, 0}).value.number, 11u);
    EXPECT_EQ(at(v, {5, 22, 0}).value.number, 2u);
    EXPECT_EQ(find_exact(v, object_oid({5, 23, 0})), nullptr);
}

TEST(MibView, LcoreTableIndexedByLcorePlusOne) {
    const auto v = build_view(sample());
    EXPECT_EQ(at(v, {6, 1, 2, 1}).value.number, 0u);
    EXPECT_EQ(at(v, {6, 1, 2, 3}).value.number, 2u);
    EXPECT_EQ(at(v, {6, 1, 3, 3}).value.number, 20u);
    EXPECT_EQ(at(v, {6, 1, 6, 1}).value.number, 2500u);
    EXPECT_EQ(at(v, {6, 1, 6, 3}).value.number, 10000u);
    // The fate columns follow the busy share.
    EXPECT_EQ(at(v, {6, 1, 7, 1}).value.number, 4u);   // forwarded
    EXPECT_EQ(at(v, {6, 1, 8, 3}).value.number, 20u);  // replied
    EXPECT_EQ(at(v, {6, 1, 11, 1}).value.number, 1u);  // dropped
}

TEST(MibView, RuleTableIsEmptyWithoutRulesAndFilledFromTheSnapshot) {
    auto s = sample();
    auto v = build_view(s);
    // Without rules the lcore table is followed by the NTS group (arc 8 has no instances).
    const auto* next = find_next(v, object_oid({6, 1, 11, 3}));
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(next->oid, object_oid({9, 1, 0}));
    s.rules = {{"r-1", "bad ntp", traffic_class::ntp, "alert", 42}};
    v = build_view(s);
    EXPECT_EQ(at(v, {7, 1, 2, 1}).value.text, "r-1");
    EXPECT_EQ(at(v, {7, 1, 4, 1}).value.number, 1u);
    EXPECT_EQ(at(v, {7, 1, 6, 1}).value.number, 42u);
    next = find_next(v, object_oid({7, 1, 6, 1}));
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(next->oid, object_oid({9, 1, 0}));
}

mib_snapshot with_nts_and_exception_path() {
    auto s = sample();
    auto& t = s.nts;
    t.enabled = true;
    t.requests = 201;
    t.replies = 202;
    t.naks = 203;
    t.auth_failed = 204;
    t.malformed = 205;
    t.cookies_issued = 206;
    t.rate_limited = 207;
    t.ke_accepted = 208;
    t.ke_sessions_ok = 209;
    t.ke_tls_failed = 210;
    t.ke_bad_request = 211;
    t.ke_timeouts = 212;
    t.ke_rejected = 213;
    t.ke_cookies_issued = 214;
    t.master_keys = 3;
    t.key_rotations = 217;
    t.key_reloads = 218;
    t.key_reload_failures = 219;
    auto& x = s.exceptions;
    x.enabled = true;
    x.to_kernel = 302;
    x.from_kernel = 303;
    x.rate_dropped = 304;
    return s;
}

TEST(MibView, NtsGroupServesTheSnapshotInTheMibsOrder) {
    const auto v = build_view(with_nts_and_exception_path());
    EXPECT_EQ(at(v, {9, 1, 0}).value.type, value_type::integer);
    EXPECT_EQ(at(v, {9, 1, 0}).value.number, 1u);  // TruthValue true
    // portsEngineNtsRequests(2) .. portsEngineNtsKeCookiesIssued(15): Counter64, 201..214.
    for (std::uint32_t arc = 2; arc <= 15; ++arc) {
        const auto& e = at(v, {9, arc, 0});
        EXPECT_EQ(e.value.type, value_type::counter64) << "arc " << arc;
        EXPECT_EQ(e.value.number, 199u + arc) << "arc " << arc;
    }
    EXPECT_EQ(at(v, {9, 14, 0}).value.number, 213u);               // portsEngineNtsKeRejected
    EXPECT_EQ(at(v, {9, 16, 0}).value.type, value_type::gauge32);  // portsEngineNtsMasterKeys
    EXPECT_EQ(at(v, {9, 16, 0}).value.number, 3u);
    for (std::uint32_t arc = 17; arc <= 19; ++arc) {
        const auto& e = at(v, {9, arc, 0});
        EXPECT_EQ(e.value.type, value_type::counter64) << "arc " << arc;
        EXPECT_EQ(e.value.number, 200u + arc) << "arc " << arc;
    }
    EXPECT_EQ(find_exact(v, object_oid({9, 20, 0})), nullptr);
    // A walk goes 9.1.0 .. 9.19.0 and straight on to the exception path group.
    const auto* e = find_next(v, object_oid({9}));
    for (std::uint32_t arc = 1; arc <= 19; ++arc) {
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->oid, object_oid({9, arc, 0}));
        e = find_next(v, e->oid);
    }
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->oid, object_oid({10, 1, 0}));
}

TEST(MibView, ExceptionPathGroupServesTheSnapshotAndEndsTheMib) {
    const auto v = build_view(with_nts_and_exception_path());
    EXPECT_EQ(at(v, {10, 1, 0}).value.type, value_type::integer);
    EXPECT_EQ(at(v, {10, 1, 0}).value.number, 1u);
    for (std::uint32_t arc = 2; arc <= 4; ++arc) {
        const auto& e = at(v, {10, arc, 0});
        EXPECT_EQ(e.value.type, value_type::counter64) << "arc " << arc;
        EXPECT_EQ(e.value.number, 300u + arc) << "arc " << arc;
    }
    // The tunnel group follows, whatever the configuration.
    const mib_entry* next = find_next(v, object_oid({10, 4, 0}));
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(next->oid, object_oid({11, 1, 0}));
}

TEST(MibView, NtsAndExceptionPathGroupsAreServedDisabled) {
    // sample() configures neither: both groups are there, false(2) and zeros.
    const auto v = build_view(sample());
    EXPECT_EQ(at(v, {9, 1, 0}).value.type, value_type::integer);
    EXPECT_EQ(at(v, {9, 1, 0}).value.number, 2u);  // TruthValue false
    for (std::uint32_t arc = 2; arc <= 19; ++arc) {
        const auto& e = at(v, {9, arc, 0});
        EXPECT_EQ(e.value.type, arc == 16 ? value_type::gauge32 : value_type::counter64)
            << "arc " << arc;
        EXPECT_EQ(e.value.number, 0u) << "arc " << arc;
    }
    EXPECT_EQ(at(v, {10, 1, 0}).value.number, 2u);
    for (std::uint32_t arc = 2; arc <= 4; ++arc) {
        EXPECT_EQ(at(v, {10, arc, 0}).value.type, value_type::counter64);
        EXPECT_EQ(at(v, {10, arc, 0}).value.number, 0u);
    }
}

TEST(MibView, GetNextWalksFromBeforeTheRootToTheEnd) {
    const auto v = build_view(sample());
    const oid_vector before = {1, 3, 6, 1, 4, 1, 8072};
    const auto* e = find_next(v, before);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->oid, object_oid({1, 1, 0}));
    std::size_t steps = 1;
    while ((e = find_next(v, e->oid)) != nullptr) {
        ++steps;
    }
    EXPECT_EQ(steps, v.size());
    // An OID between instances finds the next one (a column's OID finds its first row).
    EXPECT_EQ(find_next(v, object_oid({6, 1, 3}))->oid, object_oid({6, 1, 3, 1}));
    const oid_vector after = {1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 4701};
    EXPECT_EQ(find_next(v, after), nullptr);
}

TEST(MibView, DateAndTimeIsUtcWithDeciseconds) {
    // 2026-11-27T08:30:15.7Z
    const auto t =
        std::chrono::system_clock::from_time_t(1795768215) + std::chrono::milliseconds(750);
    const std::string d = date_and_time(t);
    ASSERT_EQ(d.size(), 11u);
    EXPECT_EQ(static_cast<unsigned char>(d[0]) * 256 + static_cast<unsigned char>(d[1]), 2026);
    EXPECT_EQ(d[2], 11);
    EXPECT_EQ(d[3], 27);
    EXPECT_EQ(d[4], 8);
    EXPECT_EQ(d[5], 30);
    EXPECT_EQ(d[6], 15);
    EXPECT_EQ(d[7], 7);
    EXPECT_EQ(d[8], '+');
}

TEST(MibNotifications, CarryTheirObjectsInstances) {
    const auto s = sample();
    const oid_vector root(std::begin(mib_root), std::end(mib_root));
    auto n = link_notification(s.ports[1], false);
    oid_vector expect = root;
    expect.insert(expect.end(), {0, 3});
    EXPECT_EQ(n.trap_oid, expect);
    ASSERT_EQ(n.varbinds.size(), 2u);
    EXPECT_EQ(n.varbinds[0].oid, object_oid({2, 1, 2, 4}));
    EXPECT_EQ(n.varbinds[0].value.text, "lan");
    EXPECT_EQ(n.varbinds[1].value.number, 2u);
    n = link_notification(s.ports[0], true);
    EXPECT_EQ(n.trap_oid.back(), 4u);
    n = threshold_notification("ntp.malformed", 120, 100);
    EXPECT_EQ(n.trap_oid.back(), 5u);
    EXPECT_EQ(n.varbinds[0].oid, object_oid({8, 1, 0}));
    EXPECT_EQ(n.varbinds[1].value.number, 120u);
    EXPECT_EQ(n.varbinds[2].value.number, 100u);
    n = started_notification(s);
    EXPECT_EQ(n.trap_oid.back(), 1u);
    EXPECT_EQ(n.varbinds[0].value.text, "9.8.7");
    n = stopping_notification(s);
    EXPECT_EQ(n.trap_oid.back(), 2u);
    n = rule_alert_notification({"r-9", "x", traffic_class::gre, "alert", 5}, 3);
    EXPECT_EQ(n.trap_oid.back(), 6u);
    EXPECT_EQ(n.varbinds[2].oid, object_oid({7, 1, 4, 3}));
    EXPECT_EQ(n.varbinds[2].value.number, 6u);
}

// IF-MIB rows (ifTable, ifXTable) of the engine's ports: sample() with ifIndexes, as the
// engine's snapshot source fills them.
mib_snapshot with_if_rows() {
    auto s = sample();
    const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    s.started = t0;
    s.master_epoch = t0 - std::chrono::seconds(5);  // snmpd started 5 s before the engine
    auto& a = s.ports[0];
    a.if_index = 1000000;
    a.alias = "uplink";
    a.mtu = 1500;
    a.mac = std::string("\x02\x00\x00\x00\x00\x01", 6);
    a.promiscuous = true;
    a.connector = true;
    a.last_change = t0 + std::chrono::milliseconds(2340);
    a.tx_octets = 0x100000005ull;  // past 2^32: the Counter32 form wraps
    a.rx_errors = 4;
    a.rx_missed = 5;
    a.tx_errors = 6;
    a.rx_cast = cast_split{90, 7, 3};
    a.tx_unicast = 11;
    a.tx_multicast = 12;
    a.tx_broadcast = 13;
    auto& b = s.ports[1];
    b.if_index = 1000003;
    b.ethernet = false;
    b.link_traps = false;
    b.last_change = t0;
    b.speed_mbps = 100000;  // 1e11 b/s: ifSpeed saturates, ifHighSpeed says it
    b.rx_cast = cast_split{200, 0, 0};
    return s;
}

oid_vector if_oid(std::span<const std::uint32_t> entry, std::uint32_t col, std::uint32_t index) {
    oid_vector o(entry.begin(), entry.end());
    o.push_back(col);
    o.push_back(index);
    return o;
}

const mib_value& if_at(const mib_view& v, std::span<const std::uint32_t> entry, std::uint32_t col,
                       std::uint32_t index) {
    const mib_entry* e = find_exact(v, if_oid(entry, col, index));
    if (e == nullptr) {
        throw std::runtime_error("no such IF-MIB instance, column " + std::to_string(col));
    }
    return e->value;
}

TEST(MibIfTable, RowsOfEveryPortWithTheirValues) {
    const auto v = build_view(with_if_rows());
    const std::span<const std::uint32_t> e(if_entry_oid);
    EXPECT_EQ(if_at(v, e, 1, 1000000).number, 1000000u);  // ifIndex
    EXPECT_EQ(if_at(v, e, 1, 1000003).number, 1000003u);
    EXPECT_EQ(if_at(v, e, 2, 1000000).text, "wan");  // ifDescr: the port's name
    EXPECT_EQ(if_at(v, e, 3, 1000000).number, 6u);   // ethernetCsmacd
    EXPECT_EQ(if_at(v, e, 3, 1000003).number, 1u);   // other
    EXPECT_EQ(if_at(v, e, 4, 1000000).number, 1500u);
    EXPECT_EQ(if_at(v, e, 5, 1000000).type, value_type::gauge32);
    EXPECT_EQ(if_at(v, e, 5, 1000000).number, 4294967295u);  // 10 Gb/s > Gauge32
    EXPECT_EQ(if_at(v, e, 6, 1000000).text.size(), 6u);
    EXPECT_EQ(if_at(v, e, 6, 1000000).text[5], 1);
    EXPECT_EQ(if_at(v, e, 7, 1000000).number, 1u);  // admin up
    EXPECT_EQ(if_at(v, e, 8, 1000000).number, 1u);  // oper up
    EXPECT_EQ(if_at(v, e, 8, 1000003).number, 2u);  // oper down
    EXPECT_EQ(if_at(v, e, 9, 1000000).type, value_type::timeticks);
    EXPECT_EQ(if_at(v, e, 9, 1000000).number, 734u);  // 5 s + 2.34 s after snmpd's start
    EXPECT_EQ(if_at(v, e, 9, 1000003).number, 500u);
    EXPECT_EQ(if_at(v, e, 10, 1000000).type, value_type::counter32);
    EXPECT_EQ(if_at(v, e, 10, 1000000).number, 6400u);
    EXPECT_EQ(if_at(v, e, 11, 1000000).number, 90u);
    EXPECT_EQ(if_at(v, e, 13, 1000000).number, 8u);  // missed 5 + no mbuf 3
    EXPECT_EQ(if_at(v, e, 14, 1000000).number, 4u);
    EXPECT_EQ(if_at(v, e, 16, 1000000).number, 5u);  // 2^32 + 5, modulo 2^32
    EXPECT_EQ(if_at(v, e, 17, 1000000).number, 11u);
    EXPECT_EQ(if_at(v, e, 20, 1000000).number, 6u);
    // Not instantiated: what the engine cannot say (deprecated, unknown protos, out
    // discards per port) and, for the second port, the Out casts its PMD does not name.
    for (std::uint32_t col : {12u, 15u, 18u, 19u, 21u, 22u}) {
        EXPECT_EQ(find_exact(v, if_oid(e, col, 1000000)), nullptr) << "column " << col;
    }
    EXPECT_EQ(find_exact(v, if_oid(e, 17, 1000003)), nullptr);
}

TEST(MibIfTable, IfXTableRows) {
    const auto v = build_view(with_if_rows());
    const std::span<const std::uint32_t> x(if_x_entry_oid);
    EXPECT_EQ(if_at(v, x, 1, 1000000).text, "wan");  // ifName
    EXPECT_EQ(if_at(v, x, 2, 1000000).type, value_type::counter32);
    EXPECT_EQ(if_at(v, x, 2, 1000000).number, 7u);
    EXPECT_EQ(if_at(v, x, 3, 1000000).number, 3u);
    EXPECT_EQ(if_at(v, x, 4, 1000000).number, 12u);
    EXPECT_EQ(if_at(v, x, 5, 1000000).number, 13u);
    EXPECT_EQ(if_at(v, x, 6, 1000000).type, value_type::counter64);
    EXPECT_EQ(if_at(v, x, 6, 1000000).number, 6400u);
    EXPECT_EQ(if_at(v, x, 7, 1000000).number, 90u);
    EXPECT_EQ(if_at(v, x, 8, 1000000).number, 7u);
    EXPECT_EQ(if_at(v, x, 9, 1000000).number, 3u);
    EXPECT_EQ(if_at(v, x, 10, 1000000).number, 0x100000005ull);  // HC: no wrap
    EXPECT_EQ(if_at(v, x, 11, 1000000).number, 11u);
    EXPECT_EQ(if_at(v, x, 12, 1000000).number, 12u);
    EXPECT_EQ(if_at(v, x, 13, 1000000).number, 13u);
    EXPECT_EQ(if_at(v, x, 14, 1000000).number, 1u);  // enabled
    EXPECT_EQ(if_at(v, x, 14, 1000003).number, 2u);  // disabled
    EXPECT_EQ(if_at(v, x, 15, 1000000).number, 10000u);
    EXPECT_EQ(if_at(v, x, 15, 1000003).number, 100000u);
    EXPECT_EQ(if_at(v, x, 16, 1000000).number, 1u);  // promiscuous: true
    EXPECT_EQ(if_at(v, x, 16, 1000003).number, 2u);
    EXPECT_EQ(if_at(v, x, 17, 1000000).number, 1u);  // connector: true
    EXPECT_EQ(if_at(v, x, 17, 1000003).number, 2u);
    EXPECT_EQ(if_at(v, x, 18, 1000000).text, "uplink");
    EXPECT_EQ(if_at(v, x, 18, 1000003).text, "");
    EXPECT_EQ(if_at(v, x, 19, 1000000).type, value_type::timeticks);
    EXPECT_EQ(if_at(v, x, 19, 1000000).number, 500u);  // the engine's start
    for (std::uint32_t col : {4u, 5u, 11u, 12u, 13u}) {
        EXPECT_EQ(find_exact(v, if_oid(x, col, 1000003)), nullptr) << "column " << col;
    }
    EXPECT_EQ(if_at(v, x, 8, 1000003).number, 0u);  // counted, none: instantiated as 0
}

TEST(MibIfTable, ColumnMajorBeforeTheEnterpriseMibAndWhereWalksStart) {
    const auto v = build_view(with_if_rows());
    // ifIndex.1000000, ifIndex.1000003, ifDescr.1000000, ...
    const oid_vector table(if_entry_oid, if_entry_oid + std::size(if_entry_oid) - 1);
    const auto* e = find_next(v, table);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e, &v.front());
    EXPECT_EQ(e->oid, if_oid(if_entry_oid, 1, 1000000));
    EXPECT_TRUE(starts_walk(v, e));
    e = find_next(v, e->oid);
    EXPECT_EQ(e->oid, if_oid(if_entry_oid, 1, 1000003));
    EXPECT_FALSE(starts_walk(v, e));
    e = find_next(v, e->oid);
    EXPECT_EQ(e->oid, if_oid(if_entry_oid, 2, 1000000));
    EXPECT_FALSE(starts_walk(v, e));
    // The last ifTable instance is followed by the first ifXTable one, then PORTS-ENGINE-MIB.
    e = find_next(v, if_oid(if_entry_oid, 20, 1000003));
    EXPECT_EQ(e->oid, if_oid(if_x_entry_oid, 1, 1000000));
    EXPECT_TRUE(starts_walk(v, e));
    e = find_next(v, if_oid(if_x_entry_oid, 19, 1000003));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->oid, object_oid({1, 1, 0}));
    EXPECT_TRUE(starts_walk(v, e));
    EXPECT_FALSE(starts_walk(v, find_next(v, e->oid)));
    EXPECT_FALSE(starts_walk(v, nullptr));
    for (std::size_t i = 1; i < v.size(); ++i) {
        ASSERT_LT(compare_oid(v[i - 1].oid, v[i].oid), 0) << "entry " << i;
    }
}

TEST(MibIfTable, TimeStampsAreZeroBeforeOrWithoutSnmpdsStart) {
    auto s = with_if_rows();
    EXPECT_EQ(master_ticks(s, s.started), 500u);
    s.master_epoch = s.started + std::chrono::seconds(60);  // snmpd restarted after the engine
    EXPECT_EQ(master_ticks(s, s.started), 0u);
    auto v = build_view(s);
    EXPECT_EQ(if_at(v, if_x_entry_oid, 19, 1000000).number, 0u);
    EXPECT_EQ(if_at(v, if_entry_oid, 9, 1000000).number, 0u);
    s.master_epoch.reset();  // unknown
    v = build_view(s);
    EXPECT_EQ(if_at(v, if_entry_oid, 9, 1000000).number, 0u);
}

TEST(MibIfTable, PortsWithoutAnIfIndexHaveNoRows) {
    const auto v = build_view(sample());
    const oid_vector mib2 = {1, 3, 6, 1, 2, 1};
    EXPECT_EQ(find_next(v, mib2)->oid, object_oid({1, 1, 0}));
}

TEST(MibNotifications, IfMibLinkDownAndUp) {
    const auto s = with_if_rows();
    auto n = if_link_notification(s.ports[1], false);
    EXPECT_EQ(n.trap_oid, (oid_vector{1, 3, 6, 1, 6, 3, 1, 1, 5, 3}));
    ASSERT_EQ(n.varbinds.size(), 3u);
    EXPECT_EQ(n.varbinds[0].oid, if_oid(if_entry_oid, 1, 1000003));
    EXPECT_EQ(n.varbinds[0].value.number, 1000003u);
    EXPECT_EQ(n.varbinds[1].oid, if_oid(if_entry_oid, 7, 1000003));
    EXPECT_EQ(n.varbinds[1].value.number, 1u);
    EXPECT_EQ(n.varbinds[2].oid, if_oid(if_entry_oid, 8, 1000003));
    EXPECT_EQ(n.varbinds[2].value.number, 2u);
    n = if_link_notification(s.ports[0], true);
    EXPECT_EQ(n.trap_oid.back(), 4u);
    EXPECT_EQ(n.varbinds[2].value.number, 1u);
}

}  // namespace

// Tunnels: the group's figures and the four tables, each bounded to the largest objects.

namespace {

ports::tunnels::ip_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    ports::tunnels::ip_address x;
    x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
    return x;
}

ports::tunnels::row tunnel(ports::tunnels::kind k, std::uint8_t host, std::uint64_t bytes,
                           ports::tunnels::state st = ports::tunnels::state::established) {
    ports::tunnels::row r;
    r.e.k = k;
    r.e.st = st;
    r.e.was_up = st == ports::tunnels::state::established || st == ports::tunnels::state::closed;
    r.e.client = v4(192, 0, 2, host);
    r.e.server = v4(198, 51, 100, 1);
    r.e.client_id = 100 + host;
    r.e.has_client_id = true;
    r.e.server_id = 200 + host;
    r.e.has_server_id = true;
    r.e.packets = {3, 4};
    r.e.bytes = {bytes, 1};
    r.e.l2tp_version = 2;
    return r;
}

}  // namespace

TEST(MibTunnels, ServedDisabledWithEmptyTables) {
    const auto v = build_view(sample());
    EXPECT_EQ(at(v, {11, 1, 0}).value.number, 2u);  // false(2)
    for (std::uint32_t arc = 2; arc <= 10; ++arc) {
        EXPECT_EQ(at(v, {11, arc, 0}).value.number, 0u) << "arc " << arc;
    }
    // No row in any of the four tables: nothing after the group in PORTS-ENGINE-MIB.
    const mib_entry* next = find_next(v, object_oid({11, 10, 0}));
    EXPECT_TRUE(next == nullptr || compare_oid(next->oid, object_oid({16})) >= 0);
}

TEST(MibTunnels, LargestRowsOfEachKindRankedByOctets) {
    using ports::tunnels::kind;
    std::vector<ports::tunnels::row> rows = {
        tunnel(kind::pptp_call, 1, 500),    tunnel(kind::pptp_call, 2, 900),
        tunnel(kind::pptp_call, 3, 100),    tunnel(kind::l2tp_tunnel, 4, 50),
        tunnel(kind::l2tp_session, 5, 70),  tunnel(kind::gre_tunnel, 6, 10),
        tunnel(kind::pptp_control, 7, 5000)};
    rows[3].e.client_name_length = 3;
    rows[3].e.client_name[0] = 'l', rows[3].e.client_name[1] = 'a', rows[3].e.client_name[2] = 'c';
    rows[5].e.has_client_id = rows[5].e.has_server_id = false;
    rows[5].e.st = ports::tunnels::state::data;
    ports::tunnels::table_stats st;
    st.frames = 77;
    st.table_full = 3;
    auto s = sample();
    s.tunnels = tunnel_figures_of(rows, st, 4096, 2);
    s.tunnels.notifications_suppressed = 9;
    ASSERT_EQ(s.tunnels.pptp_calls.size(), 2u);  // bounded
    const auto v = build_view(s);
    EXPECT_EQ(at(v, {11, 1, 0}).value.number, 1u);
    EXPECT_EQ(at(v, {11, 2, 0}).value.number, 4096u);
    EXPECT_EQ(at(v, {11, 3, 0}).value.number, 7u);  // every object, control connections too
    EXPECT_EQ(at(v, {11, 4, 0}).value.number, 77u);
    EXPECT_EQ(at(v, {11, 5, 0}).value.number, 3u);
    EXPECT_EQ(at(v, {11, 9, 0}).value.number, 2u);
    EXPECT_EQ(at(v, {11, 10, 0}).value.number, 9u);
    // PPTP calls: the two largest, 900 then 500 octets; the third is not served.
    EXPECT_EQ(at(v, {12, 1, 11, 1}).value.number, 900u);
    EXPECT_EQ(at(v, {12, 1, 11, 2}).value.number, 500u);
    EXPECT_EQ(find_exact(v, object_oid({12, 1, 11, 3})), nullptr);
    EXPECT_EQ(at(v, {12, 1, 2, 1}).value.number, 1u);  // ipv4(1)
    EXPECT_EQ(at(v, {12, 1, 3, 1}).value.text, std::string("\xc0\x00\x02\x02", 4));
    EXPECT_EQ(at(v, {12, 1, 5, 1}).value.text, std::string("\xc6\x33\x64\x01", 4));
    EXPECT_EQ(at(v, {12, 1, 6, 1}).value.number, 102u);
    EXPECT_EQ(at(v, {12, 1, 7, 1}).value.number, 202u);
    EXPECT_EQ(at(v, {12, 1, 8, 1}).value.number, 3u);  // established(3)
    EXPECT_EQ(at(v, {12, 1, 9, 1}).value.type, value_type::counter64);
    EXPECT_EQ(at(v, {12, 1, 10, 1}).value.number, 4u);
    EXPECT_EQ(at(v, {12, 1, 12, 1}).value.number, 1u);
    // L2TP tunnel and session rows with their own columns.
    EXPECT_EQ(at(v, {13, 1, 13, 1}).value.text, "lac");
    EXPECT_EQ(at(v, {13, 1, 14, 1}).value.text, "");
    EXPECT_EQ(at(v, {13, 1, 15, 1}).value.number, 2u);
    EXPECT_EQ(at(v, {14, 1, 6, 1}).value.number, 105u);
    EXPECT_EQ(at(v, {14, 1, 15, 1}).value.number, 2u);
    // A GRE tunnel without a key: no ID columns, KeyPresent false, state data(6).
    EXPECT_EQ(find_exact(v, object_oid({15, 1, 6, 1})), nullptr);
    EXPECT_EQ(find_exact(v, object_oid({15, 1, 7, 1})), nullptr);
    EXPECT_EQ(at(v, {15, 1, 8, 1}).value.number, 6u);
    EXPECT_EQ(at(v, {15, 1, 13, 1}).value.number, 2u);
    // Column-major order within a table: a walk reads ClientAddressType of every row first.
    const mib_entry* e = find_next(v, object_oid({12, 1, 2, 1}));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->oid, object_oid({12, 1, 2, 2}));
}

TEST(MibTunnels, UpAndDownNotificationsCarryTheirObjects) {
    const auto r = tunnel(ports::tunnels::kind::l2tp_tunnel, 9, 10);
    auto n = tunnel_up_notification(r.e);
    EXPECT_EQ(n.trap_oid.back(), 7u);
    ASSERT_EQ(n.varbinds.size(), 7u);
    EXPECT_EQ(n.varbinds[0].oid, object_oid({8, 4, 0}));
    EXPECT_EQ(n.varbinds[0].value.number, 2u);  // l2tpTunnel(2)
    EXPECT_EQ(n.varbinds[2].value.text, std::string("\xc0\x00\x02\x09", 4));
    EXPECT_EQ(n.varbinds[5].value.number, 109u);
    EXPECT_EQ(n.varbinds[6].value.number, 209u);
    n = tunnel_down_notification(r.e, tunnel_down_reason::expired);
    EXPECT_EQ(n.trap_oid.back(), 8u);
    ASSERT_EQ(n.varbinds.size(), 8u);
    EXPECT_EQ(n.varbinds[7].oid, object_oid({8, 11, 0}));
    EXPECT_EQ(n.varbinds[7].value.number, 2u);
}

namespace {

// (up or down, the client's last address octet, down reason or 0) of each notification.
std::vector<std::tuple<bool, int, int>> summary(const std::vector<notification>& ns) {
    std::vector<std::tuple<bool, int, int>> out;
    for (const auto& n : ns) {
        const bool up = n.trap_oid.back() == 7;
        out.emplace_back(up, static_cast<unsigned char>(n.varbinds[2].value.text[3]),
                         up ? 0 : static_cast<int>(n.varbinds[7].value.number));
    }
    return out;
}

}  // namespace

TEST(MibTunnels, WatchSendsUpOnceThenDownClosedOrExpired) {
    using ports::tunnels::kind;
    using ports::tunnels::state;
    using v = std::vector<std::tuple<bool, int, int>>;
    tunnel_watch w(100);
    auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    const auto look = [&](const std::vector<ports::tunnels::row>& rows) {
        t += std::chrono::seconds(1);
        return summary(w.look(rows, t));
    };
    // Requested only: nothing. Established: up, once. GRE and data kinds: never.
    EXPECT_EQ(
        look({tunnel(kind::pptp_call, 1, 10, state::requested), tunnel(kind::gre_tunnel, 2, 10)}),
        v{});
    EXPECT_EQ(look({tunnel(kind::pptp_call, 1, 10)}), (v{{true, 1, 0}}));
    EXPECT_EQ(look({tunnel(kind::pptp_call, 1, 10)}), v{});
    // Closed: down closed(1), once, while it stays in the tables.
    EXPECT_EQ(look({tunnel(kind::pptp_call, 1, 10, state::closed)}), (v{{false, 1, 1}}));
    EXPECT_EQ(look({tunnel(kind::pptp_call, 1, 10, state::closed)}), v{});
    // Up and closed between two looks: up, then down.
    EXPECT_EQ(look({tunnel(kind::l2tp_tunnel, 3, 10, state::closed)}),
              (v{{true, 3, 0}, {false, 3, 1}}));
    // Up, then gone from the tables: down expired(2).
    EXPECT_EQ(look({tunnel(kind::l2tp_tunnel, 4, 10)}), (v{{true, 4, 0}}));
    EXPECT_EQ(look({}), (v{{false, 4, 2}}));
    EXPECT_EQ(look({}), v{});
    // The same IDs given out again: the old one down, the new one up when it is.
    EXPECT_EQ(look({tunnel(kind::pptp_call, 5, 10)}), (v{{true, 5, 0}}));
    EXPECT_EQ(look({tunnel(kind::pptp_call, 5, 10, state::requested)}), (v{{false, 5, 2}}));
    EXPECT_EQ(look({tunnel(kind::pptp_call, 5, 10)}), (v{{true, 5, 0}}));
    EXPECT_EQ(w.suppressed(), 0u);
}

TEST(MibTunnels, WatchIsRateLimited) {
    using ports::tunnels::kind;
    using ports::tunnels::state;
    tunnel_watch w(2);  // 2 a second, a burst of 2
    auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    std::vector<ports::tunnels::row> five;
    for (std::uint8_t h = 1; h <= 5; ++h) {
        five.push_back(tunnel(kind::pptp_call, h, 10));
    }
    auto sent = w.look(five, t);
    EXPECT_EQ(sent.size(), 2u);  // the burst
    EXPECT_EQ(w.suppressed(), 3u);
    // The suppressed ones are not sent later, nor their downs; the sent ones' downs are, at
    // the rate: one look a second later, two tokens.
    for (auto& r : five) {
        r.e.st = state::closed;
    }
    t += std::chrono::seconds(1);
    sent = w.look(five, t);
    EXPECT_EQ(sent.size(), 2u);
    for (const auto& n : sent) {
        EXPECT_EQ(n.trap_oid.back(), 8u);
    }
    EXPECT_EQ(w.suppressed(), 3u);
    // A down over the rate waits: four calls up and gone in one look, two tokens a second.
    tunnel_watch slow(2);
    std::vector<ports::tunnels::row> two = {tunnel(kind::pptp_call, 1, 10),
                                            tunnel(kind::pptp_call, 2, 10)};
    EXPECT_EQ(slow.look(two, t).size(), 2u);  // both up, the bucket empty
    t += std::chrono::milliseconds(500);      // one token back
    EXPECT_EQ(slow.look({}, t).size(), 1u);   // one down now
    t += std::chrono::milliseconds(500);
    EXPECT_EQ(slow.look({}, t).size(), 1u);  // the other at the next look
    EXPECT_EQ(slow.suppressed(), 0u);
}
