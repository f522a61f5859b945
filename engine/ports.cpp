#include "ports.hpp"

#include <pcap/pcap.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <string_view>

namespace ports::engine {

namespace {

constexpr std::uint32_t pool_cache = 256;

// DPDK returns negative errnos and sets rte_errno; rte_strerror knows its own codes too.
std::string dpdk_error_text(int err) { return rte_strerror(err < 0 ? -err : err); }

// The name DPDK gives the device: the devargs up to the first comma.
std::string device_name(const std::string& device) {
    return device.substr(0, device.find(','));
}

std::uint16_t find_or_probe(const port_config& p) {
    const std::string name = device_name(p.device);
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) {
        return id;
    }
    // Not probed at EAL init (vdev given only in the config, or a PCI device not allowed with
    // -a): hot-plug it now. For PCI the device must be bound to a DPDK-capable driver.
    const int rc = rte_dev_probe(p.device.c_str());
    if (rc != 0) {
        throw init_error(fmt::format("port '{}': cannot probe device '{}': {}{}", p.name,
                                     p.device, dpdk_error_text(rc),
                                     is_pci_address(p.device)
                                         ? " (is it bound to vfio-pci? see README)"
                                         : " (check the vdev devargs)"));
    }
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
        throw init_error(fmt::format("port '{}': device '{}' was probed but gave no ethdev port",
                                     p.name, p.device));
    }
    return id;
}

int socket_of(std::uint16_t port) {
    const int s = rte_eth_dev_socket_id(port);
    return s < 0 ? 0 : s;
}

// The key=value arguments the device was probed with (EAL's --vdev or the config's device).
std::vector<std::pair<std::string, std::string>> devargs_of(std::uint16_t port) {
    std::vector<std::pair<std::string, std::string>> out;
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(port, &info) != 0 || info.device == nullptr) {
        return out;
    }
    const rte_devargs* da = rte_dev_devargs(info.device);
    if (da == nullptr || da->args == nullptr) {
        return out;
    }
    std::string_view rest = da->args;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view kv = rest.substr(0, comma);
        const auto eq = kv.find('=');
        out.emplace_back(std::string(kv.substr(0, eq)),
                         eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1)));
        rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
    return out;
}

struct capture_size {
    std::uint64_t frames = 0;
    std::uint32_t largest = 0;
};

capture_size size_of_capture(const std::string& path) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    capture_size out;
    if (p == nullptr) {
        return out;  // net_pcap has refused it at probe already
    }
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(p, &hdr, &data) == 1) {
        ++out.frames;
        out.largest = std::max(out.largest, hdr->caplen);
    }
    pcap_close(p);
    return out;
}

// net_pcap's infinite_rx copies every frame of each rx_pcap capture into an mbuf of the
// queue's pool at queue setup and keeps them for the port's life: the pool must hold them on
// top of the descriptors, and each frame must fit one mbuf (the PMD refuses a chained one).
// Both refusals come back from the PMD as "Invalid argument" only; here they get numbers.
std::uint64_t infinite_rx_mbufs(const port_runtime& p) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(p.id, &info) != 0 || info.driver_name == nullptr ||
        std::string_view(info.driver_name) != "net_pcap") {
        return 0;
    }
    const auto args = devargs_of(p.id);
    const bool infinite = std::any_of(args.begin(), args.end(), [](const auto& kv) {
        return kv.first == "infinite_rx" && std::atoi(kv.second.c_str()) > 0;
    });
    if (!infinite) {
        return 0;
    }
    const std::uint32_t room = RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM;
    std::uint64_t frames = 0;
    for (const auto& [key, value] : args) {
        if (key != "rx_pcap") {
            continue;
        }
        const capture_size c = size_of_capture(value);
        if (c.largest > room) {
            throw init_error(fmt::format(
                "port '{}': net_pcap infinite_rx keeps every frame of {} in one mbuf of {} "
                "bytes, and its largest frame is {} bytes (net_pcap refuses chained mbufs "
                "there): replay it without infinite_rx",
                p.cfg.name, value, room, c.largest));
        }
        frames += c.frames;
    }
    return frames;
}

}  // namespace

