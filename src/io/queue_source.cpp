// The NFQUEUE socket adapter: the only file of nfcap_io that knows NFQNL_* numbers.
#include <nfcap/loss.hpp>
#include <nfcap/netlink.hpp>
#include <nfcap/nfqueue_decode.hpp>
#include <nfcap/queue_source.hpp>

#include "../core/held_packets.hpp"
#include "netlink_socket.hpp"
#include "owner.hpp"
#include "system_error.hpp"
#include "verdict_message.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

namespace nfcap {
namespace {

constexpr std::size_t datagrams_per_batch = 64;
// Verdict messages are sent in datagrams of at most this many bytes (a netlink socket refuses
// one larger than its send buffer, 208 KiB by default).
constexpr std::size_t send_limit = 128U << 10U;
// The kernel answers a configuration request at once; an answer lost to a full socket buffer
// must not leave the caller waiting.
constexpr int ack_timeout_ms = 1000;

std::uint8_t copy_mode_value(CopyMode mode) {
    switch (mode) {
    case CopyMode::none:
        return NFQNL_COPY_NONE;
    case CopyMode::meta:
        return NFQNL_COPY_META;
    case CopyMode::packet:
        break;
    }
    return NFQNL_COPY_PACKET;
}

std::uint32_t kernel_verdict(const Verdict& v) {
    switch (v.kind) {
    case VerdictKind::accept:
        return NF_ACCEPT;
    case VerdictKind::drop:
        return NF_DROP;
    case VerdictKind::queue:
        return NF_QUEUE | (static_cast<std::uint32_t>(v.target_queue) << 16U);
    case VerdictKind::repeat:
        return NF_REPEAT;
    }
    return NF_ACCEPT;
}

// Calls `each(record, datagram)` for every NFQUEUE packet message of `datagrams`, in order,
// with the index of the datagram holding it; a datagram whose netlink framing is damaged is
// counted in `damaged`, and the rest of it skipped.
template <class Each>
void for_each_packet(std::span<const std::span<const std::byte>> datagrams, std::uint64_t& damaged,
                     Each each) {
    for (std::size_t i = 0; i < datagrams.size(); ++i) {
        NetlinkWalker walker(datagrams[i]);
        RecordKind kind{};
        std::span<const std::byte> record;
        try {
            while (walker.next(kind, record)) {
                if (kind == RecordKind::nfqueue) {
                    each(record, i);
                }
            }
        } catch (const DecodeError&) {
            ++damaged;
        }
    }
}

// Counts and throws the refusal of a verdict for packet `id`.
[[noreturn]] void refuse(HeldCounters& counters, std::uint16_t queue, std::uint32_t id,
                         detail::HeldPackets::Refusal why) {
    ++counters.refused;
    const std::string packet =
        "nfqueue:" + std::to_string(queue) + ": packet " + std::to_string(id);
    switch (why) {
    case detail::HeldPackets::Refusal::already_decided:
        throw VerdictError(packet + " was already decided");
    case detail::HeldPackets::Refusal::payload_too_long:
        throw VerdictError(packet + ": a new payload is at most " +
                           std::to_string(max_rewrite_length) +
                           " bytes long (what one netlink attribute carries)");
    case detail::HeldPackets::Refusal::not_held:
    case detail::HeldPackets::Refusal::none:
        break;
    }
    throw VerdictError(packet + " is not held here (never received by this queue, or already "
                                "decided)");
}

} // namespace

namespace detail {

void append_verdict_message(std::vector<std::byte>& out, std::uint16_t queue, std::uint32_t id,
                            const Verdict& verdict, std::optional<std::uint32_t> mark, bool batch,
                            std::uint32_t sequence, std::span<const std::byte> payload) {
    // Built in place at the end of `out`: header, nfgenmsg, verdict, mark, payload.
    const std::size_t at = out.size();
    const std::size_t room = 128 + ((payload.size() + 3U) & ~std::size_t{3});
    out.resize(at + room);
    nlmsghdr* nlh =
        nfq_nlmsg_put(reinterpret_cast<char*>(out.data() + at), // netlink ABI, aligned by 4
                      batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue);
    nlh->nlmsg_seq = sequence;
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), static_cast<int>(kernel_verdict(verdict)));
    if (mark) {
        nfq_nlmsg_verdict_put_mark(nlh, *mark);
    }
    if (!payload.empty() && !batch) {
        nfq_nlmsg_verdict_put_pkt(nlh, payload.data(), static_cast<std::uint32_t>(payload.size()));
    }
    out.resize(at + nlh->nlmsg_len);
}

} // namespace detail

