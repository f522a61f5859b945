// Application arguments (after EAL's, behind "--").
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ports::engine {

class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct app_options {
    std::string config_path;
    std::string stats_json_path;
    std::optional<double> duration_s;
    double stats_interval_s = 0;  // 0: no periodic line
    bool help = false;
};

// Throws usage_error with a message naming the argument.
app_options parse_app_options(const std::vector<std::string>& args);

const char* usage_text();

}  // namespace ports::engine
