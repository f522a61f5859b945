#include "capture.hpp"

#include <dlfcn.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_pdump.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <mutex>
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

namespace {

using loop_counters = std::vector<const std::uint64_t*>;
// Read by EAL's multi-process thread (rte_pdump's handler), published by the main thread. A
// list once published is never freed (one per engine run): the handler may still hold it.
std::atomic<const loop_counters*> watched{nullptr};
std::mutex kept_mutex;
std::vector<std::unique_ptr<const loop_counters>> kept;

void wait_for_workers() {
    const loop_counters* loops = watched.load(std::memory_order_acquire);
    if (loops == nullptr) {
        return;
    }
    std::vector<std::uint64_t> before;
    before.reserve(loops->size());
    for (const std::uint64_t* l : *loops) {
        before.push_back(__atomic_load_n(l, __ATOMIC_ACQUIRE));
    }
    const std::uint64_t deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() / 5;  // 200 ms
    for (std::size_t i = 0; i < loops->size(); ++i) {
        while (__atomic_load_n((*loops)[i], __ATOMIC_ACQUIRE) == before[i] &&
               rte_get_tsc_cycles() < deadline) {
            rte_delay_us_sleep(10);  // a worker's loop is microseconds; a stopped one never moves
        }
    }
}

template <typename Fn>
Fn next_definition(const char* name) {
    // The ethdev library's own, behind this executable's (see extern "C" below).
    return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

capture_watch::capture_watch(std::vector<const std::uint64_t*> loops) {
    auto held = std::make_unique<const loop_counters>(std::move(loops));
    watched.store(held.get(), std::memory_order_release);
    const std::lock_guard lock(kept_mutex);
    kept.push_back(std::move(held));
}

capture_watch::~capture_watch() {
    watched.store(nullptr, std::memory_order_release);
}

}  // namespace ports::engine

// These definitions in the executable come before librte_ethdev's in the dynamic linker's
// lookup, for librte_pdump's calls too: the removal, then the wait above.
extern "C" int rte_eth_remove_rx_callback(uint16_t port_id, uint16_t queue_id,
                                          const struct rte_eth_rxtx_callback* user_cb) {
    using fn = int (*)(uint16_t, uint16_t, const rte_eth_rxtx_callback*);
    static const fn real = ports::engine::next_definition<fn>("rte_eth_remove_rx_callback");
    const int rc = real != nullptr ? real(port_id, queue_id, user_cb) : -ENOTSUP;
    if (rc == 0) {
        ports::engine::wait_for_workers();
    }
    return rc;
}

extern "C" int rte_eth_remove_tx_callback(uint16_t port_id, uint16_t queue_id,
                                          const struct rte_eth_rxtx_callback* user_cb) {
    using fn = int (*)(uint16_t, uint16_t, const rte_eth_rxtx_callback*);
    static const fn real = ports::engine::next_definition<fn>("rte_eth_remove_tx_callback");
    const int rc = real != nullptr ? real(port_id, queue_id, user_cb) : -ENOTSUP;
    if (rc == 0) {
        ports::engine::wait_for_workers();
    }
    return rc;
}