std::vector<port_runtime> resolve_ports(const engine_config& cfg) {
    std::vector<port_runtime> out;
    if (cfg.ports.empty()) {
        std::uint16_t id = 0;
        RTE_ETH_FOREACH_DEV(id) {
            port_runtime r;
            r.id = id;
            char name[RTE_ETH_NAME_MAX_LEN] = {};
            rte_eth_dev_get_name_by_port(id, name);
            r.cfg.name = name;
            r.cfg.device = name;
            out.push_back(r);
        }
        if (out.empty()) {
            throw init_error(
                "no ports: EAL probed no device and there is no config (give --vdev or -a "
                "<PCI address> to EAL, or ports: in --config)");
        }
        return out;
    }
    for (const auto& p : cfg.ports) {
        port_runtime r;
        r.cfg = p;
        r.id = find_or_probe(p);
        for (const auto& o : out) {
            if (o.id == r.id) {
                throw init_error(fmt::format("ports '{}' and '{}' are the same device", o.cfg.name,
                                             p.name));
            }
        }
        out.push_back(r);
    }
    for (auto& r : out) {
        if (r.cfg.mode == port_mode::inline_) {
            for (const auto& o : out) {
                if (o.cfg.name == r.cfg.peer) {
                    r.peer_id = o.id;
                }
            }
        }
    }
    return out;
}

lcore_plan plan_lcores(const engine_config& cfg, const std::vector<port_runtime>& ports) {
    struct item {
        unsigned lcore;
        pipelines::rx_queue_conf rx;
    };
    std::vector<item> items;
    if (cfg.lcores.empty()) {
        std::vector<unsigned> enabled;
        unsigned l = 0;
        RTE_LCORE_FOREACH(l) { enabled.push_back(l); }
        std::size_t k = 0;
        for (const auto& p : ports) {
            for (std::uint16_t q = 0; q < p.cfg.queues; ++q) {
                items.push_back({enabled[k++ % enabled.size()], {p.id, q, p.peer_id}});
            }
        }
    } else {
        for (const auto& a : cfg.lcores) {
            if (!rte_lcore_is_enabled(a.lcore)) {
                throw init_error(fmt::format("{}:{}: lcore {} is not enabled (give it to EAL with -l)",
                                             cfg.file, a.line, a.lcore));
            }
            for (const auto& p : ports) {
                if (p.cfg.name == a.port) {
                    items.push_back({a.lcore, {p.id, a.queue, p.peer_id}});
                }
            }
        }
    }
    lcore_plan plan;
    for (const auto& it : items) {
        auto pos = std::find(plan.lcores.begin(), plan.lcores.end(), it.lcore);
        std::size_t idx = static_cast<std::size_t>(pos - plan.lcores.begin());
        if (pos == plan.lcores.end()) {
            plan.lcores.push_back(it.lcore);
            plan.rx.emplace_back();
        }
        if (plan.rx[idx].size() >= pipelines::max_rx_per_lcore) {
            throw init_error(fmt::format("lcore {} would poll more than {} queues", it.lcore,
                                         pipelines::max_rx_per_lcore));
        }
        plan.rx[idx].push_back(it.rx);
    }
    return plan;
}

std::vector<unsigned> senders_of(const port_runtime& port, const lcore_plan& plan) {
    std::vector<unsigned> out;
    for (std::size_t i = 0; i < plan.lcores.size(); ++i) {
        for (const auto& rx : plan.rx[i]) {
            const bool sends = rx.peer == port.id || (port.serves_ntp && rx.port == port.id);
            if (sends && std::find(out.begin(), out.end(), plan.lcores[i]) == out.end()) {
                out.push_back(plan.lcores[i]);
            }
        }
    }
    return out;
}

