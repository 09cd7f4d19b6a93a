// The NFLOG socket adapter: the only file of nfcap_io that knows NFULNL_* numbers.
#include <nfcap/netlink.hpp>
#include <nfcap/nflog_source.hpp>

#include "netfilter_socket.hpp"
#include "owner.hpp"
#include "system_error.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <string>

namespace nfcap {
namespace {

// One NFLOG datagram can exceed nlbufsiz: the kernel's allocation is rounded up and a single
// large packet gets a buffer of its own. 256 KiB holds the largest seen.
constexpr std::size_t datagram_size = 256 * 1024;
constexpr std::size_t datagrams_per_batch = 8;

std::uint8_t copy_mode_value(CopyMode mode) {
    switch (mode) {
    case CopyMode::none:
        return NFULNL_COPY_NONE;
    case CopyMode::meta:
        return NFULNL_COPY_META;
    case CopyMode::packet:
        break;
    }
    return NFULNL_COPY_PACKET;
}
// The kernel answers a configuration request at once; an answer lost to a full socket buffer
// must not leave the caller waiting.
constexpr int ack_timeout_ms = 1000;

} // namespace

NflogSource::NflogSource(NflogConfig config) : config_(std::move(config)) {
    if (config_.groups.empty()) {
        throw std::invalid_argument("no NFLOG group given");
    }
    fd_ = detail::netfilter_socket(config_.socket, config_.receive_buffer, warnings_);
    try {
        detail::set_overrun_policy(fd_, config_.on_overrun);
        configure();
    } catch (...) {
        ::close(fd_); // releases every group bound so far
        throw;
    }
    buffers_.resize(datagram_size * datagrams_per_batch);
    drops_before_last_.assign(config_.groups.size(), 0);
}

NflogSource::~NflogSource() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void NflogSource::configure() {
    // One config message per group: bind, copy mode, batching, sequence numbers. All are sent
    // before any acknowledgement is read; records that arrive meanwhile are kept in pending_.
    std::array<char, 8192> message{}; // one config message is < 100 bytes
    // The namespace-wide sequence number orders the records of several groups; with one group it
    // would repeat the group's own (plus a constant) in every record, so it is asked for only
    // when several groups are recorded.
    std::uint16_t flags = NFULNL_CFG_F_SEQ;
    if (config_.groups.size() > 1) {
        flags |= NFULNL_CFG_F_SEQ_GLOBAL;
    }
    if (config_.conntrack) {
        flags |= NFULNL_CFG_F_CONNTRACK;
    }
    for (std::size_t i = 0; i < config_.groups.size(); ++i) {
        nlmsghdr* nlh =
            nflog_nlmsg_put_header(message.data(), NFULNL_MSG_CONFIG, AF_UNSPEC, config_.groups[i]);
        nlh->nlmsg_flags |= NLM_F_ACK;
        nlh->nlmsg_seq = static_cast<std::uint32_t>(i + 1);
        nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
        nflog_attr_put_cfg_mode(nlh, copy_mode_value(config_.copy_mode),
                                kernel_copy_range(RecordKind::nflog, config_.copy_range));
        mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(config_.netlink_buffer));
        mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(config_.flush_timeout));
        mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(config_.queue_threshold));
        mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(flags));
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        if (::sendto(fd_, nlh, nlh->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
                     sizeof kernel) < 0) {
            detail::throw_errno("cannot send NFLOG configuration");
        }
    }

    std::vector<bool> acknowledged(config_.groups.size(), false);
    std::vector<std::byte> buffer(datagram_size);
    auto waiting = config_.groups.size();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(ack_timeout_ms);
    while (waiting > 0) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        pollfd p{fd_, POLLIN, 0};
        const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
        if (ready == 0) {
            std::string which;
            for (std::size_t i = 0; i < acknowledged.size(); ++i) {
                if (!acknowledged[i]) {
                    which += (which.empty() ? "" : ", ") + std::to_string(config_.groups[i]);
                }
            }
            throw BindError("the kernel did not acknowledge binding NFLOG group " + which +
                            " within " + std::to_string(ack_timeout_ms / 1000) + " s");
        }
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            detail::throw_errno("poll");
        }
        const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
        if (n < 0) {
            if (errno == EINTR || errno == ENOBUFS) {
                counters_.overruns += errno == ENOBUFS ? 1 : 0;
                continue;
            }
            detail::throw_errno("cannot read the NFLOG configuration answer");
        }
        bool data = false;
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); // netlink ABI
        int remaining = static_cast<int>(n);
        for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
            if (nlh->nlmsg_type != NLMSG_ERROR) {
                data = true;
                continue;
            }
            const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
            const std::size_t index = nlh->nlmsg_seq - 1;
            if (index >= acknowledged.size() || acknowledged[index]) {
                continue;
            }
            if (err->error != 0) {
                const std::string what = "NFLOG group " + std::to_string(config_.groups[index]);
                if (-err->error == EOPNOTSUPP && config_.conntrack) {
                    throw BindError("cannot bind " + what +
                                    ": this kernel cannot attach conntrack state to NFLOG records "
                                    "(--conntrack needs CONFIG_NETFILTER_NETLINK_GLUE_CT); run "
                                    "without --conntrack");
                }
                throw BindError(detail::bind_failure(what, "nfnetlink_log", config_.groups[index],
                                                     -err->error));
            }
            acknowledged[index] = true;
            --waiting;
        }
        if (data) {
            pending_.emplace_back(buffer.begin(), buffer.begin() + n);
        }
    }
}

