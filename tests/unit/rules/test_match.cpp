// Compiled sets against frames: which rules match, once each; class any; counters by slot
// across recompiles; compile errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "capture_frames.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/rules.hpp"
#include "trafficgen.hpp"

using namespace ports;
using pipelines::traffic_class;

namespace {

template <class Frame>
parsers::byte_span span_of(const Frame& f) {
    return parsers::byte_span(f.data(), f.size());
}

// The ids of the rules that match a frame, in the order reported; every report counted.
template <class Frame>
std::vector<std::string> matches(const rules::rule_set& set, rules::scratch& s, const Frame& f) {
    const auto bytes = span_of(f);
    const auto cls = pipelines::classify_frame(bytes).cls;
    std::vector<std::string> ids;
    rules::match_frame(set, s, bytes, cls, [&](std::uint32_t i) { ids.push_back(set.at(i).id); });
    std::sort(ids.begin(), ids.end());
    return ids;
}

using ids = std::vector<std::string>;

constexpr const char* pack = R"(rules:
  - id: ntp-monlist
    class: ntp
    match: {field: ntp.request_code, equals: 42}
    action: alert
  - id: ntp-mode7
    class: ntp
    match: {field: ntp.mode, equals: 7}
    action: count
  - id: ntp-mode6
    class: ntp
    match: {field: ntp.mode, equals: 6}
    action: count
  - id: snmp-default-community
    class: any
    match: {field: snmp.community, regex: "^(public|private)$"}
    action: count
  - id: snmp-set
    class: snmp
    match: {field: snmp.pdu, equals: 3}
    action: drop
  - id: snmp-set-by-name
    class: snmp
    match: {field: snmp.pdu, regex: "^set$"}
    action: count
  - id: snmp-v3-user
    class: snmp
    match: {field: snmp.user, regex: "^user"}
    action: count
  - id: pptp-host
    class: pptp
    match: {field: pptp.hostname, regex: "."}
    action: count
  - id: pptp-vendor-cisco
    class: pptp
    match: {field: pptp.vendor, regex: "cisco", flags: [caseless]}
    action: count
  - id: pptp-sccrq
    class: pptp
    match: {field: pptp.control_type, equals: 1}
    action: count
  - id: l2tp-host
    class: l2tp
    match: {field: l2tp.hostname, regex: "."}
    action: count
  - id: password
    class: any
    match: {field: payload, regex: "passw(or)?d", flags: [caseless]}
    action: drop
  - id: repeated
    class: other
    match: {field: payload, regex: "i"}
    action: count
)";

struct compiled {
    rules::slot_map slots;
    std::shared_ptr<const rules::rule_set> set;
    rules::scratch s;
};

compiled compile(const std::string& text, bool parallel = true) {
    compiled c;
    c.set = rules::rule_set::compile(rules::parse_rules(text, "t.yaml"), c.slots, {parallel});
    c.s = rules::scratch(*c.set);
    return c;
}

TEST(RulesMatch, ShippedClassicsOnCaptureFrames) {
    auto c = compile(pack);
    const auto& set = *c.set;
    EXPECT_EQ(matches(set, c.s, capture::ntp_monlist_frame), (ids{"ntp-mode7", "ntp-monlist"}));
    EXPECT_EQ(matches(set, c.s, capture::ntp_mode7_other_frame), (ids{"ntp-mode7"}));
    EXPECT_EQ(matches(set, c.s, capture::ntp_control_frame), (ids{"ntp-mode6"}));
    EXPECT_EQ(matches(set, c.s, capture::ntp_v4_client_frame), ids{});
    EXPECT_EQ(matches(set, c.s, capture::snmp_v1_public_frame), (ids{"snmp-default-community"}));
    EXPECT_EQ(matches(set, c.s, capture::snmp_v1_set_frame), (ids{"snmp-set", "snmp-set-by-name"}));
    EXPECT_EQ(matches(set, c.s, capture::snmp_v3_get_next_frame), (ids{"snmp-v3-user"}));
    EXPECT_EQ(matches(set, c.s, capture::pptp_sccrq_gre_frame), (ids{"pptp-host", "pptp-sccrq"}));
    EXPECT_EQ(matches(set, c.s, capture::pptp_sccrp_gre_frame),
              (ids{"pptp-host", "pptp-vendor-cisco"}));
    // An empty host name is no host name for "."; the message is still an SCCRP.
    EXPECT_EQ(matches(set, c.s, capture::pptp_sccrp_ndpi_frame), ids{});
    EXPECT_EQ(matches(set, c.s, capture::ftp_password_frame), (ids{"password", "repeated"}));
}

