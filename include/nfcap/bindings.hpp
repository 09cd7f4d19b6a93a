#pragma once
// Which NFLOG groups and NFQUEUE queues are bound in this network namespace, and by whom: what
// `nfcap -D` lists, and what a bind error names. Read from /proc/net/netfilter and the
// processes' descriptors; without root the owning process of another user's socket stays
// unknown (its netlink port is named instead).

#include <nfcap/netlink.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nfcap {

struct Binding {
    RecordKind kind = RecordKind::nflog;
    std::uint16_t number = 0; // the group or queue
    std::uint32_t portid = 0; // the netlink port of the socket bound to it
    std::string owner;        // "process 1234 (tcpdump)", or "netlink port 5678" when unknown
};

// The groups (RecordKind::nflog) or queues (RecordKind::nfqueue) bound now, in ascending order.
// `available` (when given) says whether the kernel's table exists: nfnetlink_log or
// nfnetlink_queue may not be loaded until something first uses it.
std::vector<Binding> current_bindings(RecordKind kind, bool* available = nullptr);

} // namespace nfcap
