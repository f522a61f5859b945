#include "capture.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <string_view>

#include "ports.hpp"
#include "ports/common/yaml_reader.hpp"

namespace ports::engine {

eal_sharing eal_sharing_of(const std::vector<std::string>& eal_args) {
    eal_sharing s;
    for (std::size_t i = 0; i < eal_args.size(); ++i) {
        const std::string_view a = eal_args[i];
        if (a == "--no-shconf" || a == "--in-memory") {
            s.shared_config = false;  // --in-memory implies --no-shconf
        }
        if (a == "--no-huge") {
            s.hugepages = false;
        }
        if (a == "--file-prefix" && i + 1 < eal_args.size()) {
            s.file_prefix = eal_args[++i];
        } else if (a.starts_with("--file-prefix=")) {
            s.file_prefix = std::string(a.substr(a.find('=') + 1));
        }
    }
    return s;
}

capture_plan plan_capture(const engine_config& cfg, const eal_sharing& eal) {
    if (cfg.capture == capture_mode::off) {
        return {false, "capture: false in the config"};
    }
    std::string why;
    if (!eal.shared_config) {
        why = "EAL runs without a shared config (--no-shconf or --in-memory)";
    } else if (!eal.hugepages) {
        why = "EAL runs without hugepages (--no-huge: its memory is private to the process)";
    }
    if (why.empty()) {
        return {true, ""};
    }
    if (cfg.capture == capture_mode::on) {
        throw config_error(yaml_reader::where(cfg.file, cfg.capture_line) + "capture: true, but " +
                           why +
                           "; dpdk-dumpcap attaches as a secondary process and needs the "
                           "engine's shared config and hugepages");
    }
    return {false, why};
}

std::vector<std::string> capture_warnings(const engine_config& cfg) {
    std::vector<std::string> out;
    constexpr std::size_t kept = 63;
    for (const auto& p : cfg.ports) {
        const auto comma = p.device.find(',');
        if (is_pci_address(p.device) || comma == std::string::npos) {
            continue;
        }
        const std::size_t args = p.device.size() - comma - 1;
        if (args > kept) {
            out.push_back(fmt::format(
                "capture: port '{}': its device arguments are {} characters; dpdk-dumpcap gets "
                "the first {} only and probes the device with them, so it may not attach to "
                "this port (shorten them, e.g. relative paths)",
                p.name, args, kept));
        }
    }
    return out;
}

capture_server::capture_server() {
    // rte_pdump_init reserves its statistics memzone and registers the "mp_pdump" request
    // handler on EAL's multi-process thread; no callback is on any queue until a dumpcap asks.
    if (rte_pdump_init() != 0) {
        throw init_error(
            fmt::format("capture: rte_pdump_init failed: {}", rte_strerror(rte_errno)));
    }
    spdlog::info(
        "capture: dpdk-dumpcap --file-prefix {} -i PORT [-f 'BPF filter'] -w FILE.pcapng "
        "attaches to this engine (PORT: the port id or device name; every queue, RX and TX)",
        // The runtime directory's name is the prefix EAL took, whatever the spelling of its
        // arguments.
        std::filesystem::path(rte_eal_get_runtime_dir()).filename().string());
}

capture_server::~capture_server() {
    rte_pdump_uninit();
}

}  // namespace ports::engine
