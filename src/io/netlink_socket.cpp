#include "netlink_socket.hpp"

#include "system_error.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
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

// Sizes the receive buffer; returns false when only the capped size could be set.
bool size_buffer(int fd, std::uint32_t receive_buffer) {
    const int size = static_cast<int>(std::min<std::uint32_t>(receive_buffer, INT_MAX / 2));
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) == 0) {
        return true;
    }
    // Without CAP_NET_ADMIN the forced size is refused; the capped one still helps.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return false;
}

void size_and_stamp(int fd, std::uint32_t receive_buffer, std::vector<std::string>& warnings) {
    if (!size_buffer(fd, receive_buffer)) {
        int actual = 0;
        socklen_t length = sizeof actual;
        ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &length);
        warnings.push_back("receive buffer limited to " + std::to_string(actual / 2) +
                           " bytes (asked for " +
                           std::to_string(std::min<std::uint32_t>(receive_buffer, INT_MAX / 2)) +
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
        throw_errno("cannot bind the netlink socket");
    }
}

int socket_option(int fd, int option) {
    int value = -1;
    socklen_t length = sizeof value;
    return ::getsockopt(fd, SOL_SOCKET, option, &value, &length) == 0 ? value : -1;
}

int adopt(int fd) {
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
    return own;
}

} // namespace

std::unique_ptr<NetlinkSocket> NetlinkSocket::netfilter(std::optional<int> adopted,
                                                        std::uint32_t receive_buffer,
                                                        std::vector<std::string>& warnings) {
    const int fd = adopted ? adopt(*adopted)
                           : ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        throw_errno("cannot open a netfilter netlink socket");
    }
    auto socket = std::make_unique<NetlinkSocket>(fd);
    size_and_stamp(fd, receive_buffer, warnings);
    sockaddr_nl local{};
    socklen_t length = sizeof local;
    if (!adopted || ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
        local.nl_pid == 0) {
        bind_to_kernel_port(socket->fd_); // a new socket, or an adopted one not bound yet
    }
    return socket;
}

std::unique_ptr<NetlinkSocket> NetlinkSocket::route(std::uint32_t groups,
                                                    std::uint32_t receive_buffer) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        return nullptr;
    }
    auto socket = std::make_unique<NetlinkSocket>(fd);
    size_buffer(fd, receive_buffer);
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = groups;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        return nullptr;
    }
    return socket;
}

NetlinkSocket::~NetlinkSocket() {
    close();
}

void NetlinkSocket::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

void NetlinkSocket::set_overrun_policy(OverrunPolicy policy) {
    if (policy != OverrunPolicy::disable) {
        return;
    }
    const int on = 1;
    if (::setsockopt(fd_, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on) != 0) {
        throw_errno("cannot turn ENOBUFS reports off (NETLINK_NO_ENOBUFS)");
    }
}

std::uint64_t NetlinkSocket::receive_buffer_size() const {
    const int size = socket_option(fd_, SO_RCVBUF);
    return size > 0 ? static_cast<std::uint64_t>(size) : 0;
}

namespace {

// SO_MEMINFO's counters, or nullopt when the kernel gives fewer than `needed` of them.
std::optional<std::array<std::uint32_t, SK_MEMINFO_VARS>> memory_info(int fd, int needed) {
    if (fd < 0) {
        return std::nullopt;
    }
    std::array<std::uint32_t, SK_MEMINFO_VARS> info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info.data(), &length) != 0 ||
        length < static_cast<socklen_t>(static_cast<std::size_t>(needed) * sizeof info[0])) {
        return std::nullopt;
    }
    return info;
}

} // namespace

std::optional<std::uint64_t> NetlinkSocket::drops() const {
    const auto info = memory_info(fd_, SK_MEMINFO_DROPS + 1);
    if (!info) {
        return std::nullopt;
    }
    return (*info)[SK_MEMINFO_DROPS]; // a 32-bit counter in the kernel
}

std::optional<BufferFill> NetlinkSocket::fill() const {
    const auto info = memory_info(fd_, SK_MEMINFO_RCVBUF + 1);
    if (!info) {
        return std::nullopt;
    }
    return BufferFill{(*info)[SK_MEMINFO_RMEM_ALLOC], (*info)[SK_MEMINFO_RCVBUF]};
}