QueueSource::QueueSource(QueueConfig config, Verdict policy, VerdictFunction decide)
    : config_(config), policy_(policy), decide_(std::move(decide)),
      verdict_text_(decide_ ? std::string() : describe(policy)) {
    std::vector<std::uint16_t> queues{config_.queue};
    for (const std::uint16_t q : config_.more_queues) {
        if (std::find(queues.begin(), queues.end(), q) != queues.end()) {
            throw std::invalid_argument("NFQUEUE queue " + std::to_string(q) + " is named twice");
        }
        queues.push_back(q);
    }
    socket_ = detail::NetlinkSocket::netfilter(config_.socket, config_.receive_buffer, warnings_);
    socket_->set_overrun_policy(config_.on_overrun);
    for (const std::uint16_t q : queues) {
        configure(q); // on failure the socket closes, which unbinds every queue bound so far
        bound_.push_back(Bound{q, std::make_unique<detail::HeldPackets>(), 0, std::nullopt});
    }
    std::size_t datagram_size =
        std::max<std::size_t>(kernel_copy_range(RecordKind::nfqueue, config_.copy_range), 256) +
        4096;
    datagram_size = (datagram_size + 4095U) & ~std::size_t{4095};
    socket_->size_batch(datagrams_per_batch, datagram_size);
    received_.resize(datagrams_per_batch);
    verdict_buffer_.reserve(datagrams_per_batch * 64);
}

QueueSource::~QueueSource() {
    try {
        close_socket();
    } catch (const std::exception&) { // a verdict that could not be sent: the kernel drops
    }                                 // that packet with the queue
}

int QueueSource::fd() const {
    return socket_->fd();
}

void QueueSource::close_socket() {
    const std::lock_guard lock(held_mutex_);
    if (!socket_->is_open()) {
        return;
    }
    // Unbinding drops every packet still queued (the kernel flushes the queue with NF_DROP):
    // held packets get the fallback first.
    for (Bound& b : bound_) {
        held_counters_.fallback_close += b.held->decide_all(config_.fallback, DecidedBy::close);
    }
    flush_held(decide_buffer_, nullptr, {});
    socket_->close(); // the kernel unbinds the queues with the socket
}

void QueueSource::unbind(std::uint16_t queue, RecordHandler& handler) {
    receive(handler); // what was delivered before gets its verdict
    {
        const std::lock_guard lock(held_mutex_);
        Bound* b = bound(queue);
        if (b == nullptr) {
            throw std::invalid_argument("NFQUEUE queue " + std::to_string(queue) +
                                        " is not bound by this source");
        }
        if (socket_->is_open()) {
            held_counters_.fallback_close +=
                b->held->decide_all(config_.fallback, DecidedBy::close);
            flush_held(decide_buffer_, nullptr, {});
            std::array<char, 256> message{};
            nlmsghdr* nlh = nfq_nlmsg_put(message.data(), NFQNL_MSG_CONFIG, queue);
            nlh->nlmsg_seq = socket_->next_sequence();
            nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
            if (const int error = socket_->send(nlh); error != 0) {
                detail::throw_errno("cannot unbind NFQUEUE queue " + std::to_string(queue), error);
            }
        }
        bound_.erase(bound_.begin() + (b - bound_.data()));
    }
    deliver_decisions(handler);
}

