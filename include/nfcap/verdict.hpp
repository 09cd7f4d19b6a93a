#pragma once
// An NFQUEUE verdict policy as a value, and how the comment grammar names it. Pure.

#include <cstdint>
#include <optional>
#include <string>

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

// "verdict=accept", "verdict=queue:6", "verdict=repeat setmark=0x10/0xff": the fragment the
// comment carries for NFQUEUE records.
std::string describe(const Verdict& verdict);

// Parses the command line's spelling: "accept", "drop", "queue:N", "repeat". Throws
// std::invalid_argument with a one-line reason.
Verdict parse_verdict(const std::string& text);

// Parses "VALUE[/MASK]" (decimal or 0x hex) into verdict.mark and verdict.mark_mask.
void parse_set_mark(const std::string& text, Verdict& verdict);

} // namespace nfcap
