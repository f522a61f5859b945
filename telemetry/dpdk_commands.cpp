#include "ports/telemetry/dpdk_commands.hpp"

#include <rte_telemetry.h>

#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ports::telemetry {

namespace {

constexpr std::string_view prefix = "/ports_engine/";

struct command {
    std::string help;
    command_source source;
};

// Control plane only: the telemetry thread and the engine's main thread meet here.
std::mutex registry_mutex;
std::map<std::string, command, std::less<>> registry;

// DPDK accepts only [A-Za-z0-9_/] in names and no longer than its string limit.
std::string key_of(std::string_view raw) {
    std::string key;
    for (char c : raw.substr(0, RTE_TEL_MAX_STRING_LEN - 1)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '/';
        key.push_back(ok ? c : '_');
    }
    return key;
}

// 22.11 writes string values into its JSON as they are: keep them printable and quote-free.
std::string printable(std::string_view raw) {
    std::string out;
    for (char c : raw.substr(0, RTE_TEL_MAX_STRING_LEN - 1)) {
        out.push_back(c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ? '_' : c);
    }
    return out;
}

// 22.11 has no floating-point value: fractions go as text, exact enough for a ratio.
std::string text_of(const nlohmann::ordered_json& v) {
    return printable(v.is_string() ? v.get<std::string>() : v.dump());
}

void add_scalar(rte_tel_data* d, const std::string& key, const nlohmann::ordered_json& v) {
    if (v.is_number_unsigned()) {
        rte_tel_data_add_dict_u64(d, key.c_str(), v.get<std::uint64_t>());
    } else if (v.is_number_integer()) {
        rte_tel_data_add_dict_int(d, key.c_str(), static_cast<int>(v.get<std::int64_t>()));
    } else if (v.is_boolean()) {
        rte_tel_data_add_dict_u64(d, key.c_str(), v.get<bool>() ? 1 : 0);
    } else {
        rte_tel_data_add_dict_string(d, key.c_str(), text_of(v).c_str());
    }
}

// The telemetry library serialises one level of nested dicts: deeper levels are flattened into
// their parent with '/'-joined names, arrays become dicts keyed by position.
void fill(rte_tel_data* d, const nlohmann::ordered_json& node, const std::string& path, int depth) {
    auto visit = [&](const std::string& raw_key, const nlohmann::ordered_json& v) {
        const std::string key = key_of(path + raw_key);
        if (!v.is_structured()) {
            add_scalar(d, key, v);
        } else if (depth == 0) {
            rte_tel_data* child = rte_tel_data_alloc();
            if (child == nullptr) {
                return;
            }
            rte_tel_data_start_dict(child);
            fill(child, v, "", depth + 1);
            if (rte_tel_data_add_dict_container(d, key.c_str(), child, 0) != 0) {
                rte_tel_data_free(child);
            }
        } else {
            fill(d, v, key + "/", depth + 1);
        }
    };
    if (node.is_array()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            visit(std::to_string(i), node[i]);
        }
    } else {
        for (const auto& [k, v] : node.items()) {
            visit(k, v);
        }
    }
}

int on_command(const char* cmd, const char* params, rte_tel_data* info) {
    const std::string_view name = std::string_view(cmd).substr(prefix.size());
    std::lock_guard lock(registry_mutex);
    const auto it = registry.find(name);
    rte_tel_data_start_dict(info);
    if (it == registry.end() || !it->second.source) {
        rte_tel_data_add_dict_string(info, "error", "engine not running");
        return 0;
    }
    try {
        const auto doc = it->second.source(params == nullptr ? std::string() : std::string(params));
        if (doc.is_structured()) {
            fill(info, doc, "", 0);
        } else {
            rte_tel_data_string(info, text_of(doc).c_str());
        }
    } catch (const std::exception& e) {
        rte_tel_data_start_dict(info);
        rte_tel_data_add_dict_string(info, "error", printable(e.what()).c_str());
    }
    return 0;
}

}  // namespace

void publish_command(const std::string& name, const std::string& help, command_source source) {
    std::lock_guard lock(registry_mutex);
    auto [it, inserted] = registry.try_emplace(name);
    if (inserted) {
        const std::string full = std::string(prefix) + name;
        if (rte_telemetry_register_cmd(full.c_str(), on_command, help.c_str()) != 0) {
            registry.erase(it);
            throw std::runtime_error("cannot register telemetry command " + full);
        }
    }
    it->second.help = help;
    it->second.source = std::move(source);
}

void withdraw_commands() {
    std::lock_guard lock(registry_mutex);
    for (auto& [name, c] : registry) {
        c.source = nullptr;
    }
}

}  // namespace ports::telemetry
