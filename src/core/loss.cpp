#include <nfcap/loss.hpp>

#include <algorithm>
#include <limits>

namespace nfcap {

UnseenLoss nflog_unseen_loss(std::uint64_t gap_records, std::optional<NflogDrops> drops,
                             std::uint64_t overruns) {
    if (!drops) {
        // Only ENOBUFS to go by: each one cost at least one datagram, and nothing says whether
        // the gaps hold them all.
        if (overruns == 0) {
            return {};
        }
        return {overruns > gap_records ? overruns - gap_records : 0, LossCertainty::at_least};
    }
    if (drops->total <= drops->before_every_last_record) {
        return {};
    }
    const std::uint64_t after_last_delivery = drops_after_last_delivery(*drops);
    const std::uint64_t beyond_gaps = drops->total > gap_records ? drops->total - gap_records : 0;
    return {std::max(after_last_delivery, beyond_gaps), LossCertainty::at_least};
}

std::uint64_t nflog_tail_estimate(const NflogDrops& drops, std::uint64_t records,
                                  std::uint64_t datagrams) {
    const std::uint64_t after = drops_after_last_delivery(drops);
    if (after == 0 || datagrams == 0) {
        return 0;
    }
    // after * records / datagrams, rounded, without overflowing for any realistic count.
    const long double estimate = static_cast<long double>(after) *
                                 static_cast<long double>(records) /
                                 static_cast<long double>(datagrams);
    return static_cast<std::uint64_t>(estimate + 0.5L);
}

std::uint64_t queue_ids_after(std::uint32_t id_sequence, std::uint32_t last_id) {
    return static_cast<std::uint32_t>(id_sequence - last_id); // modulo 2^32
}

std::uint32_t countable_queue_length(std::uint64_t socket_buffer, std::uint32_t in_hand) {
    // One message more than fits: the kernel checks the buffer before it adds a message.
    const std::uint64_t fits = socket_buffer / min_queued_message_bytes + 1;
    return static_cast<std::uint32_t>(
        std::min<std::uint64_t>(fits + in_hand, std::numeric_limits<std::uint32_t>::max()));
}

std::string describe_loss(std::uint64_t records, LossCertainty certainty) {
    return (certainty == LossCertainty::at_least ? "at least " : "") + std::to_string(records) +
           " lost";
}

} // namespace nfcap