std::vector<rte_mempool*> create_pools(const engine_config& cfg,
                                       const std::vector<port_runtime>& ports,
                                       const lcore_plan& plan) {
    std::map<int, std::uint64_t> need;
    std::map<int, std::uint64_t> held;  // by net_pcap infinite_rx, for the port's life
    for (const auto& p : ports) {
        const std::uint64_t txq = std::max<std::size_t>(1, senders_of(p, plan).size());
        need[socket_of(p.id)] += std::uint64_t{p.cfg.rx_descriptors} * p.cfg.queues +
                                 std::uint64_t{p.cfg.tx_descriptors} * txq;
        held[socket_of(p.id)] += infinite_rx_mbufs(p);
    }
    std::vector<rte_mempool*> pools(RTE_MAX_NUMA_NODES, nullptr);
    for (auto& [socket, n] : need) {
        // Descriptors plus what each lcore can hold in flight and in its mempool cache.
        n += plan.lcores.size() * (pipelines::burst_size * 2 + pool_cache) + 1024;
        if (held[socket] != 0) {
            spdlog::info(
                "mempool on socket {}: {} mbufs more for the frames net_pcap "
                "infinite_rx keeps",
                socket, held[socket]);
            n += held[socket];
            if (cfg.mbufs && *cfg.mbufs < n) {
                throw init_error(fmt::format(
                    "{}:{}: mbufs: {} is too few: net_pcap infinite_rx keeps {} frames in "
                    "mbufs of this pool and the queues need {} more; give mbufs: {} or more, "
                    "or leave mbufs: out to size the pool from the ports",
                    cfg.file, cfg.mbufs_line, *cfg.mbufs, held[socket], n - held[socket], n));
            }
        }
        if (n > std::numeric_limits<std::uint32_t>::max()) {
            throw init_error(fmt::format("a pool of {} mbufs is more than DPDK can make", n));
        }
        const std::uint32_t count = cfg.mbufs ? *cfg.mbufs : static_cast<std::uint32_t>(n);
        const std::string name = fmt::format("mbufs_s{}", socket);
        rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), count, pool_cache, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
        if (mp == nullptr) {
            throw init_error(fmt::format(
                "cannot create a pool of {} mbufs on socket {}: {} (give EAL more memory: "
                "hugepages, or -m with --no-huge; or lower descriptors / mbufs:)",
                count, socket, dpdk_error_text(rte_errno)));
        }
        spdlog::info("mempool {}: {} mbufs of {} bytes", name, count, RTE_MBUF_DEFAULT_BUF_SIZE);
        pools[socket] = mp;
    }
    return pools;
}

