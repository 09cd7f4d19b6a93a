#include "owner.hpp"

#include <nfcap/bindings.hpp>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace nfcap::detail {
namespace {

constexpr int netlink_netfilter = 12; // NETLINK_NETFILTER
constexpr unsigned cap_net_admin = 12;

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The socket inode of netlink port `portid` of protocol NETLINK_NETFILTER (/proc/net/netlink:
// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode).
std::string socket_inode(std::uint32_t portid) {
    std::ifstream in("/proc/net/netlink");
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string sk, groups, rmem, wmem, dump, locks, drops, inode;
        int protocol = -1;
        std::uint32_t port = 0;
        fields >> sk >> protocol >> port >> groups >> rmem >> wmem >> dump >> locks >> drops >>
            inode;
        if (fields && protocol == netlink_netfilter && port == portid) {
            return inode;
        }
    }
    return {};
}

// The first process with a descriptor on socket `inode`.
std::string process_with_socket(const std::string& inode) {
    const std::string target = "socket:[" + inode + "]";
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) {
        return {};
    }
    std::string found;
    while (const dirent* entry = ::readdir(proc)) {
        const std::string pid = entry->d_name;
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::string fd_dir = "/proc/" + pid + "/fd";
        DIR* fds = ::opendir(fd_dir.c_str());
        if (fds == nullptr) {
            continue;
        }
        while (const dirent* fd = ::readdir(fds)) {
            std::array<char, 64> link{};
            const std::string path = fd_dir + "/" + fd->d_name;
            const ssize_t n = ::readlink(path.c_str(), link.data(), link.size() - 1);
            if (n > 0 && target == std::string_view(link.data(), static_cast<std::size_t>(n))) {
                found = pid;
                break;
            }
        }
        ::closedir(fds);
        if (!found.empty()) {
            break;
        }
    }
    ::closedir(proc);
    return found;
}

// "process 1234 (tcpdump)", or "netlink port N" when no process shows the socket.
std::string describe_port(std::uint32_t portid) {
    const std::string pid = process_with_socket(socket_inode(portid));
    if (pid.empty()) {
        return "netlink port " + std::to_string(portid);
    }
    return "process " + pid + " (" + read_line("/proc/" + pid + "/comm") + ")";
}

// The table's lines as (number, portid), in the kernel's order.
std::vector<std::pair<unsigned, std::uint32_t>> table_entries(const std::string& table,
                                                              bool* available) {
    std::ifstream in("/proc/net/netfilter/" + table);
    if (available != nullptr) {
        *available = static_cast<bool>(in);
    }
    std::vector<std::pair<unsigned, std::uint32_t>> entries;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        unsigned number = 0;
        std::uint32_t portid = 0;
        if (fields >> number >> portid) {
            entries.emplace_back(number, portid);
        }
    }
    return entries;
}

} // namespace

std::string describe_owner(const std::string& table, std::uint16_t resource) {
    for (const auto& [number, portid] : table_entries(table, nullptr)) {
        if (number == resource) {
            return describe_port(portid);
        }
    }
    return {};
}

std::string bind_failure(const std::string& what, const std::string& table, std::uint16_t resource,
                         int error) {
    std::string message = "cannot bind " + what + ": ";
    if (!has_net_admin()) {
        return message + std::strerror(error) +
               "; capturing needs CAP_NET_ADMIN (run as root, or give the binary "
               "cap_net_admin with setcap)";
    }
    if (error == EPERM || error == EBUSY) {
        const std::string owner = describe_owner(table, resource);
        if (!owner.empty()) {
            return message + "it is already bound by " + owner +
                   " (one listener each; stop it or use another number)";
        }
    }
    return message + std::strerror(error);
}

bool has_net_admin() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("CapEff:", 0) == 0) {
            const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
            return ((caps >> cap_net_admin) & 1ULL) != 0;
        }
    }
    return false;
}

} // namespace nfcap::detail

namespace nfcap {

std::vector<Binding> current_bindings(RecordKind kind, bool* available) {
    const bool nflog = kind == RecordKind::nflog;
    std::vector<Binding> bindings;
    for (const auto& [number, portid] :
         detail::table_entries(nflog ? "nfnetlink_log" : "nfnetlink_queue", available)) {
        if (number > 0xffff) {
            continue;
        }
        bindings.push_back(Binding{kind, static_cast<std::uint16_t>(number), portid,
                                   detail::describe_port(portid)});
    }
    std::sort(bindings.begin(), bindings.end(),
              [](const Binding& a, const Binding& b) { return a.number < b.number; });
    return bindings;
}

} // namespace nfcap
