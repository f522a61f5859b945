// The subagent with a synthetic engine behind it (64 ports x 8 lcores by default, every class
// counter set, a few rules): bench_snmp.py walks it through a real snmpd and times the walks.
// Prints how long one snapshot + flat view takes, then "ready" once connected, and serves
// until its stdin closes.
//   bench-snmp-agent --agentx PATH [--ports N] [--lcores N] [--rules N]
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "poll.hpp"
#include "ports/telemetry/mib.hpp"
#include "ports/telemetry/snmp_agent.hpp"

using namespace ports;

namespace {

telemetry::mib_snapshot synthetic(unsigned ports, unsigned lcores, unsigned rules,
                                  std::uint64_t tick) {
    telemetry::mib_snapshot s;
    s.version = "bench";
    s.uptime_ticks = static_cast<std::uint32_t>(tick);
    s.taken = std::chrono::system_clock::now();
    for (unsigned p = 0; p < ports; ++p) {
        telemetry::port_row r;
        r.port_id = static_cast<std::uint16_t>(p);
        r.name = "port" + std::to_string(p);
        r.driver = "net_bench";
        r.link_up = p % 7 != 0;
        r.speed_mbps = 100000;
        r.rx_packets = (p + 1) * 1000003ULL + tick;
        r.tx_packets = r.rx_packets / 2;
        r.rx_octets = r.rx_packets * 152;
        r.tx_octets = r.tx_packets * 152;
        r.rx_missed = p;
        s.ports.push_back(std::move(r));
    }
    for (std::size_t i = 0; i < pipelines::counter_count; ++i) {
        s.classes.values[i] = (i + 1) * 7919ULL + tick;
    }
    s.ntp.enabled = true;
    s.ntp.requests = 123456 + tick;
    s.ntp.replies = 123000 + tick;
    s.ntp.stratum = 1;
    s.ntp.leap = 0;
    for (unsigned l = 0; l < lcores; ++l) {
        s.lcores.push_back({l + 1, 1000000ULL * (l + 1) + tick, 500000ULL * (l + 1), 0, 4200});
    }
    for (unsigned r = 0; r < rules; ++r) {
        s.rules.push_back({"rule-" + std::to_string(r + 1), "synthetic rule",
                           static_cast<pipelines::traffic_class>(r % pipelines::class_count),
                           "count", r * 11ULL});
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    std::string agentx;
    unsigned ports = 64, lcores = 8, rules = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--agentx") {
            agentx = argv[i + 1];
        } else if (a == "--ports") {
            ports = static_cast<unsigned>(std::atoi(argv[i + 1]));
        } else if (a == "--lcores") {
            lcores = static_cast<unsigned>(std::atoi(argv[i + 1]));
        } else if (a == "--rules") {
            rules = static_cast<unsigned>(std::atoi(argv[i + 1]));
        }
    }
    if (agentx.empty()) {
        std::fprintf(
            stderr, "usage: bench-snmp-agent --agentx PATH [--ports N] [--lcores N] [--rules N]\n");
        return 2;
    }

    // One snapshot + flat view: what a walk's first GETNEXT costs the agent's thread.
    const int reps = 200;
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t entries = 0;
    for (int i = 0; i < reps; ++i) {
        entries = telemetry::build_view(synthetic(ports, lcores, rules, i)).size();
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        reps;
    std::printf("snapshot + flat view: %zu instances (%u ports, %u lcores, %u rules) in %.1f us\n",
                entries, ports, lcores, rules, us);

    std::uint64_t tick = 0;
    telemetry::snmp_agent_options o;
    o.agentx_socket = agentx;
    o.start_stop_traps = false;
    telemetry::snmp_agent agent(o, [&] { return synthetic(ports, lcores, rules, ++tick); });
    agent.start();
    if (!test::eventually([&] { return agent.connected(); }, std::chrono::seconds(10),
                          std::chrono::milliseconds(20))) {
        std::fprintf(stderr, "bench-snmp-agent: no snmpd at %s\n", agentx.c_str());
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    agent.stop();
    return 0;
}
