#include "config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

namespace ports::engine {

namespace {

struct context {
    std::string file;

    [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
        const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
        throw config_error(file + ":" + std::to_string(line) + ": " + message);
    }

    void only_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                   const std::string& where) const {
        if (!map.IsMap()) {
            fail(map, where + " must be a mapping");
        }
        for (const auto& kv : map) {
            const std::string key = kv.first.as<std::string>();
            bool known = false;
            for (auto a : allowed) {
                known = known || key == a;
            }
            if (!known) {
                std::string list;
                for (auto a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                fail(kv.first, "unknown key '" + key + "' in " + where + " (known: " + list + ")");
            }
        }
    }

    std::string string_of(const YAML::Node& n, const std::string& key) const {
        if (!n.IsScalar()) {
            fail(n, "'" + key + "' must be a string");
        }
        return n.Scalar();
    }

    long long integer_of(const YAML::Node& n, const std::string& key, long long lo,
                         long long hi) const {
        if (!n.IsScalar()) {
            fail(n, "'" + key + "' must be an integer");
        }
        const std::string& s = n.Scalar();
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(s, &used, 0);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != s.size()) {
            fail(n, "'" + key + "' must be an integer, not '" + s + "'");
        }
        if (v < lo || v > hi) {
            fail(n, "'" + key + "' = " + s + " is out of range [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]");
        }
        return v;
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

port_config parse_port(const context& ctx, const YAML::Node& n) {
    ctx.only_keys(n,
                  {"name", "device", "queues", "rx_descriptors", "tx_descriptors", "mode", "peer",
                   "promiscuous"},
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
    context ctx{file_name};
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        throw config_error(file_name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    engine_config cfg;
    cfg.file = file_name;
    if (root.IsNull()) {
        return cfg;
    }
    ctx.only_keys(root, {"ports", "lcores", "mbufs"}, "the top level");
    if (root["ports"]) {
        const YAML::Node ports_node = root["ports"];
        if (!ports_node.IsSequence()) {
            ctx.fail(ports_node, "'ports' must be a list");
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
    if (root["mbufs"]) {
        cfg.mbufs = static_cast<std::uint32_t>(
            ctx.integer_of(root["mbufs"], "mbufs", 1024, 16 * 1024 * 1024));
    }
    return cfg;
}

engine_config load_config(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        throw config_error(path + ": cannot open the config file");
    }
    std::stringstream text;
    text << f.rdbuf();
    return parse_config(text.str(), path);
}

bool is_pci_address(const std::string& device) {
    static const std::regex pci(R"(^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$)");
    return std::regex_match(device, pci);
}

}  // namespace ports::engine
