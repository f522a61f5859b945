#include "exception_path.hpp"

#include <arpa/inet.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "netlink.hpp"

namespace ports::engine {

namespace {

constexpr std::uint16_t tap_descriptors = 512;

std::string text_of(const ip_address& a) {
    char buf[64] = {};
    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof(buf));
    return buf;
}

}  // namespace

exception_path::exception_path(const ntp_config& cfg, const std::vector<port_runtime>& ports)
    : cfg_(cfg.exception_path) {
    for (const auto& p : ports) {
        if (!p.serves_ntp) {
            continue;
        }
        exception_port e;
        e.port = p.id;
        e.ifname = p.cfg.exception_interface.empty() ? ("pe-" + p.cfg.name).substr(0, 15)
                                                     : p.cfg.exception_interface;
        e.addresses = p.cfg.ntp_addresses ? *p.cfg.ntp_addresses : cfg.addresses;
        rte_ether_addr mac{};
        if (rte_eth_macaddr_get(p.id, &mac) != 0) {
            throw init_error(fmt::format("port '{}': no MAC address for its exception path", p.cfg.name));
        }
        char mac_text[RTE_ETHER_ADDR_FMT_SIZE] = {};
        rte_ether_format_addr(mac_text, sizeof(mac_text), &mac);
        e.vdev = fmt::format("net_tap_pe{}", p.id);
        const std::string args = fmt::format("iface={},mac={}", e.ifname, mac_text);
        if (rte_vdev_init(e.vdev.c_str(), args.c_str()) != 0 ||
            rte_eth_dev_get_port_by_name(e.vdev.c_str(), &e.tap) != 0) {
            throw init_error(fmt::format(
                "port '{}': cannot create the exception path's TAP '{}' ({} {}): needs root, "
                "/dev/net/tun and a free interface name (ntp.exception_path.enabled: false "
                "turns it off)",
                p.cfg.name, e.ifname, e.vdev, args));
        }
        spdlog::info("port '{}': exception path to the kernel through TAP {} (MAC {})", p.cfg.name,
                     e.ifname, mac_text);
        ports_.push_back(std::move(e));
    }
}

exception_path::~exception_path() {
    for (auto& e : ports_) {
        if (e.started) {
            rte_eth_dev_stop(e.tap);
        }
        rte_eth_dev_close(e.tap);
        rte_vdev_uninit(e.vdev.c_str());
        if (e.pool != nullptr) {
            rte_mempool_free(e.pool);
        }
    }
}

std::uint16_t exception_path::tap_of(std::uint16_t port) const {
    for (const auto& e : ports_) {
        if (e.port == port) {
            return e.tap;
        }
    }
    return pipelines::no_peer;
}

void exception_path::start(lcore_plan& plan) {
    for (auto& e : ports_) {
        // The k-th lcore polling the port owns TAP queue pair k.
        std::uint16_t k = 0;
        for (auto& rx : plan.rx) {
            const bool polls = std::any_of(rx.begin(), rx.end(), [&](const pipelines::rx_queue_conf& q) {
                return q.port == e.port && !q.from_kernel;
            });
            if (!polls) {
                continue;
            }
            if (rx.size() >= pipelines::max_rx_per_lcore) {
                throw init_error(fmt::format("an lcore would poll more than {} queues with the "
                                             "exception path's TAP",
                                             pipelines::max_rx_per_lcore));
            }
            pipelines::rx_queue_conf q;
            q.port = e.tap;
            q.queue = k++;
            q.peer = e.port;
            q.from_kernel = true;
            rx.push_back(q);
        }
        e.queues = k;
        const int socket = std::max(0, rte_eth_dev_socket_id(e.port));
        const std::string pool_name = fmt::format("exc_pool{}", e.tap);
        // The TAP's RX rings and what lcores hold in flight; frames into the TAP are the
        // port's mbufs, copied by the PMD and freed at once.
        const unsigned mbufs = static_cast<unsigned>(k) * (tap_descriptors + 2 * pipelines::burst_size) + 512;
        e.pool = rte_pktmbuf_pool_create(pool_name.c_str(), mbufs, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                         socket);
        if (e.pool == nullptr) {
            throw init_error(fmt::format("TAP {}: cannot create a pool of {} mbufs", e.ifname, mbufs));
        }
        rte_eth_conf conf{};
        if (rte_eth_dev_configure(e.tap, k, k, &conf) != 0) {
            throw init_error(fmt::format("TAP {}: configure with {} queue pair(s) failed", e.ifname, k));
        }
        for (std::uint16_t q = 0; q < k; ++q) {
            if (rte_eth_rx_queue_setup(e.tap, q, tap_descriptors, socket, nullptr, e.pool) != 0 ||
                rte_eth_tx_queue_setup(e.tap, q, tap_descriptors, socket, nullptr) != 0) {
                throw init_error(fmt::format("TAP {}: queue {} setup failed", e.ifname, q));
            }
        }
        if (rte_eth_dev_start(e.tap) != 0) {
            throw init_error(fmt::format("TAP {}: start failed", e.ifname));
        }
        e.started = true;
        try {
            netlink::set_link_up(e.ifname);
            for (const auto& a : e.addresses) {
                netlink::add_address(e.ifname, a, a.v6 ? cfg_.prefix_v6 : cfg_.prefix_v4);
                spdlog::info("TAP {}: {}/{} for the kernel's side of the service address", e.ifname,
                             text_of(a), a.v6 ? cfg_.prefix_v6 : cfg_.prefix_v4);
            }
        } catch (const netlink::error& err) {
            throw init_error(err.what());
        }
    }
}

}  // namespace ports::engine