TEST(RulesMatch, OncePerRulePerFrame) {
    auto c = compile(pack);
    // "i" occurs many times in the payload; the rule is reported once.
    std::vector<std::uint32_t> seen;
    const auto f = span_of(capture::ftp_password_frame);
    rules::match_frame(*c.set, c.s, f, traffic_class::other,
                       [&](std::uint32_t i) { seen.push_back(i); });
    std::set<std::uint32_t> distinct(seen.begin(), seen.end());
    EXPECT_EQ(seen.size(), distinct.size());
    EXPECT_EQ(seen.size(), 2u);
}

TEST(RulesMatch, AnyClassReachesEveryClassWithTheField) {
    auto c = compile(pack);
    EXPECT_TRUE(c.set->has_rules_for(traffic_class::snmp_trap));  // snmp-default-community
    gen::endpoint_options ep;
    ep.dst_port = 162;
    EXPECT_EQ(matches(*c.set, c.s, gen::udp_frame(ep, gen::snmp_v2c_trap("private", 1, 2))),
              (ids{"snmp-default-community"}));
    // A class-specific field in an 'any' rule adds nothing to the classes without it.
    auto only_snmp = compile(R"(rules:
  - {id: a, class: any, match: {field: snmp.community, regex: x}, action: count}
)");
    EXPECT_TRUE(only_snmp.set->has_rules_for(traffic_class::snmp));
    EXPECT_TRUE(only_snmp.set->has_rules_for(traffic_class::snmp_trap));
    EXPECT_FALSE(only_snmp.set->has_rules_for(traffic_class::ntp));
    EXPECT_FALSE(only_snmp.set->has_rules_for(traffic_class::other));
}

TEST(RulesMatch, ClassWithoutRulesIsNotLookedAt) {
    auto c = compile(R"(rules:
  - {id: a, class: ntp, match: {field: payload, regex: "."}, action: count}
)");
    EXPECT_TRUE(c.set->has_rules_for(traffic_class::ntp));
    for (auto cls : {traffic_class::snmp, traffic_class::snmp_trap, traffic_class::l2tp,
                     traffic_class::pptp, traffic_class::gre, traffic_class::other}) {
        EXPECT_FALSE(c.set->has_rules_for(cls));
    }
    // The payload rule matches any NTP packet, but an FTP frame is not NTP.
    EXPECT_EQ(matches(*c.set, c.s, capture::ntp_v4_client_frame), ids{"a"});
    EXPECT_EQ(matches(*c.set, c.s, capture::ftp_password_frame), ids{});
    EXPECT_EQ(c.set->fields_for(traffic_class::ntp), rules::bit(rules::field::payload));
}

TEST(RulesMatch, L2tpHostNameHandBuilt) {
    auto c = compile(pack);
    gen::endpoint_options ep;
    ep.dst_port = 1701;
    EXPECT_EQ(matches(*c.set, c.s, gen::udp_frame(ep, gen::l2tp_v2_sccrq(7, "lns"))),
              (ids{"l2tp-host"}));
}

TEST(RulesMatch, TunnelIdsOnCaptureFrames) {
    // A call's control messages and its GRE frames by its IDs (GrePackets.cap: call IDs 1 and
    // 24), an L2TPv2 session by its tunnel and session (packetnet/l2tp.pcap).
    auto c = compile(R"(rules:
  - {id: call-24, class: any, match: {field: pptp.call_id, equals: 24}, action: count}
  - {id: call-24-gre, class: gre, match: {field: pptp.call_id, equals: 24}, action: count}
  - {id: call-1, class: pptp, match: {field: pptp.call_id, equals: 1}, action: count}
  - {id: tunnel, class: l2tp, match: {field: l2tp.tunnel_id, equals: 18994}, action: count}
  - {id: session, class: any, match: {field: l2tp.session_id, equals: 54110}, action: count}
  - {id: other-session, class: l2tp, match: {field: l2tp.session_id, equals: 1}, action: count}
)");
    EXPECT_EQ(matches(*c.set, c.s, capture::pptp_ocrq_gre_frame), ids{"call-1"});
    EXPECT_EQ(matches(*c.set, c.s, capture::pptp_ocrp_gre_frame), ids{"call-24"});
    EXPECT_EQ(matches(*c.set, c.s, capture::gre_pap_frame), (ids{"call-24", "call-24-gre"}));
    EXPECT_EQ(matches(*c.set, c.s, capture::gre_v0_cks_frame), ids{});
    EXPECT_EQ(matches(*c.set, c.s, capture::l2tp_pppoe_frame), (ids{"session", "tunnel"}));
    EXPECT_TRUE(c.set->has_rules_for(traffic_class::gre));
    EXPECT_FALSE(c.set->has_rules_for(traffic_class::ntp));
}

