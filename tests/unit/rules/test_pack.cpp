// The shipped rule packs (configs/rules-*.yaml) load and compile, and the classic pack catches
// the classics on frames cut from real captures.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "capture_frames.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/rules.hpp"

using namespace ports;

namespace {

TEST(RulePacks, EveryShippedPackCompiles) {
    std::size_t packs = 0;
    for (const auto& e : std::filesystem::directory_iterator(PORTS_CONFIGS_DIR)) {
        const std::string name = e.path().filename().string();
        if (name.starts_with("rules-") && e.path().extension() == ".yaml") {
            rules::slot_map slots;
            EXPECT_NO_THROW(
                rules::rule_set::compile(rules::load_rule_file(e.path().string()), slots))
                << name;
            ++packs;
        }
    }
    EXPECT_GE(packs, 1u);
}

template <class Frame>
std::vector<std::string> classic(const Frame& f) {
    static rules::slot_map slots;
    static const auto set = rules::rule_set::compile(
        rules::load_rule_file(std::string(PORTS_CONFIGS_DIR) + "/rules-classic.yaml"), slots);
    static rules::scratch s(*set);
    const parsers::byte_span bytes(f.data(), f.size());
    std::vector<std::string> ids;
    rules::match_frame(*set, s, bytes, pipelines::classify_frame(bytes).cls,
                       [&](std::uint32_t i) { ids.push_back(set->at(i).id); });
    std::sort(ids.begin(), ids.end());
    return ids;
}

using ids = std::vector<std::string>;

TEST(RulePacks, ClassicPackOnRealFrames) {
    EXPECT_EQ(classic(capture::ntp_monlist_frame), (ids{"ntp-mode7", "ntp-monlist"}));
    EXPECT_EQ(classic(capture::ntp_mode7_other_frame), (ids{"ntp-mode7"}));
    EXPECT_EQ(classic(capture::ntp_control_frame), (ids{"ntp-mode6"}));
    EXPECT_EQ(classic(capture::ntp_v4_client_frame), ids{});
    EXPECT_EQ(classic(capture::snmp_v1_public_frame), (ids{"snmp-default-community"}));
    EXPECT_EQ(classic(capture::snmp_v1_set_frame), (ids{"snmp-set-cleartext"}));
    EXPECT_EQ(classic(capture::snmp_v3_get_next_frame), ids{});
    EXPECT_EQ(classic(capture::pptp_sccrq_gre_frame),
              (ids{"pptp-control-session", "pptp-hostname"}));
    EXPECT_EQ(classic(capture::pptp_sccrq_ndpi_frame),
              (ids{"pptp-control-session", "pptp-hostname"}));
    EXPECT_EQ(classic(capture::pptp_sccrp_gre_frame), (ids{"pptp-hostname"}));
    EXPECT_EQ(classic(capture::pptp_sccrp_ndpi_frame), ids{});  // empty host name
    EXPECT_EQ(classic(capture::ftp_password_frame), (ids{"cleartext-password"}));
    EXPECT_EQ(classic(capture::l2tp_pppoe_frame), ids{});
}

}  // namespace
