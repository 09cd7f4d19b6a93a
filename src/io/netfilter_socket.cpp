#include "netfilter_socket.hpp"

#include "system_error.hpp"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <ctime>

namespace nfcap::detail {

Timestamp wall_clock() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return Timestamp{ts.tv_sec, static_cast<std::uint32_t>(ts.tv_nsec)};
}

int open_netfilter_socket(std::uint32_t receive_buffer, std::vector<std::string>& warnings) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        throw_errno("cannot open a netfilter netlink socket");
    }
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
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        const int error = errno;
        ::close(fd);
        throw_errno("cannot bind the netlink socket", error);
    }
    return fd;
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
                handler.on_record(record, time);
            }
        }
    } catch (const DecodeError&) {
        return false;
    }
    return true;
}

} // namespace nfcap::detail
