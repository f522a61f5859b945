// The rules file: what it accepts and every way it refuses, each with FILE:LINE and rule id.
#include <gtest/gtest.h>
#include <hs/hs.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ports/rules/rules.hpp"

using namespace ports;
using rules::field;

namespace {

// The message of the rules_error parsing text throws ("" when it does not throw).
std::string error_of(const std::string& text) {
    try {
        rules::parse_rules(text, "r.yaml");
    } catch (const rules::rules_error& e) {
        return e.what();
    }
    return "";
}

// A one-rule file around a match and an action.
std::string one(const std::string& match, const std::string& extra = "action: count",
                const std::string& cls = "any") {
    return "rules:\n"
           "  - id: r1\n"
           "    class: " +
           cls +
           "\n"
           "    match: " +
           match +
           "\n"
           "    " +
           extra + "\n";
}

TEST(RulesParse, TheIssueExample) {
    const auto rs = rules::parse_rules(R"(rules:
  - id: ntp-monlist
    name: NTP mode 7 monlist request
    class: ntp
    match: {field: ntp.request_code, equals: 42}
    action: alert
  - id: snmp-default-community
    class: snmp
    match: {field: snmp.community, regex: "^(public|private)$"}
    action: count
  - id: cleartext-password
    class: any
    match: {field: payload, regex: "passw(or)?d", flags: [caseless]}
    action: drop
    # comment
  - id: pdu-set
    class: snmp-trap
    match:
      field: snmp.pdu
      regex: ^set$
    action: alert
    alert_rate: 5
)",
                                       "pack.yaml");
    ASSERT_EQ(rs.size(), 4u);
    EXPECT_EQ(rs[0].id, "ntp-monlist");
    EXPECT_EQ(rs[0].name, "NTP mode 7 monlist request");
    EXPECT_EQ(rs[0].cls, pipelines::traffic_class::ntp);
    EXPECT_EQ(rs[0].fld, field::ntp_request_code);
    EXPECT_EQ(rs[0].equals, 42u);
    EXPECT_TRUE(rs[0].regex.empty());
    EXPECT_EQ(rs[0].act, rules::action::alert);
    EXPECT_EQ(rs[0].line, 2);
    EXPECT_EQ(rs[0].file, "pack.yaml");
    EXPECT_EQ(rs[1].name, "snmp-default-community");  // defaults to the id
    EXPECT_EQ(rs[1].regex, "^(public|private)$");
    EXPECT_FALSE(rs[1].equals);
    EXPECT_EQ(rs[1].hs_flags, 0u);
    EXPECT_FALSE(rs[2].cls);
    EXPECT_EQ(rs[2].hs_flags, static_cast<unsigned>(HS_FLAG_CASELESS));
    EXPECT_EQ(rs[2].act, rules::action::drop);
    EXPECT_EQ(rs[2].line, 11);
    EXPECT_EQ(rs[3].cls, pipelines::traffic_class::snmp_trap);
    EXPECT_EQ(rs[3].alert_per_second, 5u);
    EXPECT_EQ(rs[3].alert_per_second, 5u);
}

TEST(RulesParse, EmptyListIsAnEmptySet) {
    EXPECT_TRUE(rules::parse_rules("rules: []\n", "r.yaml").empty());
    EXPECT_TRUE(rules::parse_rules("rules:\n", "r.yaml").empty());
}

TEST(RulesParse, EveryFlag) {
    const auto rs = rules::parse_rules(
        one("{field: payload, regex: 'a', flags: [caseless, dotall, multiline, singlematch, utf8, "
            "ucp, allowempty]}"),
        "r.yaml");
    EXPECT_EQ(rs[0].hs_flags,
              static_cast<unsigned>(HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_MULTILINE |
                                    HS_FLAG_SINGLEMATCH | HS_FLAG_UTF8 | HS_FLAG_UCP |
                                    HS_FLAG_ALLOWEMPTY));
}

TEST(RulesParse, NumericFieldsAndRanges) {
    EXPECT_EQ(rules::parse_rules(one("{field: snmp.pdu, equals: 3}"), "r.yaml")[0].equals, 3u);
    EXPECT_EQ(rules::parse_rules(one("{field: ntp.mode, equals: 0x7}"), "r.yaml")[0].equals, 7u);
    EXPECT_EQ(rules::parse_rules(one("{field: pptp.control_type, equals: 1}"), "r.yaml")[0].fld,
              field::pptp_control_type);
    EXPECT_EQ(rules::parse_rules(one("{field: ntp.request_code, equals: 255}"), "r.yaml")[0].equals,
              255u);
    EXPECT_EQ(rules::parse_rules(one("{field: pptp.call_id, equals: 65535}"), "r.yaml")[0].fld,
              field::pptp_call_id);
    EXPECT_EQ(
        rules::parse_rules(one("{field: l2tp.tunnel_id, equals: 4294967295}"), "r.yaml")[0].equals,
        4294967295u);
    EXPECT_EQ(rules::parse_rules(
                  one("{field: l2tp.session_id, equals: 7}", "action: count", "l2tp"), "r.yaml")[0]
                  .fld,
              field::l2tp_session_id);
    // A call ID is 16 bits; an L2TP ID at most 32 (L2TPv3).
    EXPECT_EQ(error_of(one("{field: pptp.call_id, equals: 65536}")),
              "r.yaml:4: rule r1: 'equals' = 65536 is out of range [0, 65535]");
    EXPECT_EQ(error_of(one("{field: l2tp.session_id, equals: 4294967296}")),
              "r.yaml:4: rule r1: 'equals' = 4294967296 is out of range [0, 4294967295]");
    EXPECT_EQ(error_of(one("{field: l2tp.tunnel_id, regex: '7'}")),
              "r.yaml:4: rule r1: field l2tp.tunnel_id is a number: match it with 'equals'");
}

