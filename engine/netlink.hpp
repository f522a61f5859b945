// The few rtnetlink requests the exception path makes of the kernel: bring an interface up and
// give it an address. Control plane only (start-up), blocking, errors as exceptions.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "config.hpp"

namespace ports::engine::netlink {

class error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Throws error naming the interface and the kernel's reason.
void set_link_up(const std::string& ifname);
// IPv6 addresses are added without duplicate address detection (IFA_F_NODAD): the address is
// the engine's, the fast path answers neighbour solicitations for it, and DAD would hold it
// "tentative" (unbindable) for a second or more. An address already there is not an error.
void add_address(const std::string& ifname, const ip_address& address, std::uint8_t prefix_length);

}  // namespace ports::engine::netlink
