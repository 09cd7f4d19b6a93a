// The one netlink socket type (src/io/netlink_socket.hpp), against the kernel's rtnetlink, which
// answers without privileges: a request's data and acknowledgement, an error answered by the
// kernel, the empty socket, and closing.
#include "netlink_socket.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

using nfcap::detail::NetlinkSocket;

// An RTM_GETLINK request for interface `index`, built in `storage`.
nlmsghdr* get_link(std::array<char, 256>& storage, int index) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(storage.data());
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    info->ifi_family = AF_UNSPEC;
    info->ifi_index = index;
    return nlh;
}

TEST(NetlinkSocket, RequestHandsOnTheAnswerAndReadsEachAcknowledgement) {
    const auto socket = NetlinkSocket::route(0, 1 << 20);
    ASSERT_TRUE(socket);
    std::array<char, 256> known{};
    std::array<char, 256> unknown{};
    const int loopback = static_cast<int>(::if_nametoindex("lo"));
    ASSERT_GT(loopback, 0);
    nlmsghdr* const messages[] = {get_link(known, loopback), get_link(unknown, 0x7ffffff0)};
    std::vector<int> types;
    std::uint64_t overruns = 0;
    const std::vector<int> outcome = socket->request(
        messages, std::chrono::milliseconds(1000),
        [&](std::span<const std::byte> datagram) {
            const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data());
            types.push_back(nlh->nlmsg_type);
        },
        overruns);
    ASSERT_EQ(outcome.size(), 2U);
    EXPECT_EQ(outcome[0], 0);      // lo exists: its link message, then the acknowledgement
    EXPECT_EQ(outcome[1], ENODEV); // the kernel's own error for a missing interface
    EXPECT_EQ(types, std::vector<int>{RTM_NEWLINK});
    EXPECT_EQ(overruns, 0U);
    // Each request got its own sequence number, set by the socket.
    EXPECT_NE(messages[0]->nlmsg_seq, messages[1]->nlmsg_seq);
    EXPECT_NE(messages[0]->nlmsg_flags & NLM_F_ACK, 0);
}

TEST(NetlinkSocket, AnEmptySocketSaysSoWithoutBlocking) {
    const auto socket = NetlinkSocket::route(0, 1 << 20);
    ASSERT_TRUE(socket);
    socket->size_batch(4, 4096);
    EXPECT_EQ(socket->batch_capacity(), 4U);
    EXPECT_EQ(socket->receive(4), -EAGAIN);
    std::array<std::byte, 64> one{};
    EXPECT_EQ(socket->receive_one(one), -EAGAIN);
    EXPECT_EQ(socket->drops(), 0U);
    EXPECT_GT(socket->receive_buffer_size(), 0U);
}

// A waiting receive on an empty socket waits its time, then says none came (not at once, not for
// ever): on a socket that blocks (the netfilter one: SO_RCVTIMEO) and on a non-blocking one (the
// route socket, as an adopted descriptor may be: poll() first).
TEST(NetlinkSocket, AWaitingReceiveWaitsItsTimeThenSaysNoneCame) {
    std::vector<std::string> warnings;
    const auto blocking = NetlinkSocket::netfilter(std::nullopt, 1 << 20, warnings);
    const auto non_blocking = NetlinkSocket::route(0, 1 << 20);
    ASSERT_TRUE(non_blocking);
    for (NetlinkSocket* socket : {blocking.get(), non_blocking.get()}) {
        socket->size_batch(4, 4096);
        for (const auto wait : {std::chrono::milliseconds(60), std::chrono::milliseconds(30)}) {
            const auto start = std::chrono::steady_clock::now();
            EXPECT_EQ(socket->receive(4, wait), -EAGAIN);
            const auto waited = std::chrono::steady_clock::now() - start;
            EXPECT_GE(waited, wait - std::chrono::milliseconds(5)); // the kernel's tick
            EXPECT_LT(waited, std::chrono::seconds(5));
        }
        EXPECT_EQ(socket->receive(4, std::chrono::milliseconds(0)), -EAGAIN); // zero: no wait
    }
}