void QueueSource::configure(std::uint16_t queue) {
    std::array<char, 512> message{};
    const std::string what = "NFQUEUE queue " + std::to_string(queue);
    // Packets queued before the configuration is acknowledged are kept for receive().
    const auto request = [&](nlmsghdr* nlh) {
        nlmsghdr* const one[] = {nlh};
        return socket_
            ->request(
                one, std::chrono::milliseconds(ack_timeout_ms),
                [this](std::span<const std::byte> datagram) {
                    pending_.emplace_back(datagram.begin(), datagram.end());
                },
                counters_.overruns)
            .front();
    };

    nlmsghdr* nlh = nfq_nlmsg_put(message.data(), NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    if (const int error = request(nlh); error != 0) {
        if (error == ETIMEDOUT) {
            throw BindError("the kernel did not acknowledge binding " + what + " within " +
                            std::to_string(ack_timeout_ms / 1000) + " s");
        }
        throw BindError(detail::bind_failure(what, "nfnetlink_queue", queue, error));
    }

    nlh = nfq_nlmsg_put(message.data(), NFQNL_MSG_CONFIG, queue);
    const std::uint8_t mode = copy_mode_value(config_.copy_mode);
    // The kernel keeps no range with metadata only.
    const std::uint32_t range = config_.copy_mode == CopyMode::packet
                                    ? kernel_copy_range(RecordKind::nfqueue, config_.copy_range)
                                    : 0;
    nfq_nlmsg_cfg_put_params(nlh, mode, static_cast<int>(range));
    const std::uint32_t countable =
        countable_queue_length(socket_->receive_buffer_size(), datagrams_per_batch);
    countable_length_ = countable;
    max_length_ = config_.max_length.value_or(std::max(countable, max_length_));
    loss_countable_ = !config_.fail_open || max_length_ >= countable;
    if (!loss_countable_) {
        warnings_.push_back(
            what + ": with fail-open and a queue length of " + std::to_string(max_length_) +
            " the queue can fill before the socket buffer does, and packets that find it full "
            "pass uncounted, so loss is reported as a lower bound (a length of at least " +
            std::to_string(countable) +
            ", the default, or --no-fail-open keeps every loss "
            "countable)");
    }
    nfq_nlmsg_cfg_put_qmaxlen(nlh, max_length_);
    std::uint32_t flags = 0;
    flags |= config_.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0U;
    flags |= config_.gso ? NFQA_CFG_F_GSO : 0U;
    flags |= config_.uid_gid ? NFQA_CFG_F_UID_GID : 0U;
    flags |= config_.secctx ? NFQA_CFG_F_SECCTX : 0U;
    flags |= config_.conntrack ? NFQA_CFG_F_CONNTRACK : 0U;
    const std::uint32_t mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID |
                               NFQA_CFG_F_SECCTX | NFQA_CFG_F_CONNTRACK;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
    if (const int error = request(nlh); error != 0) {
        std::string message_text = "cannot configure " + what + ": " + std::strerror(error);
        if (error == EOPNOTSUPP && config_.conntrack) {
            message_text += " (--conntrack needs a kernel with CONFIG_NETFILTER_NETLINK_GLUE_CT)";
        } else if (error == EOPNOTSUPP && config_.secctx) {
            message_text += " (--secctx needs a kernel with CONFIG_NETWORK_SECMARK)";
        }
        throw BindError(message_text);
    }

    // Confirm what the kernel took: an older kernel may clamp the copy range.
    if (const auto counters = kernel_counters(queue)) {
        if (counters->copy_mode != mode || counters->copy_range != range) {
            warnings_.push_back(what + ": the kernel set copy mode " +
                                std::to_string(counters->copy_mode) + " range " +
                                std::to_string(counters->copy_range) + " (asked for mode " +
                                std::to_string(mode) + " range " + std::to_string(range) + ")");
        }
    }
}

void QueueSource::keep_countable(std::size_t held) {
    if (!config_.fail_open || !loss_countable()) {
        return;
    }
    const auto needed = std::min<std::uint64_t>(std::uint64_t{countable_length_} + held,
                                                std::numeric_limits<std::uint32_t>::max());
    if (needed <= max_length_) {
        return;
    }
    if (config_.max_length) { // the program's length stays; its loss count becomes a bound
        loss_countable_ = false;
        return;
    }
    // Room for twice the holds, so that growing holds send this rarely. Without an
    // acknowledgement: a queue that kept its length is no worse off than before.
    max_length_ = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(std::uint64_t{countable_length_} + 2 * std::uint64_t{held},
                                std::numeric_limits<std::uint32_t>::max()));
    set_max_length(max_length_);
}

void QueueSource::set_max_length(std::uint32_t length) {
    for (const Bound& b : bound_) {
        std::array<char, 256> message{};
        nlmsghdr* nlh = nfq_nlmsg_put(message.data(), NFQNL_MSG_CONFIG, b.queue);
        nlh->nlmsg_seq = socket_->next_sequence();
        nfq_nlmsg_cfg_put_qmaxlen(nlh, length);
        (void)socket_->send(nlh); // best effort: the queue then keeps its length while draining
    }
}

