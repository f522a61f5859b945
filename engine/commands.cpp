#include "commands.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "ports/telemetry/dpdk_commands.hpp"
#include "ports/telemetry/stats_json.hpp"
#include "stats.hpp"
#include "threads.hpp"

namespace ports::engine {

using nlohmann::ordered_json;

published_commands::published_commands(runtime& rt) {
    telemetry::publish_command(
        "classes", "Per-class counters (all classes; or one: /ports_engine/classes,<class>)",
        [&rt](const std::string& params) {
            const auto doc = telemetry::classes_json(snapshot_of(rt.read_coherent().counter_ptrs()));
            if (params.empty()) {
                // One dict per class (the telemetry library nests one level), then the total.
                ordered_json out = doc["classes"];
                out["total"] = doc["total"];
                return out;
            }
            if (!doc["classes"].contains(params)) {
                throw std::invalid_argument("unknown class " + params);
            }
            return ordered_json(doc["classes"][params]);
        });
    telemetry::publish_command("ntp", "NTP service counters", [&rt](const std::string&) {
        if (rt.service() == nullptr) {
            return ordered_json::object({{"enabled", false}});
        }
        auto doc = server_json(rt.service()->counters());
        doc["enabled"] = true;
        return doc;
    });
    telemetry::publish_command(
        "ntp_reload",
        // DPDK refuses a help text of 128 characters or more.
        "Reloads the NTP keys and access list from the config file as SIGHUP does; "
        "ntp_reload,status only reports",
        [&rt](const std::string& params) {
            if (rt.service() == nullptr) {
                throw std::invalid_argument("no ntp: section");
            }
            if (params == "status") {
                return rt.service()->reload_json();
            }
            if (!params.empty()) {
                throw std::invalid_argument("unknown parameter " + params + " (none, or status)");
            }
            const auto r = rt.reload_ntp();
            ordered_json out = rt.service()->reload_json();
            out["ok"] = r.ok;
            out["message"] = r.message;
            return out;
        });
    telemetry::publish_command("nts", "NTS: NTS-KE sessions by outcome, master keys",
                               [&rt](const std::string&) {
        if (rt.nts() == nullptr) {
            return ordered_json::object({{"enabled", false}});
        }
        ordered_json out = rt.nts()->json();
        out["enabled"] = true;
        return out;
    });
    telemetry::publish_command("lcores", "Per-lcore loop figures",
                               [&rt](const std::string&) { return lcores_json(rt.read_coherent().lcores()); });
    telemetry::publish_command(
        "threads",
        "Every thread of the engine: role (worker lcore or other), allowed CPUs, last CPU; the "
        "worker and control CPU sets",
        [](const std::string&) { return threads::json(); });
    telemetry::publish_command("ports", "Per-port ethdev figures and link",
                               [&rt](const std::string&) {
                                   const auto reading = rt.read_coherent();
                                   return ports_json(rt.ports(), reading.lcores(), rt.service());
                               });
    telemetry::publish_command(
        "tunnels",
        "Tunnel tables: figures, then the largest objects by bytes, one line each (tunnels.top)",
        [&rt](const std::string&) {
            const tunnel_reading t = rt.read_tunnels();
            if (!t.enabled) {
                return ordered_json::object({{"enabled", false}});
            }
            const auto doc = telemetry::tunnels_json(t.rows, t.stats, t.capacity, rt.tunnels().top);
            // DPDK's telemetry nests one level: the figures flat, each object one line of
            // text "kind client server client_id server_id packets bytes state".
            ordered_json out = ordered_json::object({{"enabled", true}});
            for (const auto& [k, v] : doc.items()) {
                if (k != "objects") {
                    out[k] = v;
                }
            }
            out["lcores_missing"] = t.lcores_missing;
            std::size_t i = 0;
            for (const auto& o : doc["objects"]) {
                const auto id = [&](const char* key) {
                    return o.contains(key) ? std::to_string(o[key].get<std::uint64_t>())
                                           : std::string("-");
                };
                out[std::to_string(i++)] = fmt::format(
                    "{} {} {} {} {} {} {} {}", o["kind"].get<std::string>(),
                    o["client"].get<std::string>(), o["server"].get<std::string>(),
                    id("client_id"), id("server_id"),
                    o["packets"][0].get<std::uint64_t>() + o["packets"][1].get<std::uint64_t>(),
                    o["bytes"][0].get<std::uint64_t>() + o["bytes"][1].get<std::uint64_t>(),
                    o["state"].get<std::string>());
            }
            return out;
        });
    telemetry::publish_command(
        "rules", "Per-rule matches of the running rule set, and the rule stage's figures",
        [&rt](const std::string&) {
            if (rt.rules() == nullptr) {
                return ordered_json::object({{"enabled", false}});
            }
            // Rules by id (one dict each), then the stage's own figures flattened beside them.
            ordered_json out = rt.rules()->rules_json();
            out["stage"] = rt.rules()->engine_json();
            return out;
        });
    telemetry::publish_command(
        "rules_reload",
        "Reloads the rules file as SIGHUP does (off the data path); the result shows in "
        "/ports_engine/rules stage/last_reload",
        [&rt](const std::string&) {
            if (!rt.request_rules_reload()) {
                throw std::invalid_argument("no rules file configured");
            }
            const auto done = rt.rules()->engine_json();
            return ordered_json::object({{"requested", true},
                                         {"generation", done["generation"]},
                                         {"reloads_ok", done["reloads_ok"]},
                                         {"reloads_failed", done["reloads_failed"]}});
        });
}

published_commands::~published_commands() {
    telemetry::withdraw_commands();
}

}  // namespace ports::engine