int NetlinkSocket::send(std::span<const std::byte> messages) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    while (::sendto(fd_, messages.data(), messages.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                    sizeof kernel) < 0) {
        if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

std::vector<int>
NetlinkSocket::request(std::span<nlmsghdr* const> messages, std::chrono::milliseconds timeout,
                       const std::function<void(std::span<const std::byte>)>& on_data,
                       std::uint64_t& overruns) {
    std::vector<int> outcome(messages.size(), ETIMEDOUT);
    std::vector<std::uint32_t> sequences(messages.size());
    std::size_t waiting = 0;
    // All are sent before any answer is read: binding several groups costs one round trip.
    for (std::size_t i = 0; i < messages.size(); ++i) {
        messages[i]->nlmsg_flags |= NLM_F_ACK;
        messages[i]->nlmsg_seq = sequences[i] = next_sequence();
        if (const int error = send(messages[i]); error != 0) {
            outcome[i] = error;
        } else {
            ++waiting;
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::byte> buffer(256 * 1024); // one NFLOG datagram can exceed nlbufsiz
    while (waiting > 0) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        pollfd p{fd_, POLLIN, 0};
        const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
        if (ready == 0) {
            break; // the ones still waiting stay ETIMEDOUT
        }
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("poll");
        }
        const long n = receive_one(buffer);
        if (n == -ENOBUFS) {
            ++overruns;
            continue;
        }
        if (n == -EAGAIN) {
            continue;
        }
        if (n < 0) {
            throw_errno("cannot read the kernel's answer", static_cast<int>(-n));
        }
        bool data = false;
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); // netlink ABI
        int remaining = static_cast<int>(n);
        for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
            if (nlh->nlmsg_type != NLMSG_ERROR) {
                data = true;
                continue;
            }
            const auto at = std::find(sequences.begin(), sequences.end(), nlh->nlmsg_seq);
            if (at == sequences.end()) {
                continue;
            }
            const auto i = static_cast<std::size_t>(at - sequences.begin());
            if (outcome[i] == ETIMEDOUT) {
                outcome[i] = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
                --waiting;
            }
        }
        if (data && on_data) {
            on_data(std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(n)));
        }
    }
    return outcome;
}

void NetlinkSocket::size_batch(std::size_t datagrams, std::size_t datagram_size) {
    datagram_size_ = datagram_size;
    buffers_.assign(datagrams * datagram_size, std::byte{});
    lengths_.assign(datagrams, 0);
    truncated_.assign(datagrams, false);
    messages_.assign(datagrams, mmsghdr{});
    vectors_.assign(datagrams, iovec{});
    // Set up once: the kernel only writes each message's outputs (length, flags), so that a
    // wake-up that brings one datagram does not rebuild the whole batch's headers.
    for (std::size_t i = 0; i < datagrams; ++i) {
        vectors_[i] = iovec{buffers_.data() + i * datagram_size_, datagram_size_};
        messages_[i].msg_hdr.msg_iov = &vectors_[i];
        messages_[i].msg_hdr.msg_iovlen = 1;
    }
}

int NetlinkSocket::receive(std::size_t max, std::chrono::milliseconds wait) {
    if (wait.count() <= 0) { // SO_RCVTIMEO's zero would wait for ever
        return receive_with(max, MSG_DONTWAIT);
    }
    if (!blocking_) {
        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags < 0) {
            return -errno;
        }
        blocking_ = (flags & O_NONBLOCK) == 0;
    }
    if (!*blocking_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) < 0 && errno != EINTR) {
            return -errno;
        }
        return receive_with(max, MSG_DONTWAIT);
    }
    if (wait != receive_wait_) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(wait).count();
        const timeval timeout{static_cast<time_t>(us / 1'000'000),
                              static_cast<suseconds_t>(us % 1'000'000)};
        if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
            return -errno;
        }
        receive_wait_ = wait;
    }
    // MSG_WAITFORONE: blocks for the first datagram only, then takes what is already there.
    return receive_with(max, MSG_WAITFORONE);
}

int NetlinkSocket::receive_with(std::size_t max, int flags) {
    const auto wanted = static_cast<unsigned>(std::min(max, lengths_.size()));
    if (wanted == 0) {
        return 0;
    }
    int n = 0;
    while ((n = ::recvmmsg(fd_, messages_.data(), wanted, flags, nullptr)) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        truncated_[i] = (messages_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        lengths_[i] = std::min<std::size_t>(messages_[i].msg_len, datagram_size_);
    }
    return n;
}

long NetlinkSocket::receive_one(std::span<std::byte> into) {
    for (;;) {
        const ssize_t n = ::recv(fd_, into.data(), into.size(), MSG_DONTWAIT);
        if (n >= 0) {
            return static_cast<long>(n);
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
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