QueueSource::Bound* QueueSource::bound(std::uint16_t queue) {
    return const_cast<Bound*>(static_cast<const QueueSource*>(this)->bound(queue));
}

const QueueSource::Bound* QueueSource::bound(std::uint16_t queue) const {
    for (const Bound& b : bound_) {
        if (b.queue == queue) {
            return &b;
        }
    }
    return nullptr;
}

QueueSource::Bound* QueueSource::bound_for(std::span<const std::byte> record) {
    if (bound_.empty()) {
        return nullptr; // every queue unbound: the kernel dropped what was still queued
    }
    if (bound_.size() == 1 || record.size() < 4) {
        return &bound_.front(); // one queue: every record is its (the kernel sends no other)
    }
    // nfgenmsg: family, version, res_id (big-endian): the queue.
    return bound(static_cast<std::uint16_t>((std::to_integer<unsigned>(record[2]) << 8U) |
                                            std::to_integer<unsigned>(record[3])));
}

std::vector<std::uint16_t> QueueSource::queues() const {
    const std::lock_guard lock(held_mutex_);
    std::vector<std::uint16_t> all;
    for (const Bound& b : bound_) {
        all.push_back(b.queue);
    }
    return all;
}

std::uint32_t QueueSource::last_id() const {
    return last_id(config_.queue);
}

std::uint32_t QueueSource::last_id(std::uint16_t queue) const {
    const Bound* b = bound(queue);
    return b != nullptr ? b->last_id : 0;
}

std::size_t QueueSource::receive(RecordHandler& handler) {
    return receive(handler, std::numeric_limits<std::size_t>::max());
}

void QueueSource::feed(std::span<const std::byte> datagram, RecordHandler& handler) {
    const Timestamp time = detail::wall_clock();
    const std::span<const std::byte> one[] = {datagram};
    if (decide_ && handler.wants_decisions()) {
        log_decisions_.store(true, std::memory_order_relaxed);
    }
    send_verdicts(one, time, handler);
    deliver_decisions(handler);
    hand_on(one, time, handler);
    deliver_decisions(handler);
    ++counters_.datagrams;
    if (decide_error_) {
        std::rethrow_exception(std::exchange(decide_error_, nullptr));
    }
}

std::size_t QueueSource::receive(RecordHandler& handler, std::size_t max_datagrams) {
    return receive_some(handler, max_datagrams, std::chrono::milliseconds(0));
}

std::size_t QueueSource::receive_waiting(RecordHandler& handler, std::chrono::milliseconds wait) {
    if (decide_) {
        if (const int deadline = next_deadline_ms(); deadline >= 0) {
            wait = std::min(wait, std::chrono::milliseconds(deadline));
        }
    }
    return receive_some(handler, std::numeric_limits<std::size_t>::max(), wait);
}

std::size_t QueueSource::receive_some(RecordHandler& handler, std::size_t max_datagrams,
                                      std::chrono::milliseconds wait) {
    if (decide_ && handler.wants_decisions()) {
        log_decisions_.store(true, std::memory_order_relaxed);
    }
    if (!pending_.empty()) { // queued while the queue was being configured
        auto early = std::exchange(pending_, {});
        for (const auto& datagram : early) {
            feed(datagram, handler);
        }
    }
    if (decide_ && socket_->is_open()) { // deadlines pass without traffic too
        const std::lock_guard lock(held_mutex_);
        if (held_now() > 0) {
            verdict_buffer_.clear();
            flush_held(verdict_buffer_, &handler, detail::wall_clock());
        }
    }
    deliver_decisions(handler); // made since the last call, on any thread
    std::size_t total = 0;
    for (;;) {
        const auto wanted = std::min(datagrams_per_batch, max_datagrams - total);
        if (wanted == 0) {
            return total;
        }
        // Only the first receive waits; the ones after it take what is there.
        const int n = socket_->receive(wanted, std::exchange(wait, std::chrono::milliseconds(0)));
        if (n < 0) {
            if (n == -ENOBUFS) {
                ++counters_.overruns; // packet-id gaps say exactly how many
                if (config_.on_overrun == OverrunPolicy::raise) {
                    throw OverrunError(queue_names() +
                                       ": the socket buffer overflowed (ENOBUFS) and the kernel "
                                       "could not deliver packets (fail-open passed them); "
                                       "packet-id gaps will show how many");
                }
                continue;
            }
            if (n == -EAGAIN) {
                return total;
            }
            detail::throw_errno("cannot receive from " + queue_names(), -n);
        }
        const auto count = static_cast<std::size_t>(n);
        for (std::size_t i = 0; i < count; ++i) {
            if (socket_->truncated(i)) {
                ++counters_.damaged;
            }
            received_[i] = socket_->datagram(i);
        }
        const Timestamp time = detail::wall_clock();
        send_verdicts({received_.data(), count}, time, handler);
        deliver_decisions(handler); // the ones made at once come before their records
        hand_on({received_.data(), count}, time, handler);
        deliver_decisions(handler);
        counters_.datagrams += count;
        total += count;
        if (decide_error_) {
            std::rethrow_exception(std::exchange(decide_error_, nullptr));
        }
        if (count < wanted) {
            return total;
        }
    }
}

