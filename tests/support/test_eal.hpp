// EAL for in-process tests and benchmarks: no hugepages, no PCI, no shared config, and a file
// prefix of this process's own (never the default one, which another DPDK process may hold).
#pragma once

#include <rte_eal.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace ports::test {

// One lcore (0), `memory_mb` of ordinary memory. Returns rte_eal_init's result.
inline int init_test_eal(const std::string& name, int memory_mb) {
    std::vector<std::string> args = {name,
                                     "--no-huge",
                                     "-m",
                                     std::to_string(memory_mb),
                                     "--no-pci",
                                     "--no-shconf",
                                     "--file-prefix",
                                     name + "-" + std::to_string(getpid()),
                                     "-l",
                                     "0",
                                     "--log-level",
                                     "error"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    return rte_eal_init(static_cast<int>(argv.size()), argv.data());
}

}  // namespace ports::test
