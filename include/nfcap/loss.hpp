#pragma once
// Loss accounting: how many records the kernel handed out that never reached nfcap, and whether
// that count is exact or only a lower bound. Pure: callers read the kernel's counters.
//
// What the kernel gives (net/netlink/af_netlink.c, net/netfilter/nfnetlink_log.c and
// nfnetlink_queue.c):
// - A netlink socket counts every datagram it could not take (sk_drops, read with SO_MEMINFO);
//   ENOBUFS is reported once per overflow, however many datagrams it costs.
// - NFLOG numbers each record of a group as it puts it into a batch (NFULA_SEQ); a whole batch
//   is one datagram, so a dropped datagram shows as a sequence gap, but only once a later record
//   of the same group arrives. Loss after the last record delivered shows in no gap.
// - NFQUEUE gives each packet an id before it tries to deliver it, and a datagram holds one
//   packet: ids missing between two packets, or handed out after the last one received
//   (id_sequence in /proc/net/netfilter/nfnetlink_queue), are exact.

#include <cstdint>
#include <optional>
#include <string>

namespace nfcap {

enum class LossCertainty : std::uint8_t {
    exact,    // every record lost is counted
    at_least, // some loss cannot be counted: the count is a lower bound
};

// What the kernel's drop counter of an NFLOG socket said, and when. Drops counted by a reading
// taken before a receive that found the socket empty all happened before anything read
// afterwards was queued. (Within a run of receives the socket may empty and take new datagrams
// after a drop: the socket refuses datagrams after an overflow only until it has been emptied,
// NETLINK_S_CONGESTED in af_netlink.c, so only an empty socket seen by nfcap marks a point.)
struct NflogDrops {
    std::uint64_t total = 0; // datagrams dropped, at the end
    // Drops that every group's last record was queued after (the least, over the groups, of
    // the reading before the socket was last found empty ahead of that record): a group's drop
    // among these shows as a gap before its last record.
    std::uint64_t before_every_last_record = 0;
    // The reading taken after the last datagram delivered at all was read: drops beyond it
    // came later, so no gap can show them, and each held one record at least.
    std::uint64_t at_last_delivery = 0;
};

// The records an NFLOG socket lost that no sequence gap shows. `gap_records` adds up the gaps
// of every group on the socket; `drops` is nullopt when the kernel does not count drops, and
// `overruns` the ENOBUFS errors read. Exact when every drop came before every group's last
// record; otherwise a lower bound: the drops after the last delivery held a record each, and
// every drop held a record, so the unseen records are at least the larger of (drops after the
// last delivery) and (drops - gap records).
struct UnseenLoss {
    std::uint64_t records = 0; // at least this many beyond the gaps
    LossCertainty certainty = LossCertainty::exact;
};
UnseenLoss nflog_unseen_loss(std::uint64_t gap_records, std::optional<NflogDrops> drops,
                             std::uint64_t overruns);

// Batches the socket dropped after the last datagram delivered: no sequence gap shows them.
inline std::uint64_t drops_after_last_delivery(const NflogDrops& drops) {
    return drops.total > drops.at_last_delivery ? drops.total - drops.at_last_delivery : 0;
}

// A size for the records lost after the last NFLOG delivery, which no count can give: the
// batches the socket dropped after it (`drops`), each taken as holding as many records as the
// batches received held on average (`records` in `datagrams`), rounded. An estimate, to be
// reported as one beside the lower bound, never as a count; 0 without drops or deliveries.
std::uint64_t nflog_tail_estimate(const NflogDrops& drops, std::uint64_t records,
                                  std::uint64_t datagrams);

// NFQUEUE packets the kernel numbered after the last one received (`id_sequence` is the last id
// it handed out, `last_id` the highest one nfcap received, 0 for none); ids wrap at 2^32.
std::uint64_t queue_ids_after(std::uint32_t id_sequence, std::uint32_t last_id);

// What one queued packet's message takes of a netlink socket buffer at least (its truesize):
// the sk_buff (256 bytes, cache-aligned) plus a data area from the kmalloc-512 cache up (some
// 100 bytes of attributes without payload plus the 320-byte skb_shared_info), so 768 bytes; 832
// measured on this kernel for a 44-byte packet with every attribute. A third less, for margin.
inline constexpr std::uint64_t min_queued_message_bytes = 512;

// With fail-open, a packet that finds the queue at its maximum length passes without an id and
// is counted nowhere, while one that finds the socket buffer full takes an id first and shows
// as an id gap. A queue length above what the socket buffer can hold (`socket_buffer` is the
// kernel's sk_rcvbuf, as SO_RCVBUF reads it back) lets the socket overflow first, so every loss
// is countable; `in_hand` packets are received but still without a verdict.
std::uint32_t countable_queue_length(std::uint64_t socket_buffer, std::uint32_t in_hand);

// "0 lost", "12 lost", "at least 12 lost".
std::string describe_loss(std::uint64_t records, LossCertainty certainty);

} // namespace nfcap