void QueueSource::send_verdicts(std::span<const std::span<const std::byte>> datagrams,
                                Timestamp time, RecordHandler& handler) {
    verdict_buffer_.clear();
    if (decide_) {
        ask(datagrams);
        const std::lock_guard lock(held_mutex_);
        for (auto& [queue, id, decision] : answers_) {
            if (queue->held->decide(id, std::move(decision), DecidedBy::at_once) !=
                detail::HeldPackets::Refusal::none) {
                // A payload the kernel cannot take (or a decision decide() already gave on
                // another thread, which stands): the fallback, as for a decide function that
                // throws.
                if (queue->held->decide(id, config_.fallback, DecidedBy::error) ==
                    detail::HeldPackets::Refusal::none) {
                    ++held_counters_.fallback_error;
                    if (!decide_error_) {
                        decide_error_ = std::make_exception_ptr(
                            VerdictError("nfqueue:" + std::to_string(queue->queue) + ": packet " +
                                         std::to_string(id) +
                                         ": the decision's new payload is empty or longer than " +
                                         std::to_string(max_rewrite_length) +
                                         " bytes; the packet got the fallback verdict"));
                    }
                }
            }
        }
        flush_held(verdict_buffer_, &handler, time);
        return;
    }
    const bool batch = policy_.batchable();
    for (Bound& b : bound_) {
        b.batch_highest.reset();
    }
    for_each_packet(datagrams, counters_.damaged, [&](std::span<const std::byte> record, auto) {
        ++packets_;
        Bound* queue = bound_for(record);
        if (queue == nullptr) {
            return; // a queue unbound since: the kernel dropped its packets as it unbound it
        }
        try {
            if (batch) {
                const std::uint32_t id = nfqueue_packet_id(record);
                queue->batch_highest = std::max(queue->batch_highest.value_or(0), id);
                queue->last_id = id;
                return;
            }
            // Only the id and mark are read here: the handler decodes the record, once.
            const PacketIdAndMark packet = nfqueue_packet_id_and_mark(record);
            queue->last_id = packet.id;
            std::optional<std::uint32_t> mark;
            if (policy_.mark) {
                mark = policy_.new_mark(packet.mark.value_or(0));
            }
            detail::append_verdict_message(verdict_buffer_, queue->queue, packet.id, policy_, mark,
                                           false, socket_->next_sequence());
        } catch (const DecodeError&) {
            ++counters_.damaged; // no id, no verdict: fail-open or the queue's policy decides
        }
    });
    for (const Bound& b : bound_) {
        if (b.batch_highest) {
            detail::append_verdict_message(verdict_buffer_, b.queue, *b.batch_highest, policy_,
                                           policy_.mark, true, socket_->next_sequence());
        }
    }
    send_buffer(verdict_buffer_, &handler, time);
}

void QueueSource::send_buffer(std::vector<std::byte>& buffer, RecordHandler* handler,
                              Timestamp time) {
    if (buffer.empty() || !socket_->is_open()) {
        buffer.clear();
        return;
    }
    if (const int error = socket_->send(buffer); error != 0) {
        buffer.clear();
        detail::throw_errno("cannot send verdicts to " + queue_names(), error);
    }
    if (handler != nullptr) {
        handler->on_sent(buffer, time);
    }
    buffer.clear();
}

