#include "options.hpp"

#include <cmath>

namespace ports::engine {

namespace {

double seconds_of(const std::string& flag, const std::string& value) {
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != value.size() || used == 0 || !std::isfinite(v) || v <= 0) {
        throw usage_error(flag + " needs a positive number of seconds, not '" + value + "'");
    }
    return v;
}

}  // namespace

app_options parse_app_options(const std::vector<std::string>& args) {
    app_options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) {
                throw usage_error(a + " needs a value");
            }
            return args[++i];
        };
        if (a == "--config") {
            o.config_path = value();
        } else if (a == "--stats-json") {
            o.stats_json_path = value();
        } else if (a == "--alerts") {
            o.alerts_path = value();
        } else if (a == "--duration") {
            o.duration_s = seconds_of(a, value());
        } else if (a == "--stats-interval") {
            o.stats_interval_s = seconds_of(a, value());
        } else if (a == "--check-config") {
            o.check_config_path = value();
        } else if (a == "--pci-devices") {
            o.check_config_path = value();
            o.list_pci = true;
        } else if (a == "--version") {
            o.version = true;
        } else if (a == "-h" || a == "--help") {
            o.help = true;
        } else {
            throw usage_error("unknown argument '" + a + "'");
        }
    }
    return o;
}

const char* usage_text() {
    return "usage: ports-engine [EAL args] -- [--config FILE] [--stats-json FILE]\n"
           "                    [--alerts FILE] [--duration SECONDS] [--stats-interval SECONDS]\n"
           "  --config FILE          YAML config (configs/README.md); without it every port\n"
           "                         EAL probed is used, one queue, monitor mode\n"
           "  --stats-json FILE      write the final counters as JSON at exit\n"
           "  --alerts FILE          append rule alert lines to FILE instead of the log\n"
           "                         (the config's 'alerts' key; this one wins)\n"
           "  --duration SECONDS     stop cleanly after this long (else on SIGINT/SIGTERM)\n"
           "  --stats-interval SECS  log one line of rates every SECS\n"
           "       ports-engine --check-config FILE | --pci-devices FILE | --version\n"
           "  --check-config FILE    check FILE and the files it names as a start would,\n"
           "                         without EAL or devices; exit 0 (ok) or 1 (FILE:LINE: why)\n"
           "  --pci-devices FILE     the same check, then the PCI addresses of its ports, one\n"
           "                         a line (what ports-engine-prepare binds)\n"
           "  --version              print the version\n";
}

bool standalone_only(const std::vector<std::string>& args) {
    if (args.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--check-config" || a == "--pci-devices") {
            ++i;  // its FILE
        } else if (a != "--version") {
            return false;
        }
    }
    return true;
}

}  // namespace ports::engine
