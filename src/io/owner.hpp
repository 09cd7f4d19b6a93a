#pragma once
// Who holds an NFLOG group or NFQUEUE queue, and whether we hold CAP_NET_ADMIN: the facts a
// bind error must name.

#include <cstdint>
#include <string>

namespace nfcap::detail {

// "process 1234 (tcpdump)" for the process whose netlink socket is bound to `resource` in the
// given /proc/net/netfilter table ("nfnetlink_log" or "nfnetlink_queue"); "netlink port N"
// when the socket's process cannot be found; empty when nobody holds it.
std::string describe_owner(const std::string& table, std::uint16_t resource);

// The one-line reason a bind of `what` ("NFLOG group 5") failed with `error`: the missing
// capability, or the process that holds the resource in `table`.
std::string bind_failure(const std::string& what, const std::string& table, std::uint16_t resource,
                         int error);

// True when the effective capability set holds CAP_NET_ADMIN.
bool has_net_admin();

} // namespace nfcap::detail
