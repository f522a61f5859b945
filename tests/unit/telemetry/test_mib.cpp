// The flat view of PORTS-ENGINE-MIB: OID order, table layout (column-major, rows by index) and
// the values of every group, as a snmpwalk sees them.
#include <gtest/gtest.h>

#include <set>

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
    EXPECT_EQ(find_next(v, object_oid({10, 4, 0})), nullptr);
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

}  // namespace
