#include "config.hpp"

#include <fcntl.h>
#include <rte_config.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

#include "ports/common/yaml_reader.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/service.hpp"
#include "ports/rules/rules.hpp"

namespace ports::engine {

namespace {

struct context : yaml_reader::checks<context> {
    std::string file;

    [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
        throw config_error(yaml_reader::where(file, yaml_reader::line_of(node)) + message);
    }

    // Relative to the config file, so a config and the files it names travel together.
    std::string relative_path(const std::string& path) const {
        if (path.empty() || path[0] == '/') {
            return path;
        }
        const auto dir = file.find_last_of('/');
        return dir == std::string::npos ? path : file.substr(0, dir + 1) + path;
    }

    bool bool_of(const YAML::Node& n, const std::string& key) const {
        if (n.IsScalar()) {
            const std::string& s = n.Scalar();
            if (s == "true" || s == "yes" || s == "on") {
                return true;
            }
            if (s == "false" || s == "no" || s == "off") {
                return false;
            }
        }
        fail(n, "'" + key + "' must be true or false");
    }
};

std::vector<ip_address> addresses_of(const context& ctx, const YAML::Node& n,
                                     const std::string& key) {
    if (!n.IsSequence()) {
        ctx.fail(n, "'" + key + "' must be a list of IPv4/IPv6 addresses");
    }
    std::vector<ip_address> out;
    for (const auto& item : n) {
        const std::string text = ctx.string_of(item, key);
        const auto a = parse_ip_address(text);
        if (!a) {
            ctx.fail(item, "'" + text + "' is not an IPv4 or IPv6 address");
        }
        const bool multicast = a->v6 ? a->bytes[0] == 0xFF : (a->bytes[0] & 0xF0) == 0xE0;
        const bool unspecified =
            std::all_of(a->bytes.begin(), a->bytes.end(), [](std::uint8_t b) { return b == 0; });
        if (multicast || unspecified) {
            ctx.fail(item, "'" + text + "' cannot be a service address (multicast or unspecified)");
        }
        out.push_back(*a);
    }
    return out;
}

ip_prefix prefix_of(const context& ctx, const YAML::Node& item) {
    ctx.only_keys(item, {"allow", "deny"}, "an access entry");
    if (item.size() != 1) {
        ctx.fail(item, "an access entry is {allow: PREFIX} or {deny: PREFIX}");
    }
    ip_prefix p;
    p.allow = static_cast<bool>(item["allow"]);
    const YAML::Node v = p.allow ? item["allow"] : item["deny"];
    const std::string text = ctx.string_of(v, p.allow ? "allow" : "deny");
    const auto slash = text.find('/');
    const auto a = parse_ip_address(text.substr(0, slash));
    if (!a) {
        ctx.fail(v, "'" + text + "' is not an address prefix (192.0.2.0/24, 2001:db8::/32)");
    }
    p.address = *a;
    const int max = a->v6 ? 128 : 32;
    p.length = static_cast<std::uint8_t>(max);
    if (slash != std::string::npos) {
        const std::string len = text.substr(slash + 1);
        const bool digits =
            !len.empty() && len.size() <= 3 &&
            std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || std::stoi(len) > max) {
            ctx.fail(v, "'" + text + "': prefix length must be 0.." + std::to_string(max));
        }
        p.length = static_cast<std::uint8_t>(std::stoi(len));
    }
    return p;
}

nts_config parse_nts(const context& ctx, const YAML::Node& n) {
    ctx.only_keys(
        n,
        {"certificate", "key", "ke_listen", "ke_port", "ntp_server", "ntp_port", "cookies",
         "max_connections", "timeout_ms", "ke_threads", "key_file", "rotate_interval"},
        "ntp.nts");
    nts_config c;
    c.enabled = true;
    c.line = n.Mark().line + 1;
    if (!n["certificate"] || !n["key"]) {
        ctx.fail(n, "ntp.nts needs 'certificate' and 'key' (PEM files)");
    }
    c.certificate = ctx.relative_path(ctx.string_of(n["certificate"], "certificate"));
    c.key = ctx.relative_path(ctx.string_of(n["key"], "key"));
    c.certificate_line = yaml_reader::line_of(n["certificate"]);
    c.key_line = yaml_reader::line_of(n["key"]);
    if (n["ke_listen"]) {
        const YAML::Node l = n["ke_listen"];
        if (!l.IsSequence()) {
            ctx.fail(l, "'ke_listen' must be a list of ADDR, ADDR:PORT or [ADDR6]:PORT");
        }
        for (const auto& item : l) {
            const std::string text = ctx.string_of(item, "ke_listen");
            std::string host = text;
            if (!text.empty() && text[0] == '[') {
                const auto close = text.find(']');
                host = close == std::string::npos ? "" : text.substr(1, close - 1);
            } else if (std::count(text.begin(), text.end(), ':') == 1) {
                host = text.substr(0, text.find(':'));
            }
            if (!parse_ip_address(host)) {
                ctx.fail(item, "'" + text + "' is not ADDR, ADDR:PORT or [ADDR6]:PORT");
            }
            c.ke_listen.push_back(text);
        }
    }
    if (n["ke_port"]) {
        c.ke_port = static_cast<std::uint16_t>(ctx.integer_of(n["ke_port"], "ke_port", 1, 65535));
    }
    if (n["ntp_server"]) {
        c.ntp_server = ctx.string_of(n["ntp_server"], "ntp_server");
        if (c.ntp_server.empty() || c.ntp_server.size() > 255) {
            ctx.fail(n["ntp_server"], "'ntp_server' must be a host name or address");
        }
    }
    if (n["ntp_port"]) {
        c.ntp_port =
            static_cast<std::uint16_t>(ctx.integer_of(n["ntp_port"], "ntp_port", 1, 65535));
    }
    if (n["cookies"]) {
        c.cookies = static_cast<unsigned>(ctx.integer_of(n["cookies"], "cookies", 1, 8));
    }
    if (n["max_connections"]) {
        c.max_connections = static_cast<unsigned>(
            ctx.integer_of(n["max_connections"], "max_connections", 1, 100000));
    }
    if (n["timeout_ms"]) {
        c.timeout_ms =
            static_cast<unsigned>(ctx.integer_of(n["timeout_ms"], "timeout_ms", 100, 60000));
    }
    if (n["ke_threads"]) {
        c.ke_threads = static_cast<unsigned>(ctx.integer_of(n["ke_threads"], "ke_threads", 1, 64));
    }
    if (n["key_file"]) {
        c.key_file = ctx.relative_path(ctx.string_of(n["key_file"], "key_file"));
    }
    if (n["rotate_interval"]) {
        c.rotate_interval_s = static_cast<std::uint32_t>(
            ctx.integer_of(n["rotate_interval"], "rotate_interval", 0, 365LL * 24 * 3600));
        if (c.rotate_interval_s != 0 && c.rotate_interval_s < 10) {
            ctx.fail(n["rotate_interval"], "'rotate_interval' must be 0 (never) or >= 10 s");
        }
    }
    if (c.rotate_interval_s == 0 && c.key_file.empty()) {
        ctx.fail(n,
                 "rotate_interval: 0 needs a 'key_file' (keys that never rotate must come "
                 "from somewhere)");
    }
    return c;
}

exception_config parse_exception_path(const context& ctx, const YAML::Node& n) {
    exception_config c;
    ctx.only_keys(n, {"enabled", "rate", "burst", "prefix_v4", "prefix_v6"}, "ntp.exception_path");
    c.enabled = true;
    c.configured = true;
    if (n["enabled"]) {
        c.enabled = ctx.bool_of(n["enabled"], "enabled");
    }
    if (n["rate"]) {
        c.rate = static_cast<std::uint32_t>(ctx.integer_of(n["rate"], "rate", 1, 100000000));
    }
    if (n["burst"]) {
        c.burst = static_cast<std::uint32_t>(ctx.integer_of(n["burst"], "burst", 1, 1000000));
    }
    if (n["prefix_v4"]) {
        c.prefix_v4 = static_cast<std::uint8_t>(ctx.integer_of(n["prefix_v4"], "prefix_v4", 1, 32));
    }
    if (n["prefix_v6"]) {
        c.prefix_v6 =
            static_cast<std::uint8_t>(ctx.integer_of(n["prefix_v6"], "prefix_v6", 1, 128));
    }
    return c;
}

ntp_config parse_ntp(const context& ctx, const YAML::Node& n) {
    ctx.only_keys(n,
                  {"addresses", "keys", "require_auth", "stratum", "refid", "assume_synchronized",
                   "max_timestamp_error", "interleaved", "interleaved_entries", "ratelimit",
                   "access", "nts", "exception_path"},
                  "ntp");
    ntp_config c;
    c.enabled = true;
    if (n["addresses"]) {
        c.addresses = addresses_of(ctx, n["addresses"], "addresses");
    }
    if (n["keys"]) {
        c.keys_path = ctx.relative_path(ctx.string_of(n["keys"], "keys"));
        c.keys_line = yaml_reader::line_of(n["keys"]);
    }
    if (n["require_auth"]) {
        c.require_auth = ctx.bool_of(n["require_auth"], "require_auth");
        if (c.require_auth && c.keys_path.empty()) {
            ctx.fail(n["require_auth"], "require_auth needs 'keys'");
        }
    }
    if (n["stratum"]) {
        c.stratum = static_cast<std::uint8_t>(ctx.integer_of(n["stratum"], "stratum", 1, 15));
    }
    if (n["refid"]) {
        c.refid = ctx.string_of(n["refid"], "refid");
        const bool ascii = c.refid.size() <= 4 && !c.refid.empty() &&
                           std::all_of(c.refid.begin(), c.refid.end(),
                                       [](char ch) { return ch >= 0x20 && ch < 0x7F; });
        const auto as_ip = parse_ip_address(c.refid);
        if (!ascii && !(as_ip && !as_ip->v6)) {
            ctx.fail(n["refid"], "'refid' must be up to 4 ASCII characters or an IPv4 address");
        }
    }
    if (n["assume_synchronized"]) {
        c.assume_synchronized = ctx.bool_of(n["assume_synchronized"], "assume_synchronized");
    }
    if (n["max_timestamp_error"]) {
        c.max_timestamp_error_us = static_cast<std::uint32_t>(
            ctx.integer_of(n["max_timestamp_error"], "max_timestamp_error", 0, 1000000));
    }
    if (n["interleaved"]) {
        c.interleaved = ctx.bool_of(n["interleaved"], "interleaved");
    }
    if (n["interleaved_entries"]) {
        const auto v = ctx.integer_of(n["interleaved_entries"], "interleaved_entries", 4, 1 << 24);
        if ((v & (v - 1)) != 0) {
            ctx.fail(n["interleaved_entries"], "'interleaved_entries' must be a power of two");
        }
        c.interleaved_entries = static_cast<std::uint32_t>(v);
    }
    if (n["ratelimit"]) {
        const YAML::Node r = n["ratelimit"];
        ctx.only_keys(r, {"interval", "burst", "leak", "kod"}, "ratelimit");
        c.ratelimit.enabled = true;
        if (r["interval"]) {
            c.ratelimit.interval =
                static_cast<std::int8_t>(ctx.integer_of(r["interval"], "interval", -4, 12));
        }
        if (r["burst"]) {
            c.ratelimit.burst =
                static_cast<std::uint8_t>(ctx.integer_of(r["burst"], "burst", 1, 255));
        }
        if (r["leak"]) {
            c.ratelimit.leak = static_cast<std::uint8_t>(ctx.integer_of(r["leak"], "leak", 0, 4));
        }
        if (r["kod"]) {
            c.ratelimit.kod = ctx.bool_of(r["kod"], "kod");
        }
    }
    if (n["nts"]) {
        c.nts = parse_nts(ctx, n["nts"]);
    }
    if (n["exception_path"]) {
        c.exception_path = parse_exception_path(ctx, n["exception_path"]);
    }
    if (!c.exception_path.configured) {
        c.exception_path.enabled = c.nts.enabled && c.nts.ke_listen.empty();
    }
    if (n["access"]) {
        if (!n["access"].IsSequence()) {
            ctx.fail(n["access"], "'access' must be a list of {allow: PREFIX} / {deny: PREFIX}");
        }
        for (const auto& item : n["access"]) {
            c.access.push_back(prefix_of(ctx, item));
        }
    }
    return c;
}

// A threshold's counter: a classification counter as --stats-json names it (class.key, class
// names as there: ntp, snmp, snmp-trap, ...) or an NTP server counter (ntp_server.key).
bool known_threshold_counter(const std::string& name) {
    const auto dot = name.find('.');
    if (dot == std::string::npos) {
        return false;
    }
    const std::string cls = name.substr(0, dot);
    const std::string key = name.substr(dot + 1);
    if (cls == "ntp_server") {
        return std::any_of(std::begin(pipelines::server_counter_names),
                           std::end(pipelines::server_counter_names),
                           [&](std::string_view k) { return k == key; });
    }
    return std::any_of(std::begin(pipelines::counter_defs), std::end(pipelines::counter_defs),
                       [&](const pipelines::counter_def& d) {
                           return pipelines::class_names[static_cast<std::size_t>(d.cls)] == cls &&
                                  d.key == key;
                       });
}

snmp_config parse_snmp(const context& ctx, const YAML::Node& n) {
    snmp_config c;
    c.enabled = true;
    if (n.IsNull()) {
        return c;
    }
    ctx.only_keys(
        n, {"enabled", "agentx_socket", "ping_interval", "traps", "thresholds", "if_index_base"},
        "snmp");
    if (n["enabled"]) {
        c.enabled = ctx.bool_of(n["enabled"], "enabled");
    }
    if (n["agentx_socket"]) {
        c.agentx_socket = ctx.string_of(n["agentx_socket"], "agentx_socket");
        if (c.agentx_socket.empty()) {
            ctx.fail(n["agentx_socket"],
                     "'agentx_socket' must not be empty (leave it out for "
                     "net-snmp's default)");
        }
    }
    if (n["ping_interval"]) {
        c.ping_interval_s =
            static_cast<std::uint32_t>(ctx.integer_of(n["ping_interval"], "ping_interval", 1, 300));
    }
    if (n["if_index_base"]) {
        // ifIndex is 1..2147483647 (InterfaceIndex); that of any port id (16 bits) must fit.
        c.if_index_base = static_cast<std::uint32_t>(
            ctx.integer_of(n["if_index_base"], "if_index_base", 1, 2147483647LL - 65535));
    }
    if (n["traps"]) {
        const YAML::Node t = n["traps"];
        ctx.only_keys(t, {"link", "start_stop", "tunnels", "tunnel_rate"}, "snmp traps");
        if (t["link"]) {
            c.trap_link = ctx.bool_of(t["link"], "link");
        }
        if (t["start_stop"]) {
            c.trap_start_stop = ctx.bool_of(t["start_stop"], "start_stop");
        }
        if (t["tunnels"]) {
            c.trap_tunnels = ctx.bool_of(t["tunnels"], "tunnels");
        }
        if (t["tunnel_rate"]) {
            c.trap_tunnel_rate =
                static_cast<double>(ctx.integer_of(t["tunnel_rate"], "tunnel_rate", 1, 10000));
        }
    }
    if (n["thresholds"]) {
        const YAML::Node list = n["thresholds"];
        if (!list.IsSequence()) {
            ctx.fail(list,
                     "'thresholds' must be a list of {counter, rate_above, interval, holddown}");
        }
        for (const auto& item : list) {
            ctx.only_keys(item, {"counter", "rate_above", "interval", "holddown"}, "a threshold");
            snmp_threshold th;
            th.line = item.Mark().line + 1;
            if (!item["counter"]) {
                ctx.fail(item, "a threshold needs 'counter'");
            }
            th.counter = ctx.string_of(item["counter"], "counter");
            if (!known_threshold_counter(th.counter)) {
                ctx.fail(item["counter"], "unknown counter '" + th.counter +
                                              "' (CLASS.COUNTER as in --stats-json, e.g. "
                                              "ntp.malformed, or ntp_server.COUNTER)");
            }
            if (!item["rate_above"]) {
                ctx.fail(item, "a threshold needs 'rate_above' (per second)");
            }
            const YAML::Node r = item["rate_above"];
            if (!r.IsScalar()) {
                ctx.fail(r, "'rate_above' must be a number");
            }
            try {
                std::size_t used = 0;
                th.rate_above = std::stod(r.Scalar(), &used);
                if (used != r.Scalar().size()) {
                    throw std::invalid_argument("trailing");
                }
            } catch (const std::exception&) {
                ctx.fail(r, "'rate_above' must be a number, not '" + r.Scalar() + "'");
            }
            if (!(th.rate_above >= 0) || th.rate_above > 1e12) {
                ctx.fail(r, "'rate_above' must be in [0, 1e12] per second");
            }
            if (item["interval"]) {
                th.interval_s = static_cast<std::uint32_t>(
                    ctx.integer_of(item["interval"], "interval", 1, 3600));
            }
            if (item["holddown"]) {
                th.holddown_s = static_cast<std::uint32_t>(
                    ctx.integer_of(item["holddown"], "holddown", 0, 86400));
            }
            c.thresholds.push_back(std::move(th));
        }
    }
    return c;
}

port_config parse_port(const context& ctx, const YAML::Node& n) {
    ctx.only_keys(n,
                  {"name", "device", "queues", "rx_descriptors", "tx_descriptors", "mode", "peer",
                   "promiscuous", "ntp_addresses", "exception_interface", "alias"},
                  "a port");
    port_config p;
    p.line = n.Mark().line + 1;
    if (!n["name"]) {
        ctx.fail(n, "a port needs a 'name'");
    }
    if (!n["device"]) {
        ctx.fail(n, "port needs a 'device' (PCI address or vdev devargs)");
    }
    p.name = ctx.string_of(n["name"], "name");
    if (p.name.empty()) {
        ctx.fail(n["name"], "'name' must not be empty");
    }
    p.device = ctx.string_of(n["device"], "device");
    if (p.device.empty()) {
        ctx.fail(n["device"], "'device' must not be empty");
    }
    if (n["queues"]) {
        p.queues = static_cast<std::uint16_t>(ctx.integer_of(n["queues"], "queues", 1, 128));
    }
    if (n["rx_descriptors"]) {
        p.rx_descriptors = static_cast<std::uint16_t>(
            ctx.integer_of(n["rx_descriptors"], "rx_descriptors", 32, 32768));
    }
    if (n["tx_descriptors"]) {
        p.tx_descriptors = static_cast<std::uint16_t>(
            ctx.integer_of(n["tx_descriptors"], "tx_descriptors", 32, 32768));
    }
    if (n["mode"]) {
        const std::string mode = ctx.string_of(n["mode"], "mode");
        if (mode == "monitor") {
            p.mode = port_mode::monitor;
        } else if (mode == "inline") {
            p.mode = port_mode::inline_;
        } else {
            ctx.fail(n["mode"], "'mode' must be monitor or inline, not '" + mode + "'");
        }
    }
    if (n["peer"]) {
        p.peer = ctx.string_of(n["peer"], "peer");
        if (p.mode != port_mode::inline_) {
            ctx.fail(n["peer"], "'peer' is only for mode: inline");
        }
    } else if (p.mode == port_mode::inline_) {
        ctx.fail(n, "port '" + p.name + "' is inline and needs a 'peer'");
    }
    if (n["promiscuous"]) {
        p.promiscuous = ctx.bool_of(n["promiscuous"], "promiscuous");
    }
    if (n["ntp_addresses"]) {
        p.ntp_addresses = addresses_of(ctx, n["ntp_addresses"], "ntp_addresses");
    }
    if (n["alias"]) {
        // IF-MIB's ifAlias: a DisplayString of up to 64 characters.
        p.alias = ctx.string_of(n["alias"], "alias");
        if (p.alias.size() > 64 || std::any_of(p.alias.begin(), p.alias.end(),
                                               [](char ch) { return ch < 0x20 || ch > 0x7E; })) {
            ctx.fail(n["alias"], "'alias' must be up to 64 printable ASCII characters");
        }
    }
    if (n["exception_interface"]) {
        p.exception_interface = ctx.string_of(n["exception_interface"], "exception_interface");
        if (p.exception_interface.empty() || p.exception_interface.size() > 15 ||
            p.exception_interface.find_first_of("/ :,=") != std::string::npos) {
            ctx.fail(n["exception_interface"],
                     "'exception_interface' must be an interface name of 1-15 characters "
                     "without '/', ' ', ':', ',' or '='");
        }
    }
    return p;
}

void check_ports(const context& ctx, const YAML::Node& ports_node, const engine_config& cfg) {
    std::set<std::string> names;
    std::set<std::string> devices;
    for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
        const auto& p = cfg.ports[i];
        if (!names.insert(p.name).second) {
            ctx.fail(ports_node[i], "duplicate port name '" + p.name + "'");
        }
        if (!devices.insert(p.device).second) {
            ctx.fail(ports_node[i]["device"], "device '" + p.device + "' is used twice");
        }
    }
    for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
        const auto& p = cfg.ports[i];
        if (p.mode == port_mode::inline_) {
            if (!names.contains(p.peer)) {
                ctx.fail(ports_node[i]["peer"], "peer '" + p.peer + "' is not a port name");
            }
            if (p.peer == p.name) {
                ctx.fail(ports_node[i]["peer"], "a port cannot be its own peer");
            }
        }
    }
}

