#include "ports/telemetry/stats_json.hpp"

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

}  // namespace ports::telemetry
