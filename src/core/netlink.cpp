// Netlink message framing and the netfilter subsystem numbers nfcap reads.
#include <nfcap/netlink.hpp>

#include "byte_reader.hpp"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <string>

namespace nfcap {
namespace {

constexpr std::size_t header_size = 16; // struct nlmsghdr
constexpr auto nflog_packet =
    static_cast<std::uint16_t>((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET);
constexpr auto nfqueue_packet =
    static_cast<std::uint16_t>((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET);

} // namespace

std::uint32_t kernel_copy_range(RecordKind kind, std::uint32_t asked) {
    // nfnetlink_log.c: NFULNL_COPY_RANGE_MAX; nfnetlink_queue.c: NFQNL_MAX_COPY_RANGE.
    const std::uint32_t most = kind == RecordKind::nflog ? 0xffffU : 0xffffU - 4U;
    return asked == 0 || asked > most ? most : asked;
}

bool NetlinkWalker::next(RecordKind& kind, std::span<const std::byte>& record) {
    while (offset_ < data_.size()) {
        ByteReader r(data_.subspan(offset_));
        if (r.remaining() < header_size) {
            throw DecodeError(std::to_string(r.remaining()) +
                              (extent_ == DatagramExtent::cut
                                   ? " bytes of a netlink message header before the cut"
                                   : " stray bytes after the last netlink message"));
        }
        const std::uint32_t length = r.host32();
        const std::uint16_t type = r.host16();
        const bool packet = type == nflog_packet || type == nfqueue_packet;
        if (extent_ == DatagramExtent::cut && length >= header_size && length > r.remaining() + 6) {
            // The recording's cut falls in this message: nothing follows it.
            const std::size_t start = offset_;
            offset_ = data_.size();
            if (!packet) {
                return false;
            }
            kind = type == nflog_packet ? RecordKind::nflog : RecordKind::nfqueue;
            record = data_.subspan(start + header_size);
            original_length_ = length - static_cast<std::uint32_t>(header_size);
            return true;
        }
        if (length < header_size || length > r.remaining() + 6) {
            throw DecodeError("netlink message of length " + std::to_string(length) +
                              " at offset " + std::to_string(offset_) + " does not fit in the " +
                              std::to_string(data_.size()) + "-byte datagram");
        }
        const std::size_t start = offset_;
        // Messages are aligned to 4 bytes; the last one may end without padding.
        offset_ = std::min(data_.size(), offset_ + ((length + 3U) & ~std::size_t{3}));
        if (packet) {
            kind = type == nflog_packet ? RecordKind::nflog : RecordKind::nfqueue;
            original_length_ = 0;
            record = data_.subspan(start + header_size, length - header_size);
            return true;
        }
    }
    return false;
}

} // namespace nfcap
