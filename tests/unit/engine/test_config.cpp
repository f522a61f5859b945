// Config loading: the documented keys, and every refusal names file and line.
#include <gtest/gtest.h>
#include <rte_config.h>

#include <filesystem>
#include <string>

#include "capture.hpp"
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

TEST(Config, EmptyDocumentIsRefused) {
    // Not "no config": --config given with nothing in it is a mistake the engine names.
    EXPECT_EQ(error_of("").rfind("t.yaml:1: the config is empty", 0), 0u);
    EXPECT_EQ(error_of("# only a comment\n\n").rfind("t.yaml:1: the config is empty", 0), 0u);
}

TEST(Config, RepeatedKeyInOneMappingIsRefused) {
    const auto e = error_of("ports:\n  - name: a\n    device: net_null0\n    name: b\n");
    EXPECT_EQ(e, "t.yaml:4: key 'name' appears twice in this mapping (first at line 2)");
    EXPECT_EQ(error_of("mbufs: 2048\nports: []\nmbufs: 4096\n"),
              "t.yaml:3: key 'mbufs' appears twice in this mapping (first at line 1)");
}

TEST(Config, UnterminatedQuoteIsRefusedAtItsLine) {
    const auto e =
        error_of("ports:\n  - name: a\n    device: \"net_pcap0,rx_pcap=x.pcap\n    queues: 2\n");
    EXPECT_EQ(e.rfind("t.yaml:3: a double-quoted string opens here and is never closed", 0), 0u)
        << e;
    EXPECT_EQ(error_of("ports:\n  - name: 'a\n").rfind("t.yaml:2: a single-quoted string", 0), 0u);
    // Closed ones, with escapes and doubled quotes, load.
    EXPECT_EQ(error_of("ports:\n  - name: 'it''s'\n    device: \"net_null0\\\"\"\n"), "");
}

TEST(Config, DeepNestingIsRefusedWithItsDepth) {
    const std::string flow = "ports: " + std::string(40, '[') + std::string(40, ']') + "\n";
    EXPECT_EQ(error_of(flow).rfind("t.yaml:1: nested deeper than 32 levels", 0), 0u)
        << error_of(flow);
    // Deeper than yaml-cpp goes: its refusal says only "bad file"; ours says what is wrong.
    const std::string deep = "ports: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
    EXPECT_NE(error_of(deep).find("nested deeper than 32 levels"), std::string::npos)
        << error_of(deep);
}

TEST(Config, MorePortsThanDpdkHasRoomForAreRefused) {
    std::string text = "ports:\n";
    for (int i = 0; i < RTE_MAX_ETHPORTS + 5; ++i) {
        text +=
            "  - {name: p" + std::to_string(i) + ", device: net_null" + std::to_string(i) + "}\n";
    }
    const auto e = error_of(text);
    EXPECT_EQ(e, "t.yaml:" + std::to_string(RTE_MAX_ETHPORTS + 2) + ": port " +
                     std::to_string(RTE_MAX_ETHPORTS + 1) + " of " +
                     std::to_string(RTE_MAX_ETHPORTS + 5) + ": this DPDK has room for " +
                     std::to_string(RTE_MAX_ETHPORTS) + " ports (RTE_MAX_ETHPORTS)");
}

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

TEST(Config, CaptureIsAutoTrueOrFalse) {
    EXPECT_EQ(parse_config("ports: []\n", "t.yaml").capture, capture_mode::automatic);
    EXPECT_EQ(parse_config("capture: auto\n", "t.yaml").capture, capture_mode::automatic);
    EXPECT_EQ(parse_config("capture: true\n", "t.yaml").capture, capture_mode::on);
    EXPECT_EQ(parse_config("capture: off\n", "t.yaml").capture, capture_mode::off);
    const auto e = error_of("ports: []\ncapture: sometimes\n");
    EXPECT_EQ(e, "t.yaml:2: 'capture' must be auto, true or false") << e;
}

