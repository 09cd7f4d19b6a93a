// Adopting a caller's socket (NflogConfig::socket, QueueConfig::socket): anything that is not
// a NETLINK_NETFILTER socket is refused with one line naming the fd and what it is not, before
// anything is bound (so these run without privileges). Also the router that gives each group
// of one source its own handler.
#include <nfcap/nflog_source.hpp>
#include <nfcap/queue_source.hpp>

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

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

namespace {

struct Counting final : nfcap::RecordHandler {
    std::vector<std::uint16_t> seen;
    void on_record(std::span<const std::byte> record, nfcap::Timestamp) override {
        seen.push_back(static_cast<std::uint16_t>((std::to_integer<unsigned>(record[2]) << 8U) |
                                                  std::to_integer<unsigned>(record[3])));
    }
};

std::vector<std::byte> record_of(std::uint16_t resource) {
    return {std::byte{2},
            std::byte{0},
            static_cast<std::byte>(resource >> 8U),
            static_cast<std::byte>(resource & 0xffU),
            std::byte{0},
            std::byte{0}};
}

} // namespace

TEST(RecordRouter, EachGroupToItsOwnHandlerTheRestCountedOrToTheFallback) {
    nfcap::RecordRouter router;
    Counting first, second, rest;
    router.route(300, first);
    router.route(7, second);
    for (const int group : {7, 300, 7, 9}) {
        router.on_record(record_of(static_cast<std::uint16_t>(group)), {});
    }
    router.on_record(std::vector<std::byte>(2), {}); // too short to name a group
    EXPECT_EQ(first.seen, (std::vector<std::uint16_t>{300}));
    EXPECT_EQ(second.seen, (std::vector<std::uint16_t>{7, 7}));
    EXPECT_EQ(router.unrouted(), 2U);
    router.set_fallback(&rest);
    router.route(300, second); // a new handler for a group replaces the old one
    router.on_record(record_of(9), {});
    router.on_record(record_of(300), {});
    EXPECT_EQ(rest.seen, (std::vector<std::uint16_t>{9}));
    EXPECT_EQ(second.seen, (std::vector<std::uint16_t>{7, 7, 300}));
    EXPECT_EQ(router.unrouted(), 2U);
}

TEST(QueueSourceConfig, AQueueNamedTwiceIsRefusedBeforeAnythingIsBound) {
    nfcap::QueueConfig config;
    config.queue = 7;
    config.more_queues = {8, 7};
    try {
        nfcap::QueueSource source(config, nfcap::Verdict{});
        FAIL() << "a queue named twice was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "NFQUEUE queue 7 is named twice");
    }
}