void parse_lcores(const context& ctx, const YAML::Node& n, engine_config& cfg) {
    if (n.IsScalar() && n.Scalar() == "auto") {
        return;
    }
    if (!n.IsSequence()) {
        ctx.fail(n, "'lcores' must be 'auto' or a list of {lcore, port, queue}");
    }
    std::set<std::pair<std::string, std::uint16_t>> seen;
    for (const auto& item : n) {
        ctx.only_keys(item, {"lcore", "port", "queue"}, "an lcore assignment");
        if (!item["lcore"] || !item["port"] || !item["queue"]) {
            ctx.fail(item, "an lcore assignment needs lcore, port and queue");
        }
        lcore_assignment a;
        a.line = item.Mark().line + 1;
        a.lcore = static_cast<unsigned>(ctx.integer_of(item["lcore"], "lcore", 0, 1023));
        a.port = ctx.string_of(item["port"], "port");
        a.queue = static_cast<std::uint16_t>(ctx.integer_of(item["queue"], "queue", 0, 127));
        const port_config* port = nullptr;
        for (const auto& p : cfg.ports) {
            if (p.name == a.port) {
                port = &p;
            }
        }
        if (port == nullptr) {
            ctx.fail(item["port"], "port '" + a.port + "' is not a port name");
        }
        if (a.queue >= port->queues) {
            ctx.fail(item["queue"], "port '" + a.port + "' has " + std::to_string(port->queues) +
                                        " queue(s); queue " + std::to_string(a.queue) +
                                        " does not exist");
        }
        if (!seen.insert({a.port, a.queue}).second) {
            ctx.fail(item, "queue " + std::to_string(a.queue) + " of port '" + a.port +
                               "' is assigned twice");
        }
        cfg.lcores.push_back(a);
    }
    for (const auto& p : cfg.ports) {
        for (std::uint16_t q = 0; q < p.queues; ++q) {
            if (!seen.contains({p.name, q})) {
                ctx.fail(n, "queue " + std::to_string(q) + " of port '" + p.name +
                                "' has no lcore (list every queue, or use lcores: auto)");
            }
        }
    }
}

}  // namespace