TEST(Capture, EalArgumentsSayWhetherDumpcapCanAttach) {
    const auto plain = eal_sharing_of({"-l", "0", "--file-prefix", "pe1"});
    EXPECT_TRUE(plain.shared_config);
    EXPECT_TRUE(plain.hugepages);
    EXPECT_EQ(plain.file_prefix, "pe1");
    EXPECT_EQ(eal_sharing_of({"--file-prefix=pe2"}).file_prefix, "pe2");
    EXPECT_EQ(eal_sharing_of({}).file_prefix, "rte");
    EXPECT_FALSE(eal_sharing_of({"--no-shconf"}).shared_config);
    EXPECT_FALSE(eal_sharing_of({"--in-memory"}).shared_config);
    EXPECT_FALSE(eal_sharing_of({"--no-huge", "-m", "256"}).hugepages);
}

TEST(Capture, AutoFollowsEalAndTrueRefusesWhatCannotWork) {
    auto cfg = parse_config("ports: []\ncapture: auto\n", "t.yaml");
    EXPECT_TRUE(plan_capture(cfg, eal_sharing_of({"-l", "0"})).enable);
    const auto off = plan_capture(cfg, eal_sharing_of({"--no-huge", "--no-shconf"}));
    EXPECT_FALSE(off.enable);
    EXPECT_NE(off.why.find("--no-shconf"), std::string::npos) << off.why;
    EXPECT_FALSE(plan_capture(cfg, eal_sharing_of({"--no-huge"})).enable);
    cfg = parse_config("ports: []\ncapture: false\n", "t.yaml");
    EXPECT_FALSE(plan_capture(cfg, eal_sharing_of({})).enable);
    cfg = parse_config("ports: []\ncapture: true\n", "t.yaml");
    EXPECT_TRUE(plan_capture(cfg, eal_sharing_of({})).enable);
    try {
        plan_capture(cfg, eal_sharing_of({"--in-memory"}));
        ADD_FAILURE() << "capture: true with --in-memory was accepted";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("t.yaml:2: capture: true, but EAL runs without a "
                                              "shared config",
                                              0),
                  0u)
            << e.what();
    }
}

TEST(Capture, WarnsOfDevargsTooLongForDumpcap) {
    const auto cfg = parse_config(
        "ports:\n"
        "  - {name: short, device: 'net_pcap0,rx_pcap=a.pcap,infinite_rx=1'}\n"
        "  - {name: fits, device: 'net_pcap1,rx_pcap=/tmp/ports-dumpcap-abcdefgh/b.pcap,"
        "infinite_rx=1'}\n"
        "  - {name: long, device: 'net_pcap2,rx_pcap=/tmp/ports-dumpcap-abcdefgh/a0.pcap,"
        "rx_pcap=/tmp/ports-dumpcap-abcdefgh/a1.pcap'}\n"
        "  - {name: nic, device: '0000:03:00.0'}\n",
        "t.yaml");
    const auto w = capture_warnings(cfg);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find("port 'long': its device arguments are 87 characters"), std::string::npos)
        << w[0];
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
    const auto o = parse_app_options({"--config", "c.yaml", "--stats-json", "s.json", "--duration",
                                      "2.5", "--stats-interval", "1"});
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

TEST(Options, CheckConfigPciDevicesAndVersion) {
    const auto c = parse_app_options({"--check-config", "c.yaml"});
    EXPECT_EQ(c.check_config_path, "c.yaml");
    EXPECT_FALSE(c.list_pci);
    const auto p = parse_app_options({"--pci-devices", "p.yaml"});
    EXPECT_EQ(p.check_config_path, "p.yaml");
    EXPECT_TRUE(p.list_pci);
    EXPECT_TRUE(parse_app_options({"--version"}).version);
    EXPECT_THROW(parse_app_options({"--check-config"}), usage_error);
}