void QueueSource::ask(std::span<const std::span<const std::byte>> datagrams) {
    // Decode every packet of the batch once and hold it before any decide function runs, so
    // that one may hand a packet to another thread which decides it at once. The decoded
    // packets are handed on to the handler afterwards (hand_on), not decoded again.
    asked_.clear();
    asked_records_.clear();
    answers_.clear();
    for_each_packet(datagrams, counters_.damaged,
                    [&](std::span<const std::byte> record, std::size_t datagram) {
                        ++packets_;
                        AskedRecord asked{record, datagram, -1, false, bound_for(record)};
                        try {
                            asked_.push_back(decode_nfqueue(record));
                            if (asked.queue != nullptr) {
                                asked.queue->last_id = *asked_.back().packet_id;
                            }
                            asked.packet = static_cast<std::ptrdiff_t>(asked_.size() - 1);
                        } catch (const DecodeError&) {
                            ++counters_.damaged; // no id, no verdict: fail-open or the
                        }                        // queue's policy decides
                        asked_records_.push_back(asked);
                    });
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = config_.hold_timeout.count() > 0 ? now + config_.hold_timeout
                                                           : detail::HeldPackets::no_deadline;
    {
        const std::lock_guard lock(held_mutex_);
        for (AskedRecord& asked : asked_records_) {
            if (asked.packet < 0 || asked.queue == nullptr) {
                continue; // undecodable, or of a queue unbound since (the kernel dropped it)
            }
            const Packet& packet = asked_[static_cast<std::size_t>(asked.packet)];
            if (asked.queue->held->hold(*packet.packet_id, packet.mark, deadline)) {
                asked.held = true;
            } else { // an id out of the kernel's order: never held, so answered at once
                ++counters_.damaged;
                detail::append_verdict_message(
                    verdict_buffer_, asked.queue->queue, *packet.packet_id, config_.fallback,
                    config_.fallback.mark, false, socket_->next_sequence());
            }
        }
        keep_countable(held_now());
    }
    for (std::size_t i = 0; i < asked_records_.size(); ++i) {
        if (!asked_records_[i].held) {
            continue;
        }
        const Packet& packet = asked_[static_cast<std::size_t>(asked_records_[i].packet)];
        try {
            if (auto answer = decide_(packet)) {
                answers_.push_back(
                    Answer{asked_records_[i].queue, *packet.packet_id, std::move(*answer)});
            }
        } catch (...) {
            // This packet and the ones not asked yet get the fallback; the error goes to the
            // caller of receive() once the batch is handed on.
            decide_error_ = std::current_exception();
            const std::lock_guard lock(held_mutex_);
            for (std::size_t j = i; j < asked_records_.size(); ++j) {
                if (asked_records_[j].held &&
                    asked_records_[j].queue->held->decide(
                        *asked_[static_cast<std::size_t>(asked_records_[j].packet)].packet_id,
                        config_.fallback, DecidedBy::error) == detail::HeldPackets::Refusal::none) {
                    ++held_counters_.fallback_error;
                }
            }
            break;
        }
    }
}

void QueueSource::hand_on(std::span<const std::span<const std::byte>> datagrams, Timestamp time,
                          RecordHandler& handler) {
    if (!decide_) {
        for (const auto datagram : datagrams) {
            detail::dispatch(datagram, RecordKind::nfqueue, time, handler); // damage: counted
        }                                                                   // in send_verdicts
        return;
    }
    const bool records = handler.wants_records();
    std::size_t next = 0;
    for (std::size_t i = 0; i < datagrams.size(); ++i) {
        handler.on_datagram(datagrams[i], time);
        for (; next < asked_records_.size() && asked_records_[next].datagram == i; ++next) {
            const AskedRecord& asked = asked_records_[next];
            if (!records) {
                continue;
            }
            if (asked.packet >= 0) {
                handler.on_packet(RecordKind::nfqueue,
                                  asked_[static_cast<std::size_t>(asked.packet)], asked.record,
                                  time);
            } else { // undecodable: the handler counts it as it sees fit
                handler.on_record_of(RecordKind::nfqueue, asked.record, time);
            }
        }
    }
}