engine_config parse_config(const std::string& text, const std::string& file_name) {
    context ctx{{}, file_name};
    const YAML::Node root = yaml_reader::parse_document<config_error>(text, file_name);
    ctx.check_document(root, text);
    engine_config cfg;
    cfg.file = file_name;
    if (root.IsNull()) {
        // Not "no config": a config given and empty is a mistake (a wrong path, a file not
        // written yet), and running every probed port instead would hide it.
        throw config_error(yaml_reader::where(file_name, 1) +
                           "the config is empty (no key at all); leave --config out to run "
                           "every port EAL probed in monitor mode");
    }
    ctx.only_keys(root,
                  {"ports", "lcores", "mbufs", "ntp", "snmp", "rules", "alerts", "capture",
                   "tunnels"},
                  "the top level");
    if (root["ports"]) {
        const YAML::Node ports_node = root["ports"];
        if (!ports_node.IsSequence()) {
            ctx.fail(ports_node, "'ports' must be a list");
        }
        // DPDK has room for RTE_MAX_ETHPORTS ports in all (a build-time constant): more is
        // refused here, before a device is touched, not at the probe that runs out.
        if (ports_node.size() > RTE_MAX_ETHPORTS) {
            ctx.fail(ports_node[RTE_MAX_ETHPORTS],
                     "port " + std::to_string(RTE_MAX_ETHPORTS + 1) + " of " +
                         std::to_string(ports_node.size()) + ": this DPDK has room for " +
                         std::to_string(RTE_MAX_ETHPORTS) + " ports (RTE_MAX_ETHPORTS)");
        }
        for (const auto& item : ports_node) {
            cfg.ports.push_back(parse_port(ctx, item));
        }
        check_ports(ctx, ports_node, cfg);
    }
    if (root["lcores"]) {
        if (cfg.ports.empty()) {
            ctx.fail(root["lcores"], "'lcores' needs 'ports'");
        }
        parse_lcores(ctx, root["lcores"], cfg);
    }
    if (root["ntp"]) {
        cfg.ntp = parse_ntp(ctx, root["ntp"]);
    }
    if (root["snmp"]) {
        cfg.snmp = parse_snmp(ctx, root["snmp"]);
    }
    if (root["rules"]) {
        cfg.rules_path = ctx.string_of(root["rules"], "rules");
        cfg.rules_line = root["rules"].Mark().line + 1;
        if (cfg.rules_path.empty()) {
            ctx.fail(root["rules"], "'rules' must name a rules file");
        }
        cfg.rules_path = ctx.relative_path(cfg.rules_path);
    }
    if (root["alerts"]) {
        cfg.alerts_path = ctx.string_of(root["alerts"], "alerts");
        if (cfg.alerts_path.empty()) {
            ctx.fail(root["alerts"], "'alerts' must name a file");
        }
        if (!root["rules"]) {
            ctx.fail(root["alerts"], "'alerts' needs 'rules' (only rules write alerts)");
        }
        cfg.alerts_path = ctx.relative_path(cfg.alerts_path);
    }
    if (root["capture"]) {
        const YAML::Node n = root["capture"];
        cfg.capture_line = yaml_reader::line_of(n);
        const std::string s = n.IsScalar() ? n.Scalar() : "";
        if (s == "auto") {
            cfg.capture = capture_mode::automatic;
        } else if (s == "true" || s == "yes" || s == "on") {
            cfg.capture = capture_mode::on;
        } else if (s == "false" || s == "no" || s == "off") {
            cfg.capture = capture_mode::off;
        } else {
            ctx.fail(n, "'capture' must be auto, true or false");
        }
    }
    if (root["tunnels"]) {
        const YAML::Node n = root["tunnels"];
        cfg.tunnels.enabled = true;
        if (!n.IsNull()) {
            if (!n.IsMap()) {
                ctx.fail(n,
                         "'tunnels' must be a map (entries, idle_timeout, top, mib_rows, "
                         "symmetric_rss) or empty");
            }
            ctx.only_keys(
                n, {"enabled", "entries", "idle_timeout", "top", "mib_rows", "symmetric_rss"},
                "tunnels");
            if (n["enabled"]) {
                cfg.tunnels.enabled = ctx.bool_of(n["enabled"], "enabled");
            }
            if (n["entries"]) {
                cfg.tunnels.entries = static_cast<std::uint32_t>(
                    ctx.integer_of(n["entries"], "entries", 1, 4 * 1024 * 1024));
            }
            if (n["idle_timeout"]) {
                cfg.tunnels.idle_timeout_s = static_cast<std::uint32_t>(
                    ctx.integer_of(n["idle_timeout"], "idle_timeout", 1, 7 * 24 * 3600));
            }
            if (n["top"]) {
                cfg.tunnels.top =
                    static_cast<std::uint32_t>(ctx.integer_of(n["top"], "top", 1, 100));
            }
            if (n["symmetric_rss"]) {
                cfg.tunnels.symmetric_rss = ctx.bool_of(n["symmetric_rss"], "symmetric_rss");
            }
            if (n["mib_rows"]) {
                cfg.tunnels.mib_rows =
                    static_cast<std::uint32_t>(ctx.integer_of(n["mib_rows"], "mib_rows", 1, 10000));
            }
        }
    }
    if (cfg.snmp.trap_tunnels && !cfg.tunnels.enabled) {
        ctx.fail(root["snmp"]["traps"]["tunnels"],
                 "snmp traps 'tunnels' needs a 'tunnels' section (the tables they watch)");
    }
    if (root["mbufs"]) {
        cfg.mbufs = static_cast<std::uint32_t>(
            ctx.integer_of(root["mbufs"], "mbufs", 1024, 16 * 1024 * 1024));
        cfg.mbufs_line = yaml_reader::line_of(root["mbufs"]);
    }
    if (cfg.ntp.enabled && cfg.ntp.exception_path.enabled) {
        // Each port with NTP service addresses gets a TAP port of its own (net_tap).
        const auto taps = static_cast<std::size_t>(
            std::count_if(cfg.ports.begin(), cfg.ports.end(), [&](const port_config& p) {
                return !(p.ntp_addresses ? *p.ntp_addresses : cfg.ntp.addresses).empty();
            }));
        if (cfg.ports.size() + taps > RTE_MAX_ETHPORTS) {
            ctx.fail(root["ports"],
                     std::to_string(cfg.ports.size()) + " ports and " + std::to_string(taps) +
                         " exception-path TAPs: this DPDK has room for " +
                         std::to_string(RTE_MAX_ETHPORTS) + " ports (RTE_MAX_ETHPORTS)");
        }
    }
    return cfg;
}

namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

// What a named file must be: readable, and a regular file (a FIFO would block the start, a
// directory reads as nothing). Empty when it is; else why not.
std::string unreadable(const std::string& path) {
    // O_NONBLOCK: opening a FIFO for reading waits for a writer otherwise.
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return errno_text(errno);
    }
    struct stat st {};
    const int rc = fstat(fd, &st);
    const int err = errno;
    close(fd);
    if (rc != 0) {
        return errno_text(err);
    }
    if (S_ISDIR(st.st_mode)) {
        return "it is a directory";
    }
    if (!S_ISREG(st.st_mode)) {
        return "not a regular file (a FIFO, socket or device)";
    }
    return "";
}

void check_named_file(const engine_config& cfg, int line, const std::string& key,
                      const std::string& path) {
    const std::string why = unreadable(path);
    if (!why.empty()) {
        throw config_error(yaml_reader::where(cfg.file, line) + "'" + key + "' " + path + ": " +
                           why);
    }
}

}  // namespace

engine_config load_config(const std::string& path) {
    const std::string why = unreadable(path);
    if (!why.empty()) {
        throw config_error(path + ": cannot read the config file: " + why);
    }
    std::ifstream f(path, std::ios::binary);
    std::stringstream text;
    text << f.rdbuf();
    if (!f && !f.eof()) {
        throw config_error(path + ": cannot read the config file: " + errno_text(errno));
    }
    return parse_config(text.str(), path);
}

void check_config_files(const engine_config& cfg) {
    if (!cfg.ntp.keys_path.empty()) {
        check_named_file(cfg, cfg.ntp.keys_line, "keys", cfg.ntp.keys_path);
    }
    if (cfg.ntp.nts.enabled) {
        check_named_file(cfg, cfg.ntp.nts.certificate_line, "certificate", cfg.ntp.nts.certificate);
        check_named_file(cfg, cfg.ntp.nts.key_line, "key", cfg.ntp.nts.key);
    }
    if (!cfg.rules_path.empty()) {
        check_named_file(cfg, cfg.rules_line, "rules", cfg.rules_path);
        // Read and parsed now, so that a bad rule is found before the ports are set up; the
        // Hyperscan compile comes at start, on a control thread.
        try {
            rules::load_rule_file(cfg.rules_path);
        } catch (const std::exception& e) {
            throw config_error(yaml_reader::where(cfg.file, cfg.rules_line) + "rules: " + e.what());
        }
    }
}

bool is_pci_address(const std::string& device) {
    static const std::regex pci(R"(^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$)");
    return std::regex_match(device, pci);
}

}  // namespace ports::engine