TEST(RulesParse, YamlSyntax) {
    EXPECT_EQ(error_of("rules:\n  - id: [a\n"), "r.yaml:3: end of sequence flow not found");
}

TEST(RulesParse, EmptyFile) {
    EXPECT_EQ(error_of(""), "r.yaml:1: empty rules file: expected 'rules:' with a list");
}

TEST(RulesParse, TopLevel) {
    EXPECT_EQ(error_of("rule:\n  - id: a\n"),
              "r.yaml:1: unknown key 'rule' in the rules file (known: rules)");
    EXPECT_EQ(error_of("- id: a\n"), "r.yaml:1: the rules file must be a mapping");
    EXPECT_EQ(error_of("rules: 3\n"), "r.yaml:1: 'rules' must be a list");
    EXPECT_EQ(error_of("rules:\n  - 3\n"), "r.yaml:2: a rule must be a mapping");
}

TEST(RulesParse, Id) {
    EXPECT_EQ(error_of("rules:\n  - class: any\n"), "r.yaml:2: a rule needs an 'id'");
    EXPECT_EQ(error_of("rules:\n  - id: 'a b'\n"),
              "r.yaml:2: id 'a b' must be 1 to 64 of A-Z a-z 0-9 - _ .");
    EXPECT_EQ(error_of("rules:\n  - id: [a]\n"), "r.yaml:2: 'id' must be a string");
    EXPECT_EQ(
        error_of("rules:\n"
                 "  - {id: a, class: any, match: {field: payload, regex: x}, action: count}\n"
                 "  - {id: b, class: any, match: {field: payload, regex: x}, action: count}\n"
                 "  - {id: a, class: any, match: {field: payload, regex: y}, action: count}\n"),
        "r.yaml:4: rule a: duplicate id (first at line 2)");
}

TEST(RulesParse, UnknownRuleKey) {
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "actions: count")),
              "r.yaml:5: rule r1: unknown key 'actions' in a rule (known: id, name, class, match, "
              "action, alert_rate)");
}

TEST(RulesParse, Name) {
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "name: [x]")),
              "r.yaml:5: rule r1: 'name' must be a string");
}

TEST(RulesParse, Class) {
    EXPECT_EQ(
        error_of("rules:\n  - id: r1\n    match: {field: payload, regex: x}\n    action: count\n"),
        "r.yaml:2: rule r1: a rule needs a 'class' (one of ntp, snmp, snmp-trap, l2tp, "
        "pptp, gre, other, any)");
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "action: count", "dns")),
              "r.yaml:3: rule r1: unknown class 'dns' (known: ntp, snmp, snmp-trap, l2tp, pptp, "
              "gre, other, any)");
    EXPECT_EQ(error_of(one("{field: snmp.community, regex: x}", "action: count", "ntp")),
              "r.yaml:4: rule r1: field snmp.community never occurs in class ntp");
}

TEST(RulesParse, Match) {
    EXPECT_EQ(error_of("rules:\n  - id: r1\n    class: any\n    action: count\n"),
              "r.yaml:2: rule r1: a rule needs a 'match'");
    EXPECT_EQ(error_of(one("payload")), "r.yaml:4: rule r1: match must be a mapping");
    EXPECT_EQ(
        error_of(one("{field: payload, regex: x, flag: [caseless]}")),
        "r.yaml:4: rule r1: unknown key 'flag' in match (known: field, regex, flags, equals)");
    EXPECT_EQ(
        error_of(one("{regex: x}")),
        "r.yaml:4: rule r1: match needs a 'field' (one of payload, snmp.community, snmp.user, "
        "snmp.pdu, ntp.mode, ntp.version, ntp.request_code, l2tp.hostname, pptp.hostname, "
        "pptp.vendor, pptp.control_type, pptp.call_id, l2tp.tunnel_id, l2tp.session_id)");
    EXPECT_EQ(error_of(one("{field: http.host, regex: x}")),
              "r.yaml:4: rule r1: unknown field 'http.host' (known: payload, snmp.community, "
              "snmp.user, snmp.pdu, ntp.mode, ntp.version, ntp.request_code, l2tp.hostname, "
              "pptp.hostname, pptp.vendor, pptp.control_type, pptp.call_id, l2tp.tunnel_id, "
              "l2tp.session_id)");
    EXPECT_EQ(error_of(one("{field: snmp.pdu, regex: x, equals: 3}")),
              "r.yaml:4: rule r1: match needs exactly one of 'regex' and 'equals'");
    EXPECT_EQ(error_of(one("{field: payload}")),
              "r.yaml:4: rule r1: match needs exactly one of 'regex' and 'equals'");
}

