// Prints every request fixture's reply as "name outcome hex", one a line, for
// check_with_scapy.py: scapy then decodes the replies and re-derives lengths and checksums.
#include <cstdio>
#include <span>
#include <utility>

#include "fixtures.hpp"
#include "support.hpp"

int main() {
    using namespace ntest;
    const std::pair<const char*, std::span<const std::uint8_t>> requests[] = {
        {"arp_request", nfix::arp_request},
        {"arp_probe", nfix::arp_probe},
        {"arp_request_vlan", nfix::arp_request_vlan},
        {"arp_request_qinq", nfix::arp_request_qinq},
        {"echo4_request", nfix::echo4_request},
        {"echo4_request_padded", nfix::echo4_request_padded},
        {"echo6_request", nfix::echo6_request},
        {"ns_unicast_sll", nfix::ns_unicast_sll},
        {"ns_multicast_sll", nfix::ns_multicast_sll},
        {"ns_unicast_bare", nfix::ns_unicast_bare},
        {"ns_dad", nfix::ns_dad},
        {"ns_vlan", nfix::ns_vlan},
    };
    for (const auto& [name, frame] : requests) {
        const reply out = run(frame, frame.size() + 64);
        std::printf("%s %s ", name, to_string(out.r.what));
        for (const std::uint8_t b : out.bytes) {
            std::printf("%02x", b);
        }
        std::printf("\n");
    }
    return 0;
}
