#include "netfilter_socket.hpp"

#include "system_error.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <ctime>
#include <stdexcept>
#include <string>

namespace nfcap::detail {

Timestamp wall_clock() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return Timestamp{ts.tv_sec, static_cast<std::uint32_t>(ts.tv_nsec)};
}

namespace {

void size_and_stamp(int fd, std::uint32_t receive_buffer, std::vector<std::string>& warnings) {
    const int size = static_cast<int>(std::min<std::uint32_t>(receive_buffer, INT_MAX / 2));
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
        // Without CAP_NET_ADMIN the forced size is refused; the capped one still helps.
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        int actual = 0;
        socklen_t length = sizeof actual;
        ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &length);
        warnings.push_back("receive buffer limited to " + std::to_string(actual / 2) +
                           " bytes (asked for " + std::to_string(size) +
                           "; SO_RCVBUFFORCE needs CAP_NET_ADMIN)");
    }
    // The kernel stamps packets as it receives them only while some socket asks for receive
    // timestamps (the global netstamp switch, which libpcap's packet sockets turn on too);
    // without that, records of received packets lack NFULA_TIMESTAMP / NFQA_TIMESTAMP and fall
    // back to the time nfcap received them, which is later by up to the flush timeout and makes
    // interface names less exact (see interface_cache.hpp). Netlink sockets deliver no timestamp
    // messages, so asking here costs nothing else. Best effort: a refusal only loses precision.
    const int on = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

void bind_to_kernel_port(int fd) {
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        const int error = errno;
        ::close(fd);
        throw_errno("cannot bind the netlink socket", error);
    }
}

int socket_option(int fd, int option) {
    int value = -1;
    socklen_t length = sizeof value;
    return ::getsockopt(fd, SOL_SOCKET, option, &value, &length) == 0 ? value : -1;
}

} // namespace

int open_netfilter_socket(std::uint32_t receive_buffer, std::vector<std::string>& warnings) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        throw_errno("cannot open a netfilter netlink socket");
    }
    size_and_stamp(fd, receive_buffer, warnings);
    bind_to_kernel_port(fd);
    return fd;
}

int adopt_netfilter_socket(int fd, std::uint32_t receive_buffer,
                           std::vector<std::string>& warnings) {
    const std::string which = "socket fd " + std::to_string(fd);
    if (::fcntl(fd, F_GETFD) < 0) {
        throw std::invalid_argument("cannot adopt " + which + ": it is not an open file");
    }
    if (socket_option(fd, SO_DOMAIN) != AF_NETLINK ||
        socket_option(fd, SO_PROTOCOL) != NETLINK_NETFILTER) {
        throw std::invalid_argument("cannot adopt " + which +
                                    ": it is not a netfilter netlink socket (make it with "
                                    "socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER))");
    }
    const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
        throw_errno("cannot duplicate " + which);
    }
    size_and_stamp(own, receive_buffer, warnings);
    sockaddr_nl local{};
    socklen_t length = sizeof local;
    if (::getsockname(own, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
        local.nl_pid == 0) {
        bind_to_kernel_port(own); // not bound yet
    }
    return own;
}

void set_overrun_policy(int fd, OverrunPolicy policy) {
    if (policy != OverrunPolicy::disable) {
        return;
    }
    const int on = 1;
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on) != 0) {
        throw_errno("cannot turn ENOBUFS reports off (NETLINK_NO_ENOBUFS)");
    }
}

std::uint64_t receive_buffer_size(int fd) {
    int size = 0;
    socklen_t length = sizeof size;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &length) != 0 || size < 0) {
        return 0;
    }
    return static_cast<std::uint64_t>(size);
}

std::optional<std::uint64_t> socket_drops(int fd) {
    std::array<std::uint32_t, SK_MEMINFO_VARS> info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info.data(), &length) != 0 ||
        length <= SK_MEMINFO_DROPS * sizeof(std::uint32_t)) {
        return std::nullopt;
    }
    return info[SK_MEMINFO_DROPS]; // a 32-bit counter in the kernel
}

bool dispatch(std::span<const std::byte> datagram, RecordKind wanted, Timestamp time,
              RecordHandler& handler) {
    handler.on_datagram(datagram, time);
    if (!handler.wants_records()) {
        return true;
    }
    NetlinkWalker walker(datagram);
    RecordKind kind{};
    std::span<const std::byte> record;
    try {
        while (walker.next(kind, record)) {
            if (kind == wanted) {
                handler.on_record_of(kind, record, time);
            }
        }
    } catch (const DecodeError&) {
        return false;
    }
    return true;
}

} // namespace nfcap::detail