TEST(RulesParse, RegexAndEqualsByFieldKind) {
    EXPECT_EQ(error_of(one("{field: ntp.mode, regex: '7'}")),
              "r.yaml:4: rule r1: field ntp.mode is a number: match it with 'equals'");
    EXPECT_EQ(error_of(one("{field: snmp.community, equals: 1}")),
              "r.yaml:4: rule r1: field snmp.community is a string: match it with 'regex'");
    EXPECT_EQ(error_of(one("{field: ntp.mode, equals: 8}")),
              "r.yaml:4: rule r1: 'equals' = 8 is out of range [0, 7]");
    EXPECT_EQ(error_of(one("{field: snmp.pdu, equals: 9}")),
              "r.yaml:4: rule r1: 'equals' = 9 is out of range [0, 8]");
    EXPECT_EQ(error_of(one("{field: ntp.request_code, equals: -1}")),
              "r.yaml:4: rule r1: 'equals' must be a non-negative integer, not '-1'");
    EXPECT_EQ(error_of(one("{field: ntp.request_code, equals: monlist}")),
              "r.yaml:4: rule r1: 'equals' must be a non-negative integer, not 'monlist'");
    EXPECT_EQ(error_of(one("{field: ntp.request_code, equals: [42]}")),
              "r.yaml:4: rule r1: 'equals' must be an integer");
    EXPECT_EQ(error_of(one("{field: payload, regex: [x]}")),
              "r.yaml:4: rule r1: 'regex' must be a string");
}

TEST(RulesParse, Flags) {
    EXPECT_EQ(error_of(one("{field: ntp.mode, equals: 7, flags: [caseless]}")),
              "r.yaml:4: rule r1: 'flags' apply to a 'regex' only");
    EXPECT_EQ(error_of(one("{field: payload, regex: x, flags: caseless}")),
              "r.yaml:4: rule r1: 'flags' must be a list (of caseless, dotall, multiline, "
              "singlematch, utf8, ucp, allowempty)");
    EXPECT_EQ(error_of(one("{field: payload, regex: x, flags: [nocase]}")),
              "r.yaml:4: rule r1: unknown flag 'nocase' (known: caseless, dotall, multiline, "
              "singlematch, utf8, ucp, allowempty)");
}

TEST(RulesParse, PatternsHyperscanRejects) {
    // Each names the rule, the pattern and Hyperscan's own reason.
    const std::string unbalanced = error_of(one("{field: payload, regex: 'a(b'}"));
    EXPECT_TRUE(unbalanced.starts_with("r.yaml:4: rule r1: pattern 'a(b' rejected by Hyperscan: "))
        << unbalanced;
    const std::string backref = error_of(one("{field: payload, regex: '(a)\\1'}"));
    EXPECT_TRUE(backref.starts_with("r.yaml:4: rule r1: pattern '(a)\\1' rejected by Hyperscan: "))
        << backref;
    const std::string empty = error_of(one("{field: payload, regex: ''}"));
    EXPECT_TRUE(empty.starts_with("r.yaml:4: rule r1: pattern '' rejected by Hyperscan: "))
        << empty;
    // With allowempty the same pattern is fine.
    EXPECT_EQ(error_of(one("{field: payload, regex: '', flags: [allowempty]}")), "");
}

TEST(RulesParse, Action) {
    EXPECT_EQ(
        error_of("rules:\n  - id: r1\n    class: any\n    match: {field: payload, regex: x}\n"),
        "r.yaml:2: rule r1: a rule needs an 'action' (count, alert, drop)");
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "action: reject")),
              "r.yaml:5: rule r1: unknown action 'reject' (known: count, alert, drop)");
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "action: count\n    alert_rate: 3")),
              "r.yaml:6: rule r1: 'alert_rate' needs action: alert");
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "action: alert\n    alert_rate: 0")),
              "r.yaml:6: rule r1: 'alert_rate' must be at least 1 per second");
    EXPECT_EQ(error_of(one("{field: payload, regex: x}", "action: alert\n    alert_rate: 2000000")),
              "r.yaml:6: rule r1: 'alert_rate' = 2000000 is out of range [0, 1000000]");
}

TEST(RulesParse, LoadFile) {
    const std::string path = ::testing::TempDir() + "rules-load-test.yaml";
    {
        std::ofstream out(path);
        out << one("{field: payload, regex: 'a(b'}");
    }
    try {
        rules::load_rule_file(path);
        FAIL() << "no error";
    } catch (const rules::rules_error& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with(path + ":4: rule r1: pattern")) << e.what();
    }
    std::remove(path.c_str());
    try {
        rules::load_rule_file(path);
        FAIL() << "no error";
    } catch (const rules::rules_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  path + ": cannot read the rules file: No such file or directory");
    }
}

}  // namespace
