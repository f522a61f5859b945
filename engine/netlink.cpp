#include "netlink.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ports::engine::netlink {

namespace {

// One request and its acknowledgement on a fresh socket: start-up only, a handful of calls.
void transact(nlmsghdr* request, const std::string& what) {
    const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        throw error(what + ": netlink socket: " + std::strerror(errno));
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    request->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    request->nlmsg_seq = 1;
    if (sendto(fd, request, request->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
        const int e = errno;
        close(fd);
        throw error(what + ": netlink send: " + std::strerror(e));
    }
    alignas(nlmsghdr) char buf[4096];
    const ssize_t received = recv(fd, buf, sizeof(buf), 0);
    const int e = errno;
    close(fd);
    if (received < 0) {
        throw error(what + ": netlink receive: " + std::strerror(e));
    }
    auto left = static_cast<unsigned>(received);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
            if (err->error != 0 && err->error != -EEXIST) {
                throw error(what + ": " + std::strerror(-err->error));
            }
            return;
        }
    }
}

unsigned index_of(const std::string& ifname) {
    const unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0) {
        throw error("interface " + ifname + ": " + std::strerror(errno));
    }
    return index;
}

void add_attribute(nlmsghdr* h, std::size_t capacity, unsigned short type, const void* data,
                   std::size_t length) {
    const std::size_t at = NLMSG_ALIGN(h->nlmsg_len);
    if (at + RTA_SPACE(length) > capacity) {
        throw error("netlink request too long");
    }
    auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(h) + at);
    rta->rta_type = type;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(length));
    std::memcpy(RTA_DATA(rta), data, length);
    h->nlmsg_len = static_cast<std::uint32_t>(at + RTA_SPACE(length));
}

}  // namespace

void set_link_up(const std::string& ifname) {
    struct {
        nlmsghdr h;
        ifinfomsg i;
    } req{};
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    req.h.nlmsg_type = RTM_NEWLINK;
    req.i.ifi_family = AF_UNSPEC;
    req.i.ifi_index = static_cast<int>(index_of(ifname));
    req.i.ifi_flags = IFF_UP;
    req.i.ifi_change = IFF_UP;
    transact(&req.h, "interface " + ifname + ": set up");
}

void add_address(const std::string& ifname, const ip_address& address, std::uint8_t prefix_length) {
    struct {
        nlmsghdr h;
        ifaddrmsg a;
        char attributes[128];
    } req{};
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    req.h.nlmsg_type = RTM_NEWADDR;
    req.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
    req.a.ifa_family = address.v6 ? AF_INET6 : AF_INET;
    req.a.ifa_prefixlen = prefix_length;
    req.a.ifa_scope = RT_SCOPE_UNIVERSE;
    req.a.ifa_index = index_of(ifname);
    const std::size_t length = address.v6 ? 16 : 4;
    add_attribute(&req.h, sizeof(req), IFA_LOCAL, address.bytes.data(), length);
    add_attribute(&req.h, sizeof(req), IFA_ADDRESS, address.bytes.data(), length);
    if (address.v6) {
        const std::uint32_t flags = IFA_F_NODAD;
        req.a.ifa_flags = IFA_F_NODAD;
        add_attribute(&req.h, sizeof(req), IFA_FLAGS, &flags, sizeof(flags));
    }
    transact(&req.h, "interface " + ifname + ": add address");
}

}  // namespace ports::engine::netlink