TEST(RulesMatch, L3PacketsAsAnalyzeReadsThem) {
    auto c = compile(pack);
    const auto f = span_of(capture::ntp_monlist_frame);
    const auto l3 = f.subspan(14);
    const auto cls = pipelines::classify_l3(parsers::ethertype_ipv4, l3).cls;
    std::vector<std::string> seen;
    rules::match_l3(*c.set, c.s, parsers::ethertype_ipv4, l3, cls,
                    [&](std::uint32_t i) { seen.push_back(c.set->at(i).id); });
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (ids{"ntp-mode7", "ntp-monlist"}));
}

TEST(RulesMatch, VerdictCountsAndDrops) {
    auto c = compile(pack);
    auto counters = std::make_unique<rules::rule_counters>();
    const auto f = span_of(capture::snmp_v1_set_frame);
    const auto v = rules::match_and_count(*c.set, c.s, f, traffic_class::snmp, *counters);
    EXPECT_EQ(v.matched, 2u);
    EXPECT_TRUE(v.drop);
    EXPECT_FALSE(v.alert);
    const auto m = rules::match_and_count(*c.set, c.s, span_of(capture::ntp_monlist_frame),
                                          traffic_class::ntp, *counters);
    EXPECT_EQ(m.matched, 2u);
    EXPECT_FALSE(m.drop);
    EXPECT_TRUE(m.alert);
    EXPECT_EQ(counters->load(*c.slots.find("snmp-set")), 1u);
    EXPECT_EQ(counters->load(*c.slots.find("ntp-monlist")), 1u);
    EXPECT_EQ(counters->load(*c.slots.find("password")), 0u);
    EXPECT_TRUE(c.set->has_drop_rules());
}

TEST(RulesMatch, SlotsSurviveRecompile) {
    rules::slot_map slots;
    const auto a = rules::rule_set::compile(rules::parse_rules(R"(rules:
  - {id: one, class: any, match: {field: payload, regex: a}, action: count}
  - {id: two, class: any, match: {field: payload, regex: b}, action: count}
)",
                                                               "a.yaml"),
                                            slots);
    const auto b = rules::rule_set::compile(rules::parse_rules(R"(rules:
  - {id: three, class: any, match: {field: payload, regex: c}, action: count}
  - {id: two, class: ntp, match: {field: ntp.mode, equals: 3}, action: drop}
)",
                                                               "b.yaml"),
                                            slots);
    EXPECT_EQ(a->slot(0), 0u);
    EXPECT_EQ(a->slot(1), 1u);
    EXPECT_EQ(b->slot(0), 2u);  // new id: next free slot
    EXPECT_EQ(b->slot(1), 1u);  // same id, same slot, whatever else changed
    // Back to the first set: "one" still has slot 0.
    const auto a2 = rules::rule_set::compile(a->rules(), slots);
    EXPECT_EQ(a2->slot(0), 0u);
    EXPECT_EQ(slots.size(), 3u);
}

TEST(RulesMatch, FailedCompileTakesNoSlot) {
    rules::slot_map slots;
    std::vector<rules::rule> rs = rules::parse_rules(R"(rules:
  - {id: ok, class: any, match: {field: payload, regex: a}, action: count}
  - {id: bad, class: gre, match: {field: payload, regex: b}, action: count}
)",
                                                     "c.yaml");
    rs[1].regex = "(b";  // past parse_rules: compile() checks again
    try {
        rules::rule_set::compile(rs, slots);
        FAIL() << "no error";
    } catch (const rules::rules_error& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with(
            "c.yaml:3: rule bad: pattern '(b' rejected by Hyperscan: "))
            << e.what();
    }
    EXPECT_EQ(slots.size(), 0u);
}

TEST(RulesMatch, SlotsRunOut) {
    rules::slot_map slots;
    for (std::uint32_t i = 0; i < rules::max_rule_slots; ++i) {
        EXPECT_EQ(slots.assign("r" + std::to_string(i)), i);
    }
    EXPECT_EQ(slots.assign("r5"), 5u);
    EXPECT_THROW(slots.assign("one-too-many"), rules::rules_error);
    const auto rs = rules::parse_rules(R"(rules:
  - {id: new-one, class: any, match: {field: payload, regex: a}, action: count}
)",
                                       "d.yaml");
    try {
        rules::rule_set::compile(rs, slots);
        FAIL() << "no error";
    } catch (const rules::rules_error& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with("d.yaml:2: no counter slot left"))
            << e.what();
    }
}

