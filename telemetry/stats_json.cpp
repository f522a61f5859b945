#include "ports/telemetry/stats_json.hpp"

#include <algorithm>

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ports::telemetry {

using pipelines::class_base;
using pipelines::class_count;
using pipelines::class_names;
using pipelines::counter_count;
using pipelines::counter_defs;

nlohmann::ordered_json classes_json(const pipelines::counter_snapshot& s) {
    nlohmann::ordered_json doc;
    doc["total"] = {{"packets", s.total_packets()}, {"bytes", s.total_bytes()}};
    nlohmann::ordered_json classes = nlohmann::ordered_json::object();
    for (std::size_t c = 0; c < class_count; ++c) {
        nlohmann::ordered_json entry = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < counter_count; ++i) {
            if (static_cast<std::size_t>(counter_defs[i].cls) == c) {
                entry[std::string(counter_defs[i].key)] = s.values[i];
            }
        }
        classes[std::string(class_names[c])] = std::move(entry);
    }
    doc["classes"] = std::move(classes);
    return doc;
}

std::string class_table(const pipelines::counter_snapshot& s) {
    std::string out = fmt::format("{:<10} {:>12} {:>14} {:>10} {:>10}\n", "class", "packets",
                                  "bytes", "malformed", "fragments");
    for (std::size_t c = 0; c < class_count; ++c) {
        const auto b = class_base[c];
        out += fmt::format("{:<10} {:>12} {:>14} {:>10} {:>10}\n", class_names[c], s.values[b],
                           s.values[b + pipelines::offset_bytes],
                           s.values[b + pipelines::offset_malformed],
                           s.values[b + pipelines::offset_fragments]);
    }
    out += fmt::format("{:<10} {:>12} {:>14}\n", "total", s.total_packets(), s.total_bytes());
    return out;
}

void write_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) {
            throw std::runtime_error("cannot open " + tmp + " for writing");
        }
        f << text;
        if (!f.flush()) {
            throw std::runtime_error("cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw std::runtime_error("cannot rename " + tmp + " to " + path);
    }
}

nlohmann::ordered_json tunnels_json(const std::vector<tunnels::row>& all,
                                    const tunnels::table_stats& st, std::uint64_t capacity,
                                    std::size_t limit) {
    std::vector<const tunnels::row*> rows;
    for (const auto& r : all) {
        rows.push_back(&r);
    }
    if (rows.size() > limit) {
        // The largest by bytes, then back in merge's order (kind, then bytes).
        std::vector<const tunnels::row*> largest = rows;
        std::stable_sort(largest.begin(), largest.end(), [](const auto* a, const auto* b) {
            return a->e.total_bytes() > b->e.total_bytes();
        });
        largest.resize(limit);
        std::sort(largest.begin(), largest.end());  // pointers into rows: rows' order
        rows = std::move(largest);
    }
    nlohmann::ordered_json objects = nlohmann::ordered_json::array();
    for (const auto* r : rows) {
        const auto& e = r->e;
        nlohmann::ordered_json o = {
            {"kind", r->kind_name()},
            {"client", e.client.text()},
            {"server", e.server.text()},
            {"state", tunnels::state_names[static_cast<std::size_t>(e.st)]}};
        if (e.has_client_id) {
            o["client_id"] = e.client_id;
        }
        if (e.has_server_id) {
            o["server_id"] = e.server_id;
        }
        o["packets"] = {e.packets[0], e.packets[1]};  // client -> server, server -> client
        o["bytes"] = {e.bytes[0], e.bytes[1]};
        if (e.client_name_length != 0) {
            o["client_host"] = std::string(e.client_host());
        }
        if (e.server_name_length != 0) {
            o["server_host"] = std::string(e.server_host());
        }
        if (e.vendor_length != 0) {
            o["vendor"] = std::string(e.vendor_name());
        }
        // What its data frames carried, by class (only the classes seen).
        nlohmann::ordered_json inner = nlohmann::ordered_json::object();
        for (std::size_t c = 0; c < class_count; ++c) {
            if (e.inner_packets[c] != 0) {
                inner[std::string(class_names[c])] = {{"packets", e.inner_packets[c]},
                                                      {"bytes", e.inner_bytes[c]}};
            }
        }
        if (!inner.empty()) {
            o["inner"] = std::move(inner);
        }
        objects.push_back(std::move(o));
    }
    return {{"capacity", capacity},        {"frames", st.frames},   {"created", st.created},
            {"table_full", st.table_full}, {"expired", st.expired}, {"reused", st.reused},
            {"unknown", st.unknown},       {"objects_total", all.size()},
            {"objects", objects}};
}

}  // namespace ports::telemetry