TEST(Options, StandaloneOnlyWithoutEalArguments) {
    // These run without "--" (the unit's ExecStartPre); anything else is EAL's to read.
    EXPECT_TRUE(standalone_only({"--version"}));
    EXPECT_TRUE(standalone_only({"--check-config", "c.yaml"}));
    EXPECT_TRUE(standalone_only({"--pci-devices", "c.yaml"}));
    EXPECT_FALSE(standalone_only({}));
    EXPECT_FALSE(standalone_only({"--help"}));
    EXPECT_FALSE(standalone_only({"-l", "0", "--check-config", "c.yaml"}));
    EXPECT_FALSE(standalone_only({"--no-huge", "--version"}));
}

TEST(Config, ShippedExamplesLoad) {
    std::size_t loaded = 0;
    for (const auto& e : std::filesystem::directory_iterator(PORTS_CONFIGS_DIR)) {
        // rules-*.yaml are rule packs, not engine configs (tests/unit/rules loads them).
        if (e.path().extension() == ".yaml" &&
            !e.path().filename().string().starts_with("rules-")) {
            EXPECT_NO_THROW(load_config(e.path().string())) << e.path();
            ++loaded;
        }
    }
    EXPECT_GE(loaded, 4u);
}

TEST(ConfigNtp, DocumentedSectionLoads) {
    const auto cfg = parse_config(R"(
ntp:
  addresses: [192.0.2.1, "2001:db8::1"]
  keys: keys/ntp.keys
  require_auth: false
  stratum: 1
  refid: GPS
  assume_synchronized: true
  ratelimit: {interval: 3, burst: 8, leak: 2, kod: true}
  access:
    - {deny: 198.51.100.0/24}
    - {allow: "2001:db8::/32"}
ports:
  - name: a
    device: net_null0
    ntp_addresses: [203.0.113.5]
)",
                                  "/etc/ports/engine.yaml");
    ASSERT_TRUE(cfg.ntp.enabled);
    ASSERT_EQ(cfg.ntp.addresses.size(), 2u);
    EXPECT_FALSE(cfg.ntp.addresses[0].v6);
    EXPECT_EQ(cfg.ntp.addresses[0].bytes[0], 192);
    EXPECT_EQ(cfg.ntp.addresses[0].bytes[3], 1);
    EXPECT_TRUE(cfg.ntp.addresses[1].v6);
    EXPECT_EQ(cfg.ntp.addresses[1].bytes[15], 1);
    EXPECT_EQ(cfg.ntp.keys_path, "/etc/ports/keys/ntp.keys");
    EXPECT_EQ(cfg.ntp.refid, "GPS");
    EXPECT_TRUE(cfg.ntp.assume_synchronized);
    EXPECT_TRUE(cfg.ntp.ratelimit.enabled);
    EXPECT_EQ(cfg.ntp.ratelimit.interval, 3);
    EXPECT_EQ(cfg.ntp.ratelimit.burst, 8);
    EXPECT_EQ(cfg.ntp.ratelimit.leak, 2);
    EXPECT_TRUE(cfg.ntp.ratelimit.kod);
    ASSERT_EQ(cfg.ntp.access.size(), 2u);
    EXPECT_FALSE(cfg.ntp.access[0].allow);
    EXPECT_EQ(cfg.ntp.access[0].length, 24);
    EXPECT_TRUE(cfg.ntp.access[1].allow);
    EXPECT_EQ(cfg.ntp.access[1].length, 32);
    ASSERT_TRUE(cfg.ports[0].ntp_addresses.has_value());
    EXPECT_EQ(cfg.ports[0].ntp_addresses->size(), 1u);
}

TEST(ConfigNtp, BadAddressNamesLine) {
    const auto e = error_of("ntp:\n  addresses: [192.0.2.300]\n");
    EXPECT_EQ(e.rfind("t.yaml:2: '192.0.2.300' is not an IPv4 or IPv6 address", 0), 0u) << e;
}

TEST(ConfigNtp, MulticastServiceAddressIsRefused) {
    EXPECT_NE(error_of("ntp:\n  addresses: [224.0.1.1]\n").find("multicast"), std::string::npos);
}

TEST(ConfigNtp, RequireAuthNeedsKeys) {
    EXPECT_NE(error_of("ntp:\n  require_auth: true\n").find("needs 'keys'"), std::string::npos);
}

