// Config loading: the documented keys, and every refusal names file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "config.hpp"
#include "options.hpp"

using namespace ports::engine;

namespace {

std::string error_of(const std::string& text) {
    try {
        parse_config(text, "t.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Config, DocumentedExampleLoads) {
    const auto cfg = parse_config(R"(
ports:
  - name: wire0
    device: "net_af_packet0,iface=veth1"
    queues: 2
    mode: monitor
  - name: wire1
    device: 0000:03:00.0
    mode: inline
    peer: wire0
    rx_descriptors: 2048
)",
                                  "t.yaml");
    ASSERT_EQ(cfg.ports.size(), 2u);
    EXPECT_EQ(cfg.ports[0].name, "wire0");
    EXPECT_EQ(cfg.ports[0].device, "net_af_packet0,iface=veth1");
    EXPECT_EQ(cfg.ports[0].queues, 2);
    EXPECT_EQ(cfg.ports[0].mode, port_mode::monitor);
    EXPECT_EQ(cfg.ports[1].mode, port_mode::inline_);
    EXPECT_EQ(cfg.ports[1].peer, "wire0");
    EXPECT_EQ(cfg.ports[1].rx_descriptors, 2048);
    EXPECT_TRUE(cfg.lcores.empty());
}

TEST(Config, EmptyFileMeansDefaults) { EXPECT_TRUE(parse_config("", "t.yaml").ports.empty()); }

TEST(Config, UnknownTopLevelKeyNamesFileAndLine) {
    EXPECT_EQ(error_of("ports: []\nprots: 1\n").rfind("t.yaml:2: unknown key 'prots'", 0), 0u);
}

TEST(Config, UnknownPortKeyNamesLine) {
    const auto e = error_of("ports:\n  - name: a\n    device: net_null0\n    queus: 2\n");
    EXPECT_EQ(e.rfind("t.yaml:4: unknown key 'queus'", 0), 0u) << e;
}

TEST(Config, BadModeIsRefused) {
    const auto e = error_of("ports:\n  - name: a\n    device: net_null0\n    mode: tap\n");
    EXPECT_EQ(e.rfind("t.yaml:4:", 0), 0u) << e;
    EXPECT_NE(e.find("monitor or inline"), std::string::npos);
}

TEST(Config, QueuesOutOfRangeIsRefused) {
    const auto e = error_of("ports:\n  - name: a\n    device: net_null0\n    queues: 0\n");
    EXPECT_EQ(e.rfind("t.yaml:4:", 0), 0u) << e;
}

TEST(Config, NonIntegerIsRefused) {
    const auto e = error_of("ports:\n  - name: a\n    device: net_null0\n    queues: two\n");
    EXPECT_NE(e.find("must be an integer"), std::string::npos) << e;
}

TEST(Config, InlineNeedsAnExistingPeer) {
    EXPECT_NE(error_of("ports:\n  - name: a\n    device: net_null0\n    mode: inline\n")
                  .find("needs a 'peer'"),
              std::string::npos);
    const auto e =
        error_of("ports:\n  - name: a\n    device: net_null0\n    mode: inline\n    peer: b\n");
    EXPECT_EQ(e.rfind("t.yaml:5: peer 'b' is not a port name", 0), 0u) << e;
}

TEST(Config, DuplicateNamesAreRefused) {
    const auto e = error_of(
        "ports:\n  - name: a\n    device: net_null0\n  - name: a\n    device: net_null1\n");
    EXPECT_NE(e.find("duplicate port name 'a'"), std::string::npos) << e;
}

TEST(Config, ExplicitLcoresMustCoverEveryQueue) {
    const auto e = error_of(
        "ports:\n  - name: a\n    device: net_null0\n    queues: 2\nlcores:\n"
        "  - {lcore: 1, port: a, queue: 0}\n");
    EXPECT_NE(e.find("queue 1 of port 'a' has no lcore"), std::string::npos) << e;
}

TEST(Config, ExplicitLcoresLoad) {
    const auto cfg = parse_config(
        "ports:\n  - name: a\n    device: net_null0\n    queues: 2\nlcores:\n"
        "  - {lcore: 1, port: a, queue: 0}\n  - {lcore: 2, port: a, queue: 1}\n",
        "t.yaml");
    ASSERT_EQ(cfg.lcores.size(), 2u);
    EXPECT_EQ(cfg.lcores[1].lcore, 2u);
    EXPECT_EQ(cfg.lcores[1].queue, 1);
}

TEST(Config, YamlSyntaxErrorNamesLine) {
    const auto e = error_of("ports:\n  - name: [a\n");
    EXPECT_EQ(e.rfind("t.yaml:", 0), 0u) << e;
}

TEST(Config, PciAddressesAreRecognised) {
    EXPECT_TRUE(is_pci_address("0000:03:00.0"));
    EXPECT_TRUE(is_pci_address("03:00.1"));
    EXPECT_FALSE(is_pci_address("net_pcap0,rx_pcap=x.pcap"));
}

TEST(Options, ParsesEveryFlag) {
    const auto o = parse_app_options(
        {"--config", "c.yaml", "--stats-json", "s.json", "--duration", "2.5", "--stats-interval", "1"});
    EXPECT_EQ(o.config_path, "c.yaml");
    EXPECT_EQ(o.stats_json_path, "s.json");
    ASSERT_TRUE(o.duration_s.has_value());
    EXPECT_DOUBLE_EQ(*o.duration_s, 2.5);
    EXPECT_DOUBLE_EQ(o.stats_interval_s, 1.0);
}

TEST(Options, RefusesUnknownAndBadValues) {
    EXPECT_THROW(parse_app_options({"--durration", "1"}), usage_error);
    EXPECT_THROW(parse_app_options({"--duration", "-1"}), usage_error);
    EXPECT_THROW(parse_app_options({"--duration"}), usage_error);
}

TEST(Config, ShippedExamplesLoad) {
    std::size_t loaded = 0;
    for (const auto& e : std::filesystem::directory_iterator(PORTS_CONFIGS_DIR)) {
        if (e.path().extension() == ".yaml") {
            EXPECT_NO_THROW(load_config(e.path().string())) << e.path();
            ++loaded;
        }
    }
    EXPECT_GE(loaded, 4u);
}