std::size_t NflogSource::receive(RecordHandler& handler) {
    return receive(handler, std::numeric_limits<std::size_t>::max());
}

void NflogSource::feed(std::span<const std::byte> datagram, RecordHandler& handler) {
    dispatch(datagram, detail::wall_clock(), handler);
    ++counters_.datagrams;
}

std::size_t NflogSource::receive(RecordHandler& handler, std::size_t max_datagrams) {
    std::size_t datagrams = 0;
    if (!pending_.empty()) {
        const Timestamp time = detail::wall_clock();
        for (const auto& datagram : pending_) {
            dispatch(datagram, time, handler);
        }
        datagrams += pending_.size();
        pending_.clear();
    }
    std::array<mmsghdr, datagrams_per_batch> messages{};
    std::array<iovec, datagrams_per_batch> vectors{};
    for (std::size_t i = 0; i < datagrams_per_batch; ++i) {
        vectors[i] = iovec{buffers_.data() + i * datagram_size, datagram_size};
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        // Once anything was dropped, the drop count is read before every receive, and receiving
        // goes on until the socket is found empty: see loss.hpp (NflogDrops).
        const bool lossy = counters_.overruns != 0;
        const std::optional<std::uint64_t> drops_before =
            lossy ? detail::socket_drops(fd_) : std::nullopt;
        const auto wanted = static_cast<unsigned>(
            std::min(datagrams_per_batch, max_datagrams - std::min(max_datagrams, datagrams)));
        if (wanted == 0) {
            return datagrams;
        }
        const int n = ::recvmmsg(fd_, messages.data(), wanted, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) {
                ++counters_.overruns; // the sequence-number gaps say how many, up to a point
                if (unsampled_delivery_) {
                    // Read after the last delivery: what it counts may include drops after that
                    // delivery, which are then not called certain (a lower bound stays one).
                    drops_at_last_delivery_ = detail::socket_drops(fd_).value_or(0);
                    unsampled_delivery_ = false;
                }
                if (config_.on_overrun == OverrunPolicy::raise) {
                    throw OverrunError(
                        "NFLOG: the socket buffer overflowed (ENOBUFS) and the kernel dropped "
                        "records; sequence gaps will show how many");
                }
                continue;
            }
            if (errno == EAGAIN) {
                if (drops_before) {
                    drops_at_empty_ = *drops_before;
                }
                return datagrams;
            }
            detail::throw_errno("cannot receive from the NFLOG socket");
        }
        const Timestamp time = detail::wall_clock();
        for (int i = 0; i < n; ++i) {
            const auto& m = messages[static_cast<std::size_t>(i)];
            std::size_t length = m.msg_len;
            if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
                ++counters_.damaged;
                length = std::min(length, datagram_size);
            }
            const std::span<const std::byte> datagram{
                buffers_.data() + static_cast<std::size_t>(i) * datagram_size, length};
            if (lossy) {
                note_delivery(datagram);
            }
            dispatch(datagram, time, handler);
        }
        datagrams += static_cast<std::size_t>(n);
        counters_.datagrams += static_cast<std::uint64_t>(n);
        if (n > 0) {
            // Drops counted after this reading came after every datagram read so far.
            unsampled_delivery_ = !lossy;
            if (lossy) {
                drops_at_last_delivery_ = detail::socket_drops(fd_).value_or(0);
            }
        }
        if (!lossy && static_cast<unsigned>(n) < wanted) {
            return datagrams;
        }
    }
}