void QueueSource::flush_held(std::vector<std::byte>& buffer, RecordHandler* handler,
                             Timestamp time) {
    const auto now_steady = std::chrono::steady_clock::now();
    bool unsent = false;
    for (Bound& b : bound_) {
        held_counters_.fallback_deadline += b.held->expire(now_steady, config_.fallback);
        unsent = unsent || b.held->unsent() != 0;
    }
    if (!unsent) {
        send_buffer(buffer, handler, time);
        return;
    }
    const bool logging = log_decisions_.load(std::memory_order_relaxed);
    const Timestamp now = logging ? detail::wall_clock() : Timestamp{};
    for (Bound& b : bound_) {
        if (b.held->unsent() == 0) {
            continue;
        }
        std::function<void(const PacketDecision&)> log;
        if (logging) {
            log = [&](const PacketDecision& d) { // by reference: stored without allocating
                LoggedDecision entry{d, {d.payload.begin(), d.payload.end()}, now};
                entry.decision.queue = b.queue;
                entry.decision.payload = {};
                decision_log_.push_back(std::move(entry));
            };
        }
        b.held->flush(
            [&](const detail::VerdictMessage& m) {
                const std::size_t payload = m.payload != nullptr ? m.payload->size() : 0;
                if (!buffer.empty() && buffer.size() + payload + 128 > send_limit) {
                    send_buffer(buffer, handler, time);
                }
                detail::append_verdict_message(
                    buffer, b.queue, m.id, m.verdict, m.mark, m.batch, socket_->next_sequence(),
                    m.payload != nullptr ? std::span<const std::byte>(*m.payload)
                                         : std::span<const std::byte>());
            },
            log);
    }
    send_buffer(buffer, handler, time);
}

void QueueSource::decide(std::uint32_t id, Decision decision) {
    DecisionFor one{id, std::move(decision), std::nullopt};
    decide(std::span<DecisionFor>(&one, 1));
}

void QueueSource::decide(std::uint16_t queue, std::uint32_t id, Decision decision) {
    DecisionFor one{id, std::move(decision), queue};
    decide(std::span<DecisionFor>(&one, 1));
}

void QueueSource::decide(std::span<const std::uint32_t> ids, const Decision& decision) {
    std::vector<DecisionFor> each;
    each.reserve(ids.size());
    for (const std::uint32_t id : ids) {
        each.push_back({id, decision, std::nullopt});
    }
    decide(std::span<DecisionFor>(each));
}

void QueueSource::decide(std::span<DecisionFor> decisions) {
    using Refusal = detail::HeldPackets::Refusal;
    const std::lock_guard lock(held_mutex_);
    if (!socket_->is_open()) {
        ++held_counters_.refused;
        throw VerdictError(queue_names() +
                           ": the queue was unbound; its held packets got the fallback");
    }
    // All or nothing: check every decision first (a repeated id is refused as already decided).
    std::vector<Bound*> queues(decisions.size());
    for (std::size_t i = 0; i < decisions.size(); ++i) {
        const std::uint32_t id = decisions[i].id;
        Bound* b = nullptr;
        if (decisions[i].queue) {
            b = bound(*decisions[i].queue);
            if (b == nullptr) {
                ++held_counters_.refused;
                throw VerdictError("nfqueue:" + std::to_string(*decisions[i].queue) + ": packet " +
                                   std::to_string(id) +
                                   ": that queue is not bound here (any more)");
            }
        } else if (bound_.size() == 1) {
            b = &bound_.front();
        } else {
            ++held_counters_.refused;
            throw VerdictError(queue_names() + ": packet " + std::to_string(id) +
                               (bound_.empty()
                                    ? ": no queue is bound any more"
                                    : ": this source binds several queues; say which (DecisionFor::"
                                      "queue, or decide(queue, id, decision))"));
        }
        queues[i] = b;
        const auto& payload = decisions[i].decision.payload;
        if (payload && payload->empty()) {
            ++held_counters_.refused;
            throw VerdictError("nfqueue:" + std::to_string(b->queue) + ": packet " +
                               std::to_string(id) + ": a new payload cannot be empty");
        }
        if (payload && payload->size() > max_rewrite_length) {
            refuse(held_counters_, b->queue, id, Refusal::payload_too_long);
        }
        if (!b->held->is_held(id)) {
            refuse(held_counters_, b->queue, id,
                   b->held->is_decided(id) ? Refusal::already_decided : Refusal::not_held);
        }
    }
    // A packet named twice is refused. Decisions usually come in id order: then no sort.
    bool ascending = true;
    for (std::size_t i = 1; i < decisions.size() && ascending; ++i) {
        ascending = queues[i - 1]->queue == queues[i]->queue &&
                    decisions[i].id - decisions[0].id > decisions[i - 1].id - decisions[0].id;
    }
    if (!ascending) {
        std::vector<std::pair<std::uint16_t, std::uint32_t>> ids;
        ids.reserve(decisions.size());
        for (std::size_t i = 0; i < decisions.size(); ++i) {
            ids.emplace_back(queues[i]->queue, decisions[i].id);
        }
        std::sort(ids.begin(), ids.end());
        if (const auto twice = std::adjacent_find(ids.begin(), ids.end()); twice != ids.end()) {
            refuse(held_counters_, twice->first, twice->second, Refusal::already_decided);
        }
    }
    for (std::size_t i = 0; i < decisions.size(); ++i) {
        (void)queues[i]->held->decide(decisions[i].id, std::move(decisions[i].decision));
        ++held_counters_.decided_later;
    }
    flush_held(decide_buffer_, nullptr, {});
}

