#pragma once
// The NFQUEUE packets a program holds, and the verdict messages their decisions become. Pure:
// no I/O and no clock of its own. QueueSource keeps one per queue, behind a mutex, so that
// verdicts may come from any thread.
//
// The kernel numbers the packets of a queue one by one (modulo 2^32) and keeps its queue in
// that order; a batch verdict (NFQNL_MSG_VERDICT_BATCH) for id N decides every packet still
// queued up to N. So a batch verdict is sent only for a run of decided packets at the front of
// the held ones, where it cannot cover a packet that is still undecided. A packet decided
// behind one still held gets a verdict of its own at once.

#include <nfcap/verdict.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

namespace nfcap::detail {

// One verdict message to send.
struct VerdictMessage {
    std::uint32_t id = 0; // the packet; with `batch`, the last packet the message covers
    Verdict verdict;      // kind and target queue; its mark is resolved into `mark`
    std::optional<std::uint32_t> mark; // the packet's new mark, whole (nullopt: unchanged)
    bool batch = false;
    const std::vector<std::byte>* payload = nullptr; // the packet's new bytes, valid in emit()
};

class HeldPackets {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr Clock::time_point no_deadline = Clock::time_point::max();

    enum class Refusal : std::uint8_t { none, not_held, already_decided, payload_too_long };

    // A packet waiting for its decision; false (and nothing held) when `id` does not come after
    // the last held id, which the kernel's numbering never does. Deadlines must not decrease.
    bool hold(std::uint32_t id, std::optional<std::uint32_t> old_mark, Clock::time_point deadline);
    // Decides a held packet; the message goes out with the next flush().
    Refusal decide(std::uint32_t id, Decision decision, DecidedBy by = DecidedBy::later);
    // Decides every held packet whose deadline is at or before `now` with `fallback`; returns
    // how many.
    std::size_t expire(Clock::time_point now, const Verdict& fallback);
    // Decides every held packet with `fallback`; returns how many.
    std::size_t decide_all(const Verdict& fallback, DecidedBy by = DecidedBy::close);
    // Hands `emit` the messages for every decision not sent yet, in the order to send them,
    // and `each` (when set) every packet they decide, then forgets those packets.
    void flush(const std::function<void(const VerdictMessage&)>& emit,
               const std::function<void(const PacketDecision&)>& each = {});

    // `id` is held and undecided; `id` was held and is decided (or, behind the last id held, was
    // never received: the kernel decided it, as fail-open does for a packet it cannot deliver).
    bool is_held(std::uint32_t id) const;
    bool is_decided(std::uint32_t id) const;
    std::size_t held() const { return held_; }
    std::size_t unsent() const { return decided_; }
    // The earliest deadline of a held packet.
    std::optional<Clock::time_point> next_deadline() const;
    // Packets remembered (held, decided or already answered behind a held one): for tests.
    std::size_t remembered() const { return entries_.size(); }

  private:
    enum class State : std::uint8_t { held, decided, sent };
    struct Entry {
        std::uint32_t id = 0;
        State state = State::held;
        std::optional<std::uint32_t> old_mark;
        Clock::time_point deadline = no_deadline;
        Verdict verdict;
        DecidedBy by = DecidedBy::at_once;
        std::optional<std::uint32_t> new_mark;
        std::optional<std::vector<std::byte>> payload;
    };
    const Entry* find(std::uint32_t id) const;
    Entry* find(std::uint32_t id) {
        return const_cast<Entry*>(static_cast<const HeldPackets*>(this)->find(id));
    }
    void settle(Entry& entry, const Verdict& verdict, DecidedBy by);
    void compact();

    std::deque<Entry> entries_;         // in id order
    std::size_t held_ = 0;              // entries in State::held
    std::size_t decided_ = 0;           // entries in State::decided
    std::vector<std::uint32_t> unsent_; // their ids, in the order they were decided
    // The ids held so far span [first_held_, last_held_] (at most 2^30 apart).
    std::optional<std::uint32_t> first_held_;
    std::uint32_t last_held_ = 0;
};

} // namespace nfcap::detail