void NflogSource::note_delivery(std::span<const std::byte> datagram) {
    // A datagram holds one group's records: nlmsghdr (16 bytes), then nfgenmsg, whose res_id
    // (bytes 2-3, big-endian) is the group.
    constexpr std::size_t res_id = 16 + 2;
    if (datagram.size() < res_id + 2) {
        return;
    }
    const auto group =
        static_cast<std::uint16_t>((std::to_integer<unsigned>(datagram[res_id]) << 8U) |
                                   std::to_integer<unsigned>(datagram[res_id + 1]));
    for (std::size_t i = 0; i < config_.groups.size(); ++i) {
        if (config_.groups[i] == group) {
            drops_before_last_[i] = drops_at_empty_;
        }
    }
}

std::optional<NflogDrops> NflogSource::drop_history() const {
    const std::optional<std::uint64_t> total = detail::socket_drops(fd_);
    if (!total) {
        return std::nullopt;
    }
    NflogDrops drops;
    drops.total = *total;
    if (!drops_before_last_.empty()) {
        drops.before_every_last_record =
            *std::min_element(drops_before_last_.begin(), drops_before_last_.end());
    }
    // Nothing read since the last sample, or nothing ever: drops after it came after every
    // delivery. (A delivery never sampled saw no overrun before it, so no drop either.)
    drops.at_last_delivery = unsampled_delivery_ ? drops.total : drops_at_last_delivery_;
    return drops;
}

void NflogSource::stop(RecordHandler& handler) {
    receive(handler); // make room for the last batches
    std::array<char, 256> message{};
    for (const std::uint16_t group : config_.groups) {
        // Unbinding destroys the group's instance, and the kernel flushes the batch it held
        // into this socket before sendto() returns (__instance_destroy in nfnetlink_log.c).
        nlmsghdr* nlh = nflog_nlmsg_put_header(message.data(), NFULNL_MSG_CONFIG, AF_UNSPEC, group);
        nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_UNBIND);
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        while (::sendto(fd_, nlh, nlh->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
                        sizeof kernel) < 0 &&
               errno == EINTR) {
        }
        receive(handler);
    }
}

void NflogSource::unbind(std::uint16_t group, RecordHandler& handler) {
    const auto at = std::find(config_.groups.begin(), config_.groups.end(), group);
    if (at == config_.groups.end()) {
        throw std::invalid_argument("NFLOG group " + std::to_string(group) +
                                    " is not recorded by this source");
    }
    receive(handler);
    std::array<char, 256> message{};
    nlmsghdr* nlh = nflog_nlmsg_put_header(message.data(), NFULNL_MSG_CONFIG, AF_UNSPEC, group);
    nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_UNBIND);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    while (::sendto(fd_, nlh, nlh->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
                    sizeof kernel) < 0) {
        if (errno != EINTR) {
            detail::throw_errno("cannot unbind NFLOG group " + std::to_string(group));
        }
    }
    receive(handler); // the batch the kernel flushed as it unbound the group
    const auto index = static_cast<std::size_t>(at - config_.groups.begin());
    config_.groups.erase(at);
    drops_before_last_.erase(drops_before_last_.begin() + static_cast<std::ptrdiff_t>(index));
}

void RecordRouter::route(std::uint16_t resource, RecordHandler& handler) {
    for (auto& [r, h] : routes_) {
        if (r == resource) {
            h = &handler;
            return;
        }
    }
    routes_.emplace_back(resource, &handler);
}

void RecordRouter::on_record(std::span<const std::byte> record, Timestamp receive_time) {
    on_record_of(RecordKind::nflog, record, receive_time);
}

void RecordRouter::on_record_of(RecordKind kind, std::span<const std::byte> record,
                                Timestamp receive_time) {
    if (record.size() >= 4) { // nfgenmsg: family, version, res_id (big-endian)
        const auto resource = static_cast<std::uint16_t>(
            (std::to_integer<unsigned>(record[2]) << 8U) | std::to_integer<unsigned>(record[3]));
        for (const auto& [r, h] : routes_) {
            if (r == resource) {
                h->on_record_of(kind, record, receive_time);
                return;
            }
        }
    }
    if (fallback_ != nullptr) {
        fallback_->on_record_of(kind, record, receive_time);
    } else {
        ++unrouted_;
    }
}

std::optional<std::uint64_t> NflogSource::socket_drops() const {
    return detail::socket_drops(fd_);
}

void NflogSource::dispatch(std::span<const std::byte> datagram, Timestamp time,
                           RecordHandler& handler) {
    if (!detail::dispatch(datagram, RecordKind::nflog, time, handler)) {
        ++counters_.damaged; // a netlink header claimed more bytes than the datagram held
    }
}

} // namespace nfcap
