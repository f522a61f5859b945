// A ring-backed ethdev (rte_eth_from_rings) for in-process tests: the test enqueues frames into
// rx, the engine's TX lands in tx; whatever is left in either ring is freed with the port.
#pragma once

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>
#include <string>

namespace ports::test {

struct ring_port {
    rte_ring* rx = nullptr;
    rte_ring* tx = nullptr;
    std::uint16_t id = 0;

    explicit ring_port(const std::string& name, unsigned ring_size = 16384) {
        rx = rte_ring_create((name + "_rx").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        tx = rte_ring_create((name + "_tx").c_str(), ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        const int id_or_err = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, 0);
        EXPECT_GE(id_or_err, 0);
        id = static_cast<std::uint16_t>(id_or_err);
    }
    ring_port(const ring_port&) = delete;
    ring_port& operator=(const ring_port&) = delete;
    ~ring_port() {
        rte_mbuf* m = nullptr;
        while (rte_ring_dequeue(tx, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
        while (rte_ring_dequeue(rx, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
        rte_ring_free(rx);
        rte_ring_free(tx);
    }
};

}  // namespace ports::test