void QueueSource::deliver_decisions(RecordHandler& handler) {
    if (!log_decisions_.load(std::memory_order_relaxed)) {
        return;
    }
    {
        const std::lock_guard lock(held_mutex_);
        delivering_.swap(decision_log_);
    }
    for (LoggedDecision& logged : delivering_) {
        logged.decision.payload = logged.payload;
        handler.on_decision(logged.decision, logged.time);
    }
    delivering_.clear();
}

std::size_t QueueSource::held_now() const {
    std::size_t n = 0;
    for (const Bound& b : bound_) {
        n += b.held->held();
    }
    return n;
}

std::string QueueSource::queue_names() const {
    std::string names = "nfqueue:";
    for (std::size_t i = 0; i < bound_.size(); ++i) {
        if (i != 0) {
            names += ',';
        }
        names += std::to_string(bound_[i].queue);
    }
    return bound_.empty() ? names + std::to_string(config_.queue) : names;
}

std::size_t QueueSource::held() const {
    const std::lock_guard lock(held_mutex_);
    return held_now();
}

HeldCounters QueueSource::held_counters() const {
    const std::lock_guard lock(held_mutex_);
    HeldCounters c = held_counters_;
    c.held = held_now();
    return c;
}

int QueueSource::next_deadline_ms() const {
    const std::lock_guard lock(held_mutex_);
    std::optional<detail::HeldPackets::Clock::time_point> next;
    for (const Bound& b : bound_) {
        if (const auto d = b.held->next_deadline(); d && (!next || *d < *next)) {
            next = d;
        }
    }
    if (!next) {
        return -1;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(*next - std::chrono::steady_clock::now())
            .count();
    return static_cast<int>(std::clamp<std::int64_t>(left, 0, 1 << 30));
}

void QueueSource::unbind() {
    close_socket();
}

void QueueSource::unbind(RecordHandler& handler) {
    close_socket();
    deliver_decisions(handler);
}

void QueueSource::drain(RecordHandler& handler, int timeout_ms) {
    const bool passing_is_accepting =
        policy_.kind == VerdictKind::accept && !policy_.mark && !decide_;
    if (config_.fail_open && passing_is_accepting) {
        set_max_length(0); // from now on a new packet finds the queue full and passes
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        receive(handler);
        std::uint64_t waiting = 0;
        bool listed = false;
        for (const std::uint16_t q : queues()) {
            if (const auto counters = kernel_counters(q)) {
                waiting += counters->waiting;
                listed = true;
            }
        }
        if (!listed || waiting <= held() || std::chrono::steady_clock::now() >= deadline) {
            return;
        }
        pollfd p{socket_->fd(), POLLIN, 0};
        ::poll(&p, 1, 20);
    }
}

std::optional<std::uint64_t> QueueSource::socket_drops() const {
    return socket_->drops();
}

std::optional<QueueKernelCounters> QueueSource::kernel_counters() const {
    return kernel_counters(config_.queue);
}

std::optional<QueueKernelCounters> QueueSource::kernel_counters(std::uint16_t wanted) const {
    // queue_number peer_portid queue_total copy_mode copy_range queue_dropped
    // queue_user_dropped id_sequence 1
    std::ifstream in("/proc/net/netfilter/nfnetlink_queue");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        unsigned queue = 0;
        std::uint32_t portid = 0;
        QueueKernelCounters c;
        if (fields >> queue >> portid >> c.waiting >> c.copy_mode >> c.copy_range >> c.dropped >>
                c.user_dropped >> c.id_sequence &&
            queue == wanted) {
            return c;
        }
    }
    return std::nullopt;
}

} // namespace nfcap