// A waiting receive returns with the first datagram, and takes those already queued with it.
TEST(NetlinkSocket, AWaitingReceiveReturnsWithWhatCame) {
    std::vector<std::string> warnings;
    const auto socket = NetlinkSocket::netfilter(std::nullopt, 1 << 20, warnings);
    socket->size_batch(4, 4096);
    for (int i = 0; i < 2; ++i) {
        // NLMSG_NOOP with NLM_F_ACK: the kernel acknowledges it (or refuses it, EPERM, without
        // privileges): an NLMSG_ERROR either way.
        std::array<char, 64> storage{};
        nlmsghdr* nlh = mnl_nlmsg_put_header(storage.data());
        nlh->nlmsg_type = NLMSG_NOOP;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = socket->next_sequence();
        ASSERT_EQ(socket->send(nlh), 0);
    }
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(socket->receive(4, std::chrono::seconds(30)), 2);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(reinterpret_cast<const nlmsghdr*>(socket->datagram(i).data())->nlmsg_type,
                  NLMSG_ERROR);
    }
}

TEST(NetlinkSocket, ReceivesABatchOfAnswers) {
    const auto socket = NetlinkSocket::route(0, 1 << 20);
    ASSERT_TRUE(socket);
    std::array<char, 256> request{};
    const int loopback = static_cast<int>(::if_nametoindex("lo"));
    for (int i = 0; i < 3; ++i) { // no acknowledgement asked: one answer each
        nlmsghdr* nlh = get_link(request, loopback);
        nlh->nlmsg_seq = socket->next_sequence();
        ASSERT_EQ(socket->send(nlh), 0);
    }
    socket->size_batch(8, 8192);
    int got = 0;
    for (int tries = 0; got < 3 && tries < 100; ++tries) {
        const int n = socket->receive(8);
        if (n > 0) {
            for (int i = 0; i < n; ++i) {
                const auto datagram = socket->datagram(static_cast<std::size_t>(i));
                ASSERT_GE(datagram.size(), sizeof(nlmsghdr));
                EXPECT_EQ(reinterpret_cast<const nlmsghdr*>(datagram.data())->nlmsg_type,
                          RTM_NEWLINK);
                EXPECT_FALSE(socket->truncated(static_cast<std::size_t>(i)));
            }
            got += n;
        }
    }
    EXPECT_EQ(got, 3);
}

TEST(NetlinkSocket, TheFillCountsWhatWaitsInTheBuffer) {
    const auto socket = NetlinkSocket::route(0, 1 << 20);
    ASSERT_TRUE(socket);
    const auto empty = socket->fill();
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->queued, 0U);
    EXPECT_EQ(empty->size, socket->receive_buffer_size());
    std::array<char, 256> request{};
    const int loopback = static_cast<int>(::if_nametoindex("lo"));
    nlmsghdr* nlh = get_link(request, loopback);
    nlh->nlmsg_seq = socket->next_sequence();
    ASSERT_EQ(socket->send(nlh), 0);
    // The kernel answers within sendto(): the answer waits in the buffer, counted at its
    // truesize (more than its bytes), until it is read.
    const auto waiting = socket->fill();
    ASSERT_TRUE(waiting);
    socket->size_batch(1, 8192);
    ASSERT_EQ(socket->receive(1), 1);
    EXPECT_GT(waiting->queued, socket->datagram(0).size());
    EXPECT_EQ(socket->fill()->queued, 0U);
    socket->close();
    EXPECT_EQ(socket->fill(), std::nullopt);
}

TEST(NetlinkSocket, ClosingReleasesTheDescriptor) {
    const auto socket = NetlinkSocket::route(0, 1 << 20);
    ASSERT_TRUE(socket);
    EXPECT_TRUE(socket->is_open());
    socket->close();
    EXPECT_FALSE(socket->is_open());
    EXPECT_EQ(socket->fd(), -1);
    EXPECT_EQ(socket->drops(), std::nullopt);
    socket->close(); // twice is harmless
}

} // namespace