TEST(ConfigNtp, BadPrefixLengthIsRefused) {
    const auto e = error_of("ntp:\n  access:\n    - {allow: 192.0.2.0/33}\n");
    EXPECT_EQ(e.rfind("t.yaml:3:", 0), 0u) << e;
}

TEST(ConfigNtp, LongRefidIsRefused) {
    EXPECT_NE(error_of("ntp:\n  refid: TOOLONG\n").find("'refid'"), std::string::npos);
}

TEST(ConfigNtp, UnknownRatelimitKeyIsRefused) {
    const auto e = error_of("ntp:\n  ratelimit: {interval: 3, bust: 8}\n");
    EXPECT_NE(e.find("unknown key 'bust'"), std::string::npos) << e;
}

TEST(ConfigSnmp, DocumentedSectionLoads) {
    const auto cfg = parse_config(R"(
snmp:
  agentx_socket: /run/snmp/agentx
  ping_interval: 2
  traps: {link: false, start_stop: true}
  thresholds:
    - {counter: ntp.malformed, rate_above: 100, interval: 10, holddown: 60}
    - counter: ntp_server.rate_limited
      rate_above: 0.5
    - {counter: snmp-trap.packets, rate_above: 1e6}
)",
                                  "t.yaml");
    EXPECT_TRUE(cfg.snmp.enabled);
    EXPECT_EQ(cfg.snmp.agentx_socket, "/run/snmp/agentx");
    EXPECT_EQ(cfg.snmp.ping_interval_s, 2u);
    EXPECT_FALSE(cfg.snmp.trap_link);
    EXPECT_TRUE(cfg.snmp.trap_start_stop);
    ASSERT_EQ(cfg.snmp.thresholds.size(), 3u);
    EXPECT_EQ(cfg.snmp.thresholds[0].counter, "ntp.malformed");
    EXPECT_EQ(cfg.snmp.thresholds[0].rate_above, 100.0);
    EXPECT_EQ(cfg.snmp.thresholds[0].interval_s, 10u);
    EXPECT_EQ(cfg.snmp.thresholds[0].holddown_s, 60u);
    EXPECT_EQ(cfg.snmp.thresholds[0].line, 7);
    EXPECT_EQ(cfg.snmp.thresholds[1].rate_above, 0.5);
    EXPECT_EQ(cfg.snmp.thresholds[1].interval_s, 10u);  // defaults
    EXPECT_EQ(cfg.snmp.thresholds[1].holddown_s, 60u);
    EXPECT_EQ(cfg.snmp.thresholds[2].rate_above, 1e6);
}

TEST(ConfigSnmp, IfIndexBaseAndPortAliasForIfMib) {
    EXPECT_EQ(parse_config("snmp:\n", "t.yaml").snmp.if_index_base, 1000000u);
    const auto cfg = parse_config(
        "ports:\n  - name: a\n    device: net_null0\n    alias: uplink to core 7\n"
        "snmp:\n  if_index_base: 5000\n",
        "t.yaml");
    EXPECT_EQ(cfg.snmp.if_index_base, 5000u);
    EXPECT_EQ(cfg.ports[0].alias, "uplink to core 7");
    EXPECT_TRUE(parse_config("ports:\n  - name: a\n    device: net_null0\n", "t.yaml")
                    .ports[0]
                    .alias.empty());
    // The last port id's ifIndex must stay an InterfaceIndex (<= 2147483647).
    EXPECT_EQ(parse_config("snmp:\n  if_index_base: 2147418112\n", "t.yaml").snmp.if_index_base,
              2147418112u);
    EXPECT_EQ(error_of("snmp:\n  if_index_base: 2147418113\n").rfind("t.yaml:2: ", 0), 0u)
        << error_of("snmp:\n  if_index_base: 2147418113\n");
    EXPECT_EQ(error_of("snmp:\n  if_index_base: 0\n").rfind("t.yaml:2: ", 0), 0u);
    const std::string port = "ports:\n  - name: a\n    device: net_null0\n    alias: ";
    EXPECT_EQ(error_of(port + std::string(65, 'x') + "\n")
                  .rfind("t.yaml:4: 'alias' must be up to 64 printable ASCII characters", 0),
              0u);
    EXPECT_EQ(error_of(port + "\"tab\\there\"\n").rfind("t.yaml:4: 'alias' must be", 0), 0u);
    EXPECT_EQ(parse_config(port + std::string(64, 'x') + "\n", "t.yaml").ports[0].alias.size(),
              64u);
}