TEST(RulesMatch, SerialAndParallelCompileAgree) {
    std::string text = "rules:\n";
    for (int i = 0; i < 40; ++i) {
        text += "  - {id: p" + std::to_string(i) +
                ", class: " + std::string(pipelines::class_names[static_cast<std::size_t>(i % 7)]) +
                ", match: {field: payload, regex: 'x" + std::to_string(i) + "y'}, action: count}\n";
    }
    auto serial = compile(text, false);
    auto parallel = compile(text, true);
    EXPECT_EQ(serial.set->database_count(), 7u);
    EXPECT_EQ(parallel.set->database_count(), 7u);
    gen::endpoint_options ep;
    ep.dst_port = 80;
    const std::string body = "GET /x13y x5y x19y";
    const auto f = gen::tcp_frame(ep, {}, gen::bytes(body.begin(), body.end()));
    EXPECT_EQ(matches(*serial.set, serial.s, f), matches(*parallel.set, parallel.s, f));
    EXPECT_EQ(matches(*serial.set, serial.s, f), (ids{"p13"}));  // p5 and p19 are other classes
}

TEST(RulesMatch, ClassesWithTheSameRulesShareADatabase) {
    auto c = compile(R"(rules:
  - {id: a, class: any, match: {field: payload, regex: a}, action: count}
)");
    EXPECT_EQ(c.set->database_count(), 1u);
    for (std::size_t i = 0; i < pipelines::class_count; ++i) {
        EXPECT_TRUE(c.set->has_rules_for(static_cast<traffic_class>(i)));
    }
}

TEST(RulesMatch, ScratchFitCloneAndEmptySet) {
    rules::slot_map slots;
    const auto empty = rules::rule_set::compile({}, slots);
    rules::scratch s(*empty);
    EXPECT_FALSE(s);  // nothing to scan with
    EXPECT_EQ(matches(*empty, s, capture::ftp_password_frame), ids{});
    const auto set = rules::rule_set::compile(rules::parse_rules(pack, "p.yaml"), slots);
    s.fit(*set);
    EXPECT_TRUE(s);
    rules::scratch copy = s.clone();
    EXPECT_EQ(matches(*set, copy, capture::ftp_password_frame), (ids{"password", "repeated"}));
    rules::scratch moved = std::move(copy);
    EXPECT_FALSE(copy);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(matches(*set, moved, capture::ntp_monlist_frame), (ids{"ntp-mode7", "ntp-monlist"}));
}

}  // namespace

namespace {

// The value cache: the same community again gives the same matches without another scan, a
// value that matches more patterns than an entry holds is still reported whole, and a second
// set on the same scratch never sees the first set's entries.
TEST(RulesMatch, RepeatedValuesGiveTheSameMatches) {
    std::string text = "rules:\n";
    for (int i = 0; i < 6; ++i) {
        text += "  - {id: m" + std::to_string(i) +
                ", class: snmp, match: {field: snmp.community, regex: 'pub'}, action: count}\n";
    }
    text +=
        "  - {id: exact, class: snmp, match: {field: snmp.community, regex: '^public$'}, action: "
        "count}\n";
    auto many = compile(text);
    const ids all = {"exact", "m0", "m1", "m2", "m3", "m4", "m5"};
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(matches(*many.set, many.s, capture::snmp_v1_public_frame), all) << round;
    }
    auto one = compile(R"(rules:
  - {id: a, class: snmp, match: {field: snmp.community, regex: '^public$'}, action: count}
  - {id: b, class: snmp, match: {field: snmp.community, regex: '^private$'}, action: count}
)");
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(matches(*one.set, one.s, capture::snmp_v1_public_frame), ids{"a"});
        EXPECT_EQ(matches(*one.set, one.s, capture::snmp_v1_set_frame), ids{});  // empty community
    }
    // The first set's scratch, fitted to a second set: the entries of the first do not apply.
    rules::slot_map slots;
    const auto other = rules::rule_set::compile(rules::parse_rules(R"(rules:
  - {id: z, class: snmp, match: {field: snmp.community, regex: '^pu'}, action: count}
  - {id: y, class: snmp, match: {field: snmp.community, regex: 'x'}, action: count}
)",
                                                                   "o.yaml"),
                                                slots);
    one.s.fit(*other);
    EXPECT_EQ(matches(*other, one.s, capture::snmp_v1_public_frame), ids{"z"});
    EXPECT_EQ(matches(*one.set, one.s, capture::snmp_v1_public_frame), ids{"a"});
}

}  // namespace