void start_ports(std::vector<port_runtime>& ports, const lcore_plan& plan,
                 const std::vector<rte_mempool*>& pools) {
    // Keys handed to rte_eth_dev_configure, alive until it returns.
    std::vector<std::vector<std::uint8_t>> symmetric_keys;
    symmetric_keys.reserve(ports.size());
    for (auto& p : ports) {
        rte_eth_dev_info info{};
        int rc = rte_eth_dev_info_get(p.id, &info);
        if (rc != 0) {
            throw init_error(fmt::format("port '{}': cannot read device info: {}", p.cfg.name,
                                         dpdk_error_text(rc)));
        }
        p.driver = info.driver_name ? info.driver_name : "?";
        p.tx_queues = static_cast<std::uint16_t>(std::max<std::size_t>(1, senders_of(p, plan).size()));
        if (p.cfg.queues > info.max_rx_queues) {
            throw init_error(fmt::format("port '{}' ({}): {} rx queues asked, the device has {}",
                                         p.cfg.name, p.driver, p.cfg.queues, info.max_rx_queues));
        }
        if (p.tx_queues > info.max_tx_queues) {
            throw init_error(fmt::format(
                "port '{}' ({}): {} lcores send to it and need a tx queue each; the device has {}",
                p.cfg.name, p.driver, p.tx_queues, info.max_tx_queues));
        }
        rte_eth_conf conf{};
        if (p.serves_ntp && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) != 0) {
            conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
            p.rx_timestamp = true;
        }
        if (p.cfg.queues > 1) {
            // An NTP service port hashes on addresses only: a client's requests (chrony picks
            // a new source port each time) then reach one lcore and one rate-limit table.
            const std::uint64_t wanted =
                p.serves_ntp ? RTE_ETH_RSS_IP : RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP;
            const std::uint64_t hf = wanted & info.flow_type_rss_offloads;
            if (hf != 0) {
                conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
                conf.rx_adv_conf.rss_conf.rss_hf = hf;
            }
            // Symmetric RSS (the tunnel tables): Toeplitz with a key of 0x6D5A repeated hashes
            // (a, b) and (b, a) alike, addresses and ports (Woo and Park, "Scalable TCP Session
            // Monitoring with Symmetric Receive-side Scaling", 2012), so both directions of a
            // GRE tunnel, an L2TP/UDP tunnel or a PPTP control connection reach one lcore.
            // 22.11 has no hash-function setting: a PMD with a Toeplitz key of its own size
            // (ixgbe, i40e, ice, mlx5...) takes the key; one without keeps its default.
            if (hf != 0 && p.symmetric_rss && info.hash_key_size > 0) {
                symmetric_keys.emplace_back(info.hash_key_size);
                for (std::size_t i = 0; i < symmetric_keys.back().size(); ++i) {
                    symmetric_keys.back()[i] = i % 2 == 0 ? 0x6D : 0x5A;
                }
                conf.rx_adv_conf.rss_conf.rss_key = symmetric_keys.back().data();
                conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
                p.symmetric_key = true;
            } else if (p.symmetric_rss) {
                spdlog::warn(
                    "port '{}' ({}): no RSS key to set (hash key size {}): both "
                    "directions of a tunnel may reach different lcores (the tables' "
                    "merge still counts them whole)",
                    p.cfg.name, p.driver, info.hash_key_size);
            }
            if (hf != wanted) {
                spdlog::warn("port '{}' ({}): RSS hash types 0x{:x} of 0x{:x} supported{}",
                             p.cfg.name, p.driver, hf, wanted,
                             hf == 0 ? ": queues are filled as the PMD chooses" : "");
            }
        }
        rc = rte_eth_dev_configure(p.id, p.cfg.queues, p.tx_queues, &conf);
        if (rc != 0) {
            throw init_error(fmt::format("port '{}' ({}): configure with {} rx / {} tx queues: {}",
                                         p.cfg.name, p.driver, p.cfg.queues, p.tx_queues,
                                         dpdk_error_text(rc)));
        }
        std::uint16_t rxd = p.cfg.rx_descriptors;
        std::uint16_t txd = p.cfg.tx_descriptors;
        rc = rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &rxd, &txd);
        if (rc != 0) {
            throw init_error(fmt::format("port '{}': descriptor counts: {}", p.cfg.name,
                                         dpdk_error_text(rc)));
        }
        const int socket = socket_of(p.id);
        rte_mempool* pool = pools[socket];
        for (std::uint16_t q = 0; q < p.cfg.queues; ++q) {
            rc = rte_eth_rx_queue_setup(p.id, q, rxd, socket, nullptr, pool);
            if (rc != 0) {
                throw init_error(fmt::format("port '{}': rx queue {}: {}", p.cfg.name, q,
                                             dpdk_error_text(rc)));
            }
        }
        for (std::uint16_t q = 0; q < p.tx_queues; ++q) {
            rc = rte_eth_tx_queue_setup(p.id, q, txd, socket, nullptr);
            if (rc != 0) {
                throw init_error(fmt::format("port '{}': tx queue {}: {}", p.cfg.name, q,
                                             dpdk_error_text(rc)));
            }
        }
        rc = rte_eth_dev_start(p.id);
        if (rc != 0) {
            throw init_error(fmt::format("port '{}' ({}): start: {}", p.cfg.name, p.driver,
                                         dpdk_error_text(rc)));
        }
        p.started = true;
        if (p.cfg.promiscuous) {
            rc = rte_eth_promiscuous_enable(p.id);
            if (rc != 0 && rc != -ENOTSUP) {
                spdlog::warn("port '{}': promiscuous mode: {}", p.cfg.name, dpdk_error_text(rc));
            }
        }
        spdlog::info("port '{}' = {} ({}), id {}, socket {}, {} rx / {} tx queues, {} / {} "
                     "descriptors, {}{}",
                     p.cfg.name, p.cfg.device, p.driver, p.id, socket, p.cfg.queues, p.tx_queues,
                     rxd, txd, p.cfg.mode == port_mode::monitor ? "monitor" : "inline to ",
                     p.cfg.mode == port_mode::monitor ? "" : p.cfg.peer);
    }
}

void log_link_status(const std::vector<port_runtime>& ports) {
    for (const auto& p : ports) {
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(p.id, &link) != 0) {
            spdlog::info("port '{}': link status unknown", p.cfg.name);
            continue;
        }
        char text[RTE_ETH_LINK_MAX_STR_LEN] = {};
        rte_eth_link_to_str(text, sizeof(text), &link);
        spdlog::info("port '{}': {}", p.cfg.name, text);
    }
}

void stop_ports(std::vector<port_runtime>& ports) {
    for (auto& p : ports) {
        if (p.started) {
            const int rc = rte_eth_dev_stop(p.id);
            if (rc != 0) {
                spdlog::warn("port '{}': stop: {}", p.cfg.name, dpdk_error_text(rc));
            }
            p.started = false;
        }
        rte_eth_dev_close(p.id);
    }
}

}  // namespace ports::engine
