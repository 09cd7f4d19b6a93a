#include <nfcap/interface_cache.hpp>

#include <net/if.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace nfcap {

InterfaceCache::InterfaceCache() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ >= 0) {
        sockaddr_nl address{};
        address.nl_family = AF_NETLINK;
        address.nl_groups = RTMGRP_LINK;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    // Subscribe first, then list: a change between the two shows up as an event.
    if (struct if_nameindex* list = ::if_nameindex(); list != nullptr) {
        for (const struct if_nameindex* i = list; i->if_index != 0; ++i) {
            names_[i->if_index] = i->if_name;
        }
        ::if_freenameindex(list);
    }
}

InterfaceCache::~InterfaceCache() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void InterfaceCache::update() {
    if (fd_ < 0) {
        return;
    }
    std::array<std::byte, 16384> buffer{};
    for (;;) {
        const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) {
                // Events were lost: forget what we know and resolve again on demand.
                names_.clear();
                continue;
            }
            return; // EAGAIN: nothing pending
        }
        apply(std::span(buffer.data(), static_cast<std::size_t>(n)));
    }
}

void InterfaceCache::apply(std::span<const std::byte> datagram) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data()); // netlink ABI
    auto remaining = static_cast<int>(datagram.size());
    for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) {
            continue; // RTM_DELLINK keeps the last name on purpose
        }
        const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
        const auto* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
        const auto* attr =
            static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(ifinfomsg)));
        for (; mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
             attr = mnl_attr_next(attr)) {
            if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
                mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
                names_[static_cast<std::uint32_t>(info->ifi_index)] = mnl_attr_get_str(attr);
            }
        }
    }
}

std::string_view InterfaceCache::name(std::uint32_t ifindex) {
    if (const auto found = names_.find(ifindex); found != names_.end()) {
        return found->second;
    }
    std::array<char, IF_NAMESIZE> buffer{};
    if (::if_indextoname(ifindex, buffer.data()) == nullptr) {
        return {};
    }
    return names_[ifindex] = buffer.data();
}

} // namespace nfcap