TEST(ConfigSnmp, AbsentMeansOffAndAnEmptySectionMeansOnWithDefaults) {
    EXPECT_FALSE(parse_config("ports: []\n", "t.yaml").snmp.enabled);
    const auto cfg = parse_config("snmp:\n", "t.yaml");
    EXPECT_TRUE(cfg.snmp.enabled);
    EXPECT_TRUE(cfg.snmp.agentx_socket.empty());
    EXPECT_TRUE(cfg.snmp.trap_link);
    EXPECT_TRUE(cfg.snmp.trap_start_stop);
    EXPECT_FALSE(parse_config("snmp: {enabled: false}\n", "t.yaml").snmp.enabled);
}

TEST(ConfigSnmp, RefusalsNameFileAndLine) {
    EXPECT_EQ(error_of("snmp:\n  agentx: /x\n").rfind("t.yaml:2: unknown key 'agentx' in snmp", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  agentx_socket: ''\n")
                  .rfind("t.yaml:2: 'agentx_socket' must not be empty", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  traps: {link: maybe}\n")
                  .rfind("t.yaml:2: 'link' must be true or false", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  traps: {flood: true}\n").rfind("t.yaml:2: unknown key 'flood'", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  thresholds:\n    - {counter: ntp.malformd, rate_above: 1}\n")
                  .rfind("t.yaml:3: unknown counter 'ntp.malformd'", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  thresholds:\n    - {counter: ntp_server.nope, rate_above: 1}\n")
                  .rfind("t.yaml:3: unknown counter 'ntp_server.nope'", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  thresholds:\n    - {counter: ntp.malformed}\n")
                  .rfind("t.yaml:3: a threshold needs 'rate_above'", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  thresholds:\n    - {counter: ntp.malformed, rate_above: fast}\n")
                  .rfind("t.yaml:3: 'rate_above' must be a number, not 'fast'", 0),
              0u);
    EXPECT_EQ(error_of("snmp:\n  thresholds:\n    - {counter: ntp.malformed, rate_above: -1}\n")
                  .rfind("t.yaml:3: 'rate_above' must be in", 0),
              0u);
    EXPECT_EQ(
        error_of(
            "snmp:\n  thresholds:\n\n    - {counter: gre.packets, rate_above: 1, interval: 0}\n")
            .rfind("t.yaml:4: 'interval' = 0 is out of range", 0),
        0u);
    EXPECT_EQ(error_of("snmp:\n  thresholds: {counter: gre.packets}\n")
                  .rfind("t.yaml:2: 'thresholds' must be a list", 0),
              0u);
}

TEST(ConfigRules, PathIsRelativeToTheConfigFile) {
    EXPECT_EQ(parse_config("rules: rules/pack.yaml\n", "/etc/ports/engine.yaml").rules_path,
              "/etc/ports/rules/pack.yaml");
    EXPECT_EQ(parse_config("rules: /srv/pack.yaml\n", "/etc/ports/engine.yaml").rules_path,
              "/srv/pack.yaml");
    EXPECT_TRUE(parse_config("ports: []\n", "t.yaml").rules_path.empty());
}

TEST(ConfigRules, ListOrEmptyIsRefusedWithLine) {
    auto e = error_of("mbufs: 4096\nrules: [a, b]\n");
    EXPECT_EQ(e.rfind("t.yaml:2: 'rules' must be a string", 0), 0u) << e;
    e = error_of("rules: \"\"\n");
    EXPECT_EQ(e.rfind("t.yaml:1: 'rules' must name a rules file", 0), 0u) << e;
}

TEST(ConfigNts, DocumentedMinimumLoadsWithTheExceptionPathOn) {
    const auto cfg = parse_config(R"(
ntp:
  addresses: [192.0.2.1]
  nts:
    certificate: nts-cert.pem
    key: nts-key.pem
)",
                                  "/etc/pe/t.yaml");
    const auto& n = cfg.ntp.nts;
    EXPECT_TRUE(n.enabled);
    EXPECT_EQ(n.certificate, "/etc/pe/nts-cert.pem");  // relative to the config file
    EXPECT_EQ(n.key, "/etc/pe/nts-key.pem");
    EXPECT_TRUE(n.ke_listen.empty());
    EXPECT_EQ(n.ke_port, 4460);
    EXPECT_EQ(n.cookies, 8u);
    EXPECT_EQ(n.rotate_interval_s, 7u * 24 * 3600);
    EXPECT_TRUE(n.key_file.empty());
    // NTS-KE on the service addresses needs the kernel's share of them.
    EXPECT_TRUE(cfg.ntp.exception_path.enabled);
    EXPECT_EQ(cfg.ntp.exception_path.rate, 20000u);
}

TEST(ConfigNts, EveryKeyLoads) {
    const auto cfg = parse_config(R"(
ntp:
  addresses: [192.0.2.1]
  nts:
    certificate: /c.pem
    key: /k.pem
    ke_listen: ["198.51.100.7:4460", "[2001:db8::7]:4461", 198.51.100.8]
    ntp_server: time.example.net
    ntp_port: 1123
    cookies: 4
    max_connections: 100
    timeout_ms: 2000
    ke_threads: 2
    key_file: keys.txt
    rotate_interval: 0
  exception_path: {enabled: true, rate: 100, burst: 10, prefix_v4: 32, prefix_v6: 128}
ports:
  - name: p0
    device: net_null0
    exception_interface: tap-time0
)",
                                  "t.yaml");
    const auto& n = cfg.ntp.nts;
    EXPECT_EQ(n.ke_listen.size(), 3u);
    EXPECT_EQ(n.ntp_server, "time.example.net");
    EXPECT_EQ(n.ntp_port, 1123);
    EXPECT_EQ(n.cookies, 4u);
    EXPECT_EQ(n.max_connections, 100u);
    EXPECT_EQ(n.timeout_ms, 2000u);
    EXPECT_EQ(n.ke_threads, 2u);
    EXPECT_EQ(n.key_file, "keys.txt");
    EXPECT_EQ(n.rotate_interval_s, 0u);
    EXPECT_TRUE(cfg.ntp.exception_path.enabled);
    EXPECT_EQ(cfg.ntp.exception_path.rate, 100u);
    EXPECT_EQ(cfg.ntp.exception_path.burst, 10u);
    EXPECT_EQ(cfg.ntp.exception_path.prefix_v4, 32);
    EXPECT_EQ(cfg.ntp.exception_path.prefix_v6, 128);
    EXPECT_EQ(cfg.ports[0].exception_interface, "tap-time0");
}

TEST(ConfigNts, KeOnAManagementAddressNeedsNoExceptionPath) {
    const auto cfg = parse_config(
        "ntp:\n  addresses: [192.0.2.1]\n  nts:\n    certificate: c\n    key: k\n"
        "    ke_listen: [198.51.100.7]\n",
        "t.yaml");
    EXPECT_FALSE(cfg.ntp.exception_path.enabled);
}

TEST(ConfigNts, RefusalsNameFileAndLine) {
    const std::string head = "ntp:\n  addresses: [192.0.2.1]\n  nts:\n";
    EXPECT_EQ(error_of(head + "    key: k\n").rfind("t.yaml:4: ntp.nts needs 'certificate' and 'key'", 0), 0u)
        << error_of(head + "    key: k\n");
    const std::string ck = head + "    certificate: c\n    key: k\n";
    EXPECT_EQ(error_of(ck + "    cookies: 9\n").rfind("t.yaml:6: 'cookies' = 9 is out of range", 0), 0u);
    EXPECT_EQ(error_of(ck + "    ke_listen: [nowhere:4460]\n").rfind("t.yaml:6: 'nowhere:4460' is not", 0), 0u);
    EXPECT_EQ(error_of(ck + "    rotate_interval: 5\n").rfind("t.yaml:6: 'rotate_interval' must be 0", 0), 0u);
    EXPECT_EQ(error_of(ck + "    rotate_interval: 0\n").rfind("t.yaml:4: rotate_interval: 0 needs a 'key_file'", 0), 0u)
        << error_of(ck + "    rotate_interval: 0\n");
    EXPECT_EQ(error_of(ck + "    colour: blue\n").rfind("t.yaml:6: unknown key 'colour' in ntp.nts", 0), 0u);
    EXPECT_EQ(error_of(head + "    certificate: c\n    key: k\n  exception_path: {rate: 0}\n")
                  .rfind("t.yaml:6: 'rate' = 0 is out of range", 0),
              0u);
    EXPECT_EQ(error_of("ports:\n  - name: a\n    device: net_null0\n    exception_interface: a/b\n")
                  .rfind("t.yaml:4: 'exception_interface' must be", 0),
              0u);
}

TEST(ConfigTunnels, AbsentEmptyAndEveryKey) {
    EXPECT_FALSE(parse_config("ports: []\n", "t.yaml").tunnels.enabled);
    const auto empty = parse_config("tunnels:\n", "t.yaml").tunnels;
    EXPECT_TRUE(empty.enabled);
    EXPECT_EQ(empty.entries, 16384u);
    EXPECT_EQ(empty.idle_timeout_s, 300u);
    EXPECT_EQ(empty.top, 100u);
    EXPECT_EQ(empty.mib_rows, 100u);
    EXPECT_TRUE(empty.symmetric_rss);
    const auto cfg = parse_config(R"(
tunnels:
  entries: 65536
  idle_timeout: 600
  top: 20
  mib_rows: 50
  symmetric_rss: false
snmp:
  traps: {tunnels: true, tunnel_rate: 20}
)",
                                  "t.yaml");
    EXPECT_EQ(cfg.tunnels.entries, 65536u);
    EXPECT_EQ(cfg.tunnels.idle_timeout_s, 600u);
    EXPECT_EQ(cfg.tunnels.top, 20u);
    EXPECT_EQ(cfg.tunnels.mib_rows, 50u);
    EXPECT_FALSE(cfg.tunnels.symmetric_rss);
    EXPECT_TRUE(cfg.snmp.trap_tunnels);
    EXPECT_EQ(cfg.snmp.trap_tunnel_rate, 20.0);
    // Tunnel notifications are off unless asked for.
    EXPECT_FALSE(parse_config("snmp:\n", "t.yaml").snmp.trap_tunnels);
}

TEST(ConfigTunnels, RefusalsNameFileAndLine) {
    EXPECT_EQ(
        error_of("tunnels:\n  mib_rows: 0\n").rfind("t.yaml:2: 'mib_rows' = 0 is out of range", 0),
        0u);
    EXPECT_EQ(error_of("tunnels:\n  symmetric_rss: often\n")
                  .rfind("t.yaml:2: 'symmetric_rss' must be true or false", 0),
              0u);
    EXPECT_EQ(error_of("tunnels:\n  rows: 3\n").rfind("t.yaml:2: unknown key 'rows' in tunnels", 0),
              0u);
    // The tunnel notifications watch the tables: no tables, no notifications.
    EXPECT_EQ(error_of("snmp:\n  traps:\n    tunnels: true\n")
                  .rfind("t.yaml:3: snmp traps 'tunnels' needs a 'tunnels' section", 0),
              0u);
    EXPECT_EQ(error_of("tunnels:\nsnmp:\n  traps: {tunnels: true, tunnel_rate: 0}\n")
                  .rfind("t.yaml:3: 'tunnel_rate' = 0 is out of range", 0),
              0u);
}
