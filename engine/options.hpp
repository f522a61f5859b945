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
    std::string alerts_path;  // --alerts FILE: rule alert lines there, not on the log
    std::optional<double> duration_s;
    double stats_interval_s = 0;  // 0: no periodic line
    bool help = false;
    bool version = false;
    // --check-config FILE / --pci-devices FILE: check (and list) and exit, no EAL.
    std::string check_config_path;
    bool list_pci = false;
};

// Throws usage_error with a message naming the argument.
app_options parse_app_options(const std::vector<std::string>& args);

const char* usage_text();

// True when argv (no "--" in it) holds only options that run without EAL (--version,
// --check-config, --pci-devices): `ports-engine --check-config FILE` needs no "--" before it.
// (--help alone stays EAL's: it lists the EAL options.)
bool standalone_only(const std::vector<std::string>& args);

}  // namespace ports::engine
