// The fast path's name for the Internet checksum (pipelines/service.cpp calls
// ntp::checksum::add, ipv4_header, udp, fold): one implementation, in
// ports/common/inet_checksum.hpp.
#pragma once

#include "ports/common/inet_checksum.hpp"

namespace ports::ntp {

namespace checksum = inet_checksum;

}  // namespace ports::ntp
