#pragma once
// The one netlink socket type of nfcap_io: every netlink read and write (NFLOG, NFQUEUE and the
// interface cache's link events) goes through it. It owns the descriptor and the receive
// buffers, and knows the netlink protocol (requests with acknowledgements, batches of
// datagrams); the sources above it know the NFULNL_* / NFQNL_* messages.

#include <nfcap/netlink.hpp>
#include <nfcap/nflog_source.hpp>

#include <linux/netlink.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace nfcap::detail {

// The wall clock, as record timestamps use it.
Timestamp wall_clock();

class NetlinkSocket {
  public:
    // A NETLINK_NETFILTER socket with a `receive_buffer`-byte buffer (SO_RCVBUFFORCE, or the
    // capped SO_RCVBUF with a warning when that is refused), bound to a kernel-chosen port. With
    // `adopt`: a duplicate of that descriptor, a NETLINK_NETFILTER socket the caller opened (in
    // this or another network namespace: a netlink socket stays in the namespace it was made
    // in), sized alike and bound when it was not. Throws std::invalid_argument naming what
    // `adopt` is not, or std::system_error.
    static std::unique_ptr<NetlinkSocket> netfilter(std::optional<int> adopt,
                                                    std::uint32_t receive_buffer,
                                                    std::vector<std::string>& warnings);
    // A non-blocking NETLINK_ROUTE socket subscribed to the multicast `groups`; null when the
    // kernel refuses one.
    static std::unique_ptr<NetlinkSocket> route(std::uint32_t groups, std::uint32_t receive_buffer);

    explicit NetlinkSocket(int fd) noexcept : fd_(fd) {}
    ~NetlinkSocket();
    NetlinkSocket(const NetlinkSocket&) = delete;
    NetlinkSocket& operator=(const NetlinkSocket&) = delete;

    int fd() const { return fd_; }
    bool is_open() const { return fd_ >= 0; }
    // Closes the descriptor (the kernel releases every group and queue bound through it).
    void close();

    // NETLINK_NO_ENOBUFS for OverrunPolicy::disable; nothing otherwise. Throws
    // std::system_error.
    void set_overrun_policy(OverrunPolicy policy);
    // The receive buffer as the kernel counts it (sk_rcvbuf: twice what was asked for).
    std::uint64_t receive_buffer_size() const;
    // Datagrams the kernel could not put into the buffer since the socket was opened (sk_drops,
    // from SO_MEMINFO); nullopt when the kernel does not say.
    std::optional<std::uint64_t> drops() const;
    // The bytes queued in the receive buffer and its size, both as the kernel counts them
    // (sk_rmem_alloc, the datagrams' truesize, against sk_rcvbuf, from SO_MEMINFO); nullopt when
    // the kernel does not say.
    std::optional<BufferFill> fill() const;

    // A sequence number for the next message sent (not thread-safe: callers that send from
    // several threads hold their own lock).
    std::uint32_t next_sequence() { return ++sequence_; }

    // Sends whole netlink messages to the kernel in one datagram (EINTR retried). Returns 0 or
    // the errno of the refusal.
    int send(std::span<const std::byte> messages);
    int send(const nlmsghdr* message) {
        return send({reinterpret_cast<const std::byte*>(message), message->nlmsg_len});
    }

    // Sends each of `messages` with NLM_F_ACK and a fresh sequence number, then waits at most
    // `timeout` in all for their acknowledgements. Returns each one's outcome: 0, the errno the
    // kernel answered, or ETIMEDOUT when no answer came in time; a send refused returns its
    // errno for that message without waiting for it. Any other datagram read meanwhile (a
    // record that came early) goes to `on_data`; overflows (ENOBUFS) add to `overruns`.
    // Throws std::system_error when the socket cannot be read.
    std::vector<int> request(std::span<nlmsghdr* const> messages, std::chrono::milliseconds timeout,
                             const std::function<void(std::span<const std::byte>)>& on_data,
                             std::uint64_t& overruns);

    // Receive buffers for `datagrams` datagrams of at most `datagram_size` bytes each.
    void size_batch(std::size_t datagrams, std::size_t datagram_size);
    std::size_t batch_capacity() const { return lengths_.size(); }
    std::size_t datagram_size() const { return datagram_size_; }
    // Reads at most `max` (and at most batch_capacity()) datagrams without blocking, with one
    // recvmmsg (EINTR retried). Returns how many, or -errno: -EAGAIN when none was waiting,
    // -ENOBUFS after an overflow.
    // With a positive `wait`, when no datagram is waiting, waits up to `wait` for the first one,
    // in the receive call itself (a socket that blocks; SO_RCVTIMEO set when `wait` changes)
    // rather than a poll() before it: one system call per wake-up instead of two. A descriptor
    // the caller made non-blocking is polled first. -EAGAIN when none came.
    int receive(std::size_t max, std::chrono::milliseconds wait = {});
    // Datagram `i` of the last receive(); a truncated one (longer than datagram_size(), which
    // only a kernel bug makes) is cut to what fit.
    std::span<const std::byte> datagram(std::size_t i) const {
        return {buffers_.data() + i * datagram_size_, lengths_[i]};
    }
    bool truncated(std::size_t i) const { return truncated_[i]; }
    // Reads one datagram into `into` without blocking (EINTR retried). Returns its length, or
    // -errno (-EAGAIN when none was waiting).
    long receive_one(std::span<std::byte> into);

  private:
    int receive_with(std::size_t max, int flags);

    int fd_ = -1;
    std::uint32_t sequence_ = 0;
    std::optional<bool> blocking_;              // the descriptor's mode, once read
    std::chrono::milliseconds receive_wait_{0}; // SO_RCVTIMEO as last set (0: never set)
    std::size_t datagram_size_ = 0;
    std::vector<std::byte> buffers_;
    std::vector<std::size_t> lengths_;
    std::vector<bool> truncated_;
    std::vector<mmsghdr> messages_;
    std::vector<iovec> vectors_;
};

// Hands `datagram` to handler.on_datagram, then (when the handler wants records) each record of
// kind `wanted` to handler.on_record_of. Returns false when the datagram's netlink framing is
// damaged (the records before the damage were handed on).
bool dispatch(std::span<const std::byte> datagram, RecordKind wanted, Timestamp time,
              RecordHandler& handler);

} // namespace nfcap::detail
