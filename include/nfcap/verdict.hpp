#pragma once
// An NFQUEUE verdict policy as a value, and how the comment grammar names it. Pure.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nfcap {

enum class VerdictKind { accept, drop, queue, repeat };

struct Verdict {
    VerdictKind kind = VerdictKind::accept;
    std::uint16_t target_queue = 0;       // VerdictKind::queue: the queue the packet goes on to
    std::optional<std::uint32_t> mark;    // set the packet mark (with accept, queue or repeat)
    std::uint32_t mark_mask = 0xffffffff; // bits of the mark to change

    // One batch verdict can cover many packets only when every packet gets the same verdict
    // and mark: with a partial mask the new mark depends on each packet's old mark.
    bool batchable() const { return !mark || mark_mask == 0xffffffff; }
    // The mark a packet that carried `old_mark` leaves with.
    std::uint32_t new_mark(std::uint32_t old_mark) const {
        return (old_mark & ~mark_mask) | (mark.value_or(0) & mark_mask);
    }
};

// The most bytes a rewritten packet can have: one netlink attribute (NFQA_PAYLOAD) carries it,
// and its 16-bit length counts its own 4-byte header.
inline constexpr std::size_t max_rewrite_length = 0xffff - 4;

// One packet's verdict, and optionally the bytes that replace the packet (the whole
// network-layer packet, IP header first; at most max_rewrite_length bytes). The kernel copies
// them over the packet and checks nothing: fix_lengths_and_checksums() (checksum.hpp) makes a
// rewritten IPv4 or IPv6 packet with TCP or UDP consistent again.
struct Decision {
    Decision() = default;
    Decision(const Verdict& v)
        : verdict(v) {} // NOLINT(google-explicit-constructor): a callback
                        // may answer with a plain Verdict
    Decision(const Verdict& v, std::vector<std::byte> new_payload)
        : verdict(v), payload(std::move(new_payload)) {}

    Verdict verdict;
    std::optional<std::vector<std::byte>> payload;
};

// How a held-capable packet's verdict came about.
enum class DecidedBy : std::uint8_t {
    at_once,  // by the decide function, in the receive call (or by the policy)
    later,    // by QueueSource::decide, after the packet was held
    deadline, // the fallback: held past its deadline
    close,    // the fallback: still held when the queue was unbound
    error,    // the fallback: the decide function threw, or answered what the kernel cannot take
};

// "" (at_once), "later", "deadline", "close", "error": the comment's decided= value.
std::string_view decided_by_name(DecidedBy by);

// One packet's decision as a recording shows it. `payload` is a rewrite's new bytes (empty:
// none), valid during the call it is handed to.
struct PacketDecision {
    std::uint16_t queue = 0;
    std::uint32_t id = 0;
    Verdict verdict;
    DecidedBy by = DecidedBy::at_once;
    std::span<const std::byte> payload;
};

// The comment fragment of a decided packet's record: "verdict=accept setmark=0x33/0xffffffff
// decided=later payload=replaced" (decided= unless at_once, payload= only for a rewrite); with
// `new_bytes`, the fragment of the second record that holds the rewritten bytes
// ("... payload=new").
std::string describe(const PacketDecision& decision, bool new_bytes = false);

// "verdict=accept", "verdict=queue:6", "verdict=repeat setmark=0x10/0xff": the fragment the
// comment carries for NFQUEUE records.
std::string describe(const Verdict& verdict);

// Parses the command line's spelling: "accept", "drop", "queue:N", "repeat". Throws
// std::invalid_argument with a one-line reason.
Verdict parse_verdict(const std::string& text);

// Parses "VALUE[/MASK]" (decimal or 0x hex) into verdict.mark and verdict.mark_mask.
void parse_set_mark(const std::string& text, Verdict& verdict);

} // namespace nfcap
