// The statistics document shared by ports-engine --stats-json and ports-analyze --json:
//   {"total": {"packets", "bytes"}, "classes": {"<class>": {"packets", "bytes", "malformed",
//    "fragments", <detail counters>...}, ...}}   (every class present, even at zero)
// The engine adds "ports" and "lcores" beside these.
#pragma once

#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ports/pipelines/counters.hpp"
#include "ports/tunnels/table.hpp"

namespace ports::telemetry {

nlohmann::ordered_json classes_json(const pipelines::counter_snapshot& s);

// The tunnel table ("tunnels" of both documents): the table's figures and one object per
// tracked tunnel (rows as tunnels::merge sorts them). limit: at most that many objects, the
// largest by bytes (still in merge's order); "objects_total" says how many there were.
nlohmann::ordered_json tunnels_json(const std::vector<tunnels::row>& rows,
                                    const tunnels::table_stats& st, std::uint64_t capacity,
                                    std::size_t limit = std::numeric_limits<std::size_t>::max());

// One line for logs: "ntp 12 snmp 3 ... other 100" as a table with rates when interval > 0.
std::string class_table(const pipelines::counter_snapshot& s);

// Writes text to path atomically enough for tests: write then rename. Throws on failure.
void write_file(const std::string& path, const std::string& text);

}  // namespace ports::telemetry
