// DPDK telemetry commands (/ports_engine/...): the engine's figures for dpdk-telemetry.py and any
// client of the telemetry socket, as the same documents --stats-json writes.
//
// Commands are registered once per process (DPDK cannot unregister one); what answers them is a
// source the engine publishes while it runs and withdraws before its state goes away. Sources run
// on DPDK's telemetry thread, never on a worker: they read per-core counters with relaxed loads.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <string>

namespace ports::telemetry {

// Builds the answer; params is what followed the comma in the request ("" when nothing did).
// Throws std::invalid_argument for bad params (the client gets an error).
using command_source = std::function<nlohmann::ordered_json(const std::string& params)>;

// name: the part after "/ports_engine/". Registers the command on first use. Throws
// std::runtime_error when DPDK refuses the registration.
void publish_command(const std::string& name, const std::string& help, command_source source);

// Every command answers "engine not running" from now on; returns once no source is running.
void withdraw_commands();

}  // namespace ports::telemetry
