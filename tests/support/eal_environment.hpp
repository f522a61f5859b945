// GoogleTest environment for in-process tests: the test EAL once per process and a pool of
// mbufs the test injects frames from.
#pragma once

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <string>

#include "test_eal.hpp"

namespace ports::test {

class eal_environment : public ::testing::Environment {
public:
    eal_environment(std::string name, int memory_mb, unsigned pool_mbufs)
        : name_(std::move(name)), memory_mb_(memory_mb), pool_mbufs_(pool_mbufs) {}

    void SetUp() override {
        ASSERT_GE(init_test_eal(name_, memory_mb_), 0);
        pool_ = rte_pktmbuf_pool_create("inject", pool_mbufs_, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        ASSERT_NE(pool_, nullptr);
    }
    void TearDown() override {
        rte_mempool_free(pool_);
        rte_eal_cleanup();
    }
    static rte_mempool* pool() { return pool_; }

private:
    std::string name_;
    int memory_mb_;
    unsigned pool_mbufs_;
    static inline rte_mempool* pool_ = nullptr;
};

}  // namespace ports::test
