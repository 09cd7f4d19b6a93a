// Adopting a caller's socket (NflogConfig::socket, QueueConfig::socket): anything that is not
// a NETLINK_NETFILTER socket is refused with one line naming the fd and what it is not, before
// anything is bound (so these run without privileges).
#include <nfcap/nflog_source.hpp>
#include <nfcap/queue_source.hpp>

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace {

std::string refusal_for_nflog(int fd) {
    nfcap::NflogConfig config;
    config.groups = {7};
    config.socket = fd;
    try {
        nfcap::NflogSource source(config);
    } catch (const std::invalid_argument& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("other error: ") + e.what();
    }
    return "accepted";
}

std::string refusal_for_queue(int fd) {
    nfcap::QueueConfig config;
    config.queue = 7;
    config.socket = fd;
    try {
        nfcap::QueueSource source(config, nfcap::Verdict{});
    } catch (const std::invalid_argument& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("other error: ") + e.what();
    }
    return "accepted";
}

} // namespace

TEST(AdoptSocket, APipeIsRefused) {
    std::array<int, 2> pipe_fds{};
    ASSERT_EQ(::pipe(pipe_fds.data()), 0);
    const std::string expected = "cannot adopt socket fd " + std::to_string(pipe_fds[0]) +
                                 ": it is not a netfilter netlink socket (make it with "
                                 "socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER))";
    EXPECT_EQ(refusal_for_nflog(pipe_fds[0]), expected);
    EXPECT_EQ(refusal_for_queue(pipe_fds[0]), expected);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
}

TEST(AdoptSocket, ANetlinkSocketOfAnotherFamilyIsRefused) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    ASSERT_GE(fd, 0);
    EXPECT_NE(refusal_for_queue(fd).find("is not a netfilter netlink socket"), std::string::npos);
    ::close(fd);
}

TEST(AdoptSocket, AClosedDescriptorIsRefused) {
    const int fd = ::dup(0);
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_EQ(refusal_for_nflog(fd),
              "cannot adopt socket fd " + std::to_string(fd) + ": it is not an open file");
}
