// `ports-engine --check-config FILE`: what a start would refuse in a config and in the files it
// names (NTP keys, NTS certificate, key and master-key file, rules), found without EAL, hugepages
// or devices, so that a unit's ExecStartPre (and an operator before a restart) sees it first.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace ports::engine {

// The config, loaded and checked with everything it names; config_error ("FILE:LINE: ...")
// on the first problem. Reads files, writes none (the NTS master-key file is only read).
engine_config check_config(const std::string& path);

// The PCI addresses of the config's ports, in full form (0000:03:00.0), without devargs: what
// ports-engine-prepare binds. Empty when every port is a virtual device.
std::vector<std::string> pci_devices(const engine_config& cfg);

// One line for the operator: "FILE: ok: 2 ports (1 PCI), ntp, rules (40 rules)".
std::string check_summary(const engine_config& cfg);

}  // namespace ports::engine
