// The NFLOG socket adapter: the only file of nfcap_io that knows NFULNL_* numbers.
#include <nfcap/netlink.hpp>
#include <nfcap/nflog_source.hpp>

#include "netlink_socket.hpp"
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
    socket_ = detail::NetlinkSocket::netfilter(config_.socket, config_.receive_buffer, warnings_);
    socket_->set_overrun_policy(config_.on_overrun);
    configure(); // on failure the socket closes, which releases every group bound so far
    socket_->size_batch(datagrams_per_batch, datagram_size);
    drops_before_last_.assign(config_.groups.size(), 0);
}

NflogSource::~NflogSource() = default;

int NflogSource::fd() const {
    return socket_->fd();
}

void NflogSource::configure() {
    // One config message per group: bind, copy mode, batching, sequence numbers. All are sent
    // before any acknowledgement is read; records that arrive meanwhile are kept in pending_.
    constexpr std::size_t slot = 256; // one config message is < 100 bytes
    std::vector<char> storage(slot * config_.groups.size());
    std::vector<nlmsghdr*> messages;
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
        nlmsghdr* nlh = nflog_nlmsg_put_header(storage.data() + i * slot, NFULNL_MSG_CONFIG,
                                               AF_UNSPEC, config_.groups[i]);
        nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
        nflog_attr_put_cfg_mode(nlh, copy_mode_value(config_.copy_mode),
                                kernel_copy_range(RecordKind::nflog, config_.copy_range));
        mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(config_.netlink_buffer));
        mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(config_.flush_timeout));
        mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(config_.queue_threshold));
        mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(flags));
        messages.push_back(nlh);
    }
    const std::vector<int> outcome = socket_->request(
        messages, std::chrono::milliseconds(ack_timeout_ms),
        [this](std::span<const std::byte> datagram) {
            pending_.emplace_back(datagram.begin(), datagram.end());
        },
        counters_.overruns);
    std::string silent; // the groups whose binding the kernel did not acknowledge
    for (std::size_t i = 0; i < outcome.size(); ++i) {
        if (outcome[i] == ETIMEDOUT) {
            silent += (silent.empty() ? "" : ", ") + std::to_string(config_.groups[i]);
        } else if (outcome[i] != 0) {
            const std::string what = "NFLOG group " + std::to_string(config_.groups[i]);
            if (outcome[i] == EOPNOTSUPP && config_.conntrack) {
                throw BindError("cannot bind " + what +
                                ": this kernel cannot attach conntrack state to NFLOG records "
                                "(--conntrack needs CONFIG_NETFILTER_NETLINK_GLUE_CT); run "
                                "without --conntrack");
            }
            throw BindError(
                detail::bind_failure(what, "nfnetlink_log", config_.groups[i], outcome[i]));
        }
    }
    if (!silent.empty()) {
        throw BindError("the kernel did not acknowledge binding NFLOG group " + silent +
                        " within " + std::to_string(ack_timeout_ms / 1000) + " s");
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
    for (;;) {
        // Once anything was dropped, the drop count is read before every receive, and receiving
        // goes on until the socket is found empty: see loss.hpp (NflogDrops).
        const bool lossy = counters_.overruns != 0;
        const std::optional<std::uint64_t> drops_before = lossy ? socket_->drops() : std::nullopt;
        const auto wanted = static_cast<unsigned>(
            std::min(datagrams_per_batch, max_datagrams - std::min(max_datagrams, datagrams)));
        if (wanted == 0) {
            return datagrams;
        }
        const int n = socket_->receive(wanted);
        if (n < 0) {
            if (n == -ENOBUFS) {
                ++counters_.overruns; // the sequence-number gaps say how many, up to a point
                if (unsampled_delivery_) {
                    // Read after the last delivery: what it counts may include drops after that
                    // delivery, which are then not called certain (a lower bound stays one).
                    drops_at_last_delivery_ = socket_->drops().value_or(0);
                    unsampled_delivery_ = false;
                }
                if (config_.on_overrun == OverrunPolicy::raise) {
                    throw OverrunError(
                        "NFLOG: the socket buffer overflowed (ENOBUFS) and the kernel dropped "
                        "records; sequence gaps will show how many");
                }
                continue;
            }
            if (n == -EAGAIN) {
                if (drops_before) {
                    drops_at_empty_ = *drops_before;
                }
                return datagrams;
            }
            detail::throw_errno("cannot receive from the NFLOG socket", -n);
        }
        const Timestamp time = detail::wall_clock();
        for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
            if (socket_->truncated(i)) {
                ++counters_.damaged;
            }
            const std::span<const std::byte> datagram = socket_->datagram(i);
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
                drops_at_last_delivery_ = socket_->drops().value_or(0);
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
    const std::optional<std::uint64_t> total = socket_->drops();
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
        (void)socket_->send(nlh); // a refusal: the group stays bound until the socket closes
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
    if (const int error = socket_->send(nlh); error != 0) {
        detail::throw_errno("cannot unbind NFLOG group " + std::to_string(group), error);
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

RecordHandler* RecordRouter::handler_for(std::span<const std::byte> record) {
    if (record.size() >= 4) { // nfgenmsg: family, version, res_id (big-endian)
        const auto resource = static_cast<std::uint16_t>(
            (std::to_integer<unsigned>(record[2]) << 8U) | std::to_integer<unsigned>(record[3]));
        for (const auto& [r, h] : routes_) {
            if (r == resource) {
                return h;
            }
        }
    }
    if (fallback_ == nullptr) {
        ++unrouted_;
    }
    return fallback_;
}

void RecordRouter::on_record_of(RecordKind kind, std::span<const std::byte> record,
                                Timestamp receive_time) {
    if (RecordHandler* h = handler_for(record)) {
        h->on_record_of(kind, record, receive_time);
    }
}

void RecordRouter::on_packet(RecordKind kind, const Packet& packet,
                             std::span<const std::byte> record, Timestamp receive_time) {
    if (RecordHandler* h = handler_for(record)) {
        h->on_packet(kind, packet, record, receive_time);
    }
}

std::optional<std::uint64_t> NflogSource::socket_drops() const {
    return socket_->drops();
}

std::optional<BufferFill> NflogSource::socket_fill() const {
    return socket_->fill();
}

void NflogSource::dispatch(std::span<const std::byte> datagram, Timestamp time,
                           RecordHandler& handler) {
    if (!detail::dispatch(datagram, RecordKind::nflog, time, handler)) {
        ++counters_.damaged; // a netlink header claimed more bytes than the datagram held
    }
}

} // namespace nfcap
