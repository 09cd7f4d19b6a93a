#include "held_packets.hpp"

#include <algorithm>

namespace nfcap::detail {
namespace {

// Serial-number order of packet ids (RFC 1982 style, as the kernel compares them).
bool id_after(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) > 0;
}

bool same_message(const VerdictMessage& run, const Verdict& verdict,
                  const std::optional<std::uint32_t>& mark) {
    return run.verdict.kind == verdict.kind && run.verdict.target_queue == verdict.target_queue &&
           run.mark == mark;
}

} // namespace

bool HeldPackets::hold(std::uint32_t id, std::optional<std::uint32_t> old_mark,
                       Clock::time_point deadline) {
    if (!entries_.empty() && !id_after(id, entries_.back().id)) {
        return false;
    }
    Entry entry;
    entry.id = id;
    entry.old_mark = old_mark;
    entry.deadline = deadline;
    entries_.push_back(std::move(entry));
    ++held_;
    constexpr std::uint32_t window = 1U << 30U;
    if (!first_held_ || id - *first_held_ > window) {
        first_held_ = id - (first_held_ ? window : 0U);
    }
    last_held_ = id;
    return true;
}

const HeldPackets::Entry* HeldPackets::find(std::uint32_t id) const {
    if (entries_.empty()) {
        return nullptr;
    }
    const std::uint32_t first = entries_.front().id;
    const std::uint32_t offset = id - first;
    // The kernel numbers packets one by one, so the entries are usually consecutive ids: the
    // one wanted is then at its offset (perf: the binary search was 3 % of a deferred-verdict
    // reader's time).
    if (offset < entries_.size() && entries_[offset].id == id) {
        return &entries_[offset];
    }
    const auto at = std::lower_bound(
        entries_.begin(), entries_.end(), offset,
        [first](const Entry& e, std::uint32_t wanted) { return e.id - first < wanted; });
    return at != entries_.end() && at->id == id ? &*at : nullptr;
}

bool HeldPackets::is_held(std::uint32_t id) const {
    const Entry* entry = find(id);
    return entry != nullptr && entry->state == State::held;
}

bool HeldPackets::is_decided(std::uint32_t id) const {
    if (const Entry* entry = find(id)) {
        return entry->state != State::held;
    }
    return first_held_ && id - *first_held_ <= last_held_ - *first_held_;
}

void HeldPackets::settle(Entry& entry, const Verdict& verdict, DecidedBy by) {
    entry.state = State::decided;
    entry.verdict = verdict;
    entry.by = by;
    if (verdict.mark) {
        entry.new_mark = verdict.new_mark(entry.old_mark.value_or(0));
    }
    --held_;
    ++decided_;
    unsent_.push_back(entry.id);
}

HeldPackets::Refusal HeldPackets::decide(std::uint32_t id, Decision decision, DecidedBy by) {
    if (decision.payload && decision.payload->size() > max_rewrite_length) {
        return Refusal::payload_too_long;
    }
    Entry* entry = find(id);
    if (entry == nullptr) {
        return Refusal::not_held;
    }
    if (entry->state != State::held) {
        return Refusal::already_decided;
    }
    settle(*entry, decision.verdict, by);
    entry->payload = std::move(decision.payload);
    return Refusal::none;
}

std::size_t HeldPackets::expire(Clock::time_point now, const Verdict& fallback) {
    std::size_t count = 0;
    for (Entry& entry : entries_) {
        if (entry.state != State::held) {
            continue;
        }
        if (entry.deadline > now) {
            break; // deadlines grow with the ids
        }
        settle(entry, fallback, DecidedBy::deadline);
        ++count;
    }
    return count;
}

std::size_t HeldPackets::decide_all(const Verdict& fallback, DecidedBy by) {
    std::size_t count = 0;
    for (Entry& entry : entries_) {
        if (entry.state == State::held) {
            settle(entry, fallback, by);
            ++count;
        }
    }
    return count;
}

std::optional<HeldPackets::Clock::time_point> HeldPackets::next_deadline() const {
    for (const Entry& entry : entries_) {
        if (entry.state == State::held) {
            return entry.deadline == no_deadline ? std::nullopt : std::optional(entry.deadline);
        }
    }
    return std::nullopt;
}

void HeldPackets::flush(const std::function<void(const VerdictMessage&)>& emit,
                        const std::function<void(const PacketDecision&)>& each) {
    const auto tell = [&](const Entry& entry) {
        if (each) {
            PacketDecision d;
            d.id = entry.id;
            d.verdict = entry.verdict;
            d.by = entry.by;
            if (entry.payload) {
                d.payload = *entry.payload;
            }
            each(d);
        }
    };
    // The front: decided packets (and ones answered earlier) before the first held one go out
    // in runs, one batch verdict per run of the same verdict and new mark.
    std::optional<VerdictMessage> run;
    std::size_t run_length = 0;
    const auto end_run = [&] {
        if (run) {
            run->batch = run_length > 1;
            emit(*run);
            run.reset();
        }
    };
    while (!entries_.empty() && entries_.front().state != State::held) {
        Entry& entry = entries_.front();
        if (entry.state == State::decided) {
            --decided_;
            tell(entry);
            if (entry.payload) {
                end_run();
                VerdictMessage single{entry.id, entry.verdict, entry.new_mark, false,
                                      &*entry.payload};
                emit(single);
            } else if (run && same_message(*run, entry.verdict, entry.new_mark)) {
                run->id = entry.id;
                ++run_length;
            } else {
                end_run();
                run = VerdictMessage{entry.id, entry.verdict, entry.new_mark, false, nullptr};
                run_length = 1;
            }
        }
        entries_.pop_front();
    }
    end_run();

    // Behind a held packet: each decided one gets its own verdict now, in id order.
    if (decided_ > 0) {
        const std::uint32_t first = entries_.front().id;
        std::sort(unsent_.begin(), unsent_.end(),
                  [first](std::uint32_t a, std::uint32_t b) { return a - first < b - first; });
        for (const std::uint32_t id : unsent_) {
            Entry* entry = find(id);
            if (entry == nullptr || entry->state != State::decided) {
                continue; // went out with the front
            }
            VerdictMessage single{entry->id, entry->verdict, entry->new_mark, false,
                                  entry->payload ? &*entry->payload : nullptr};
            emit(single);
            tell(*entry);
            entry->state = State::sent;
            entry->payload.reset();
            --decided_;
        }
    }
    unsent_.clear();
    compact();
}

void HeldPackets::compact() {
    // Answered packets behind a long-held one are kept only to be skipped later; when they
    // outnumber the rest, drop them (the order of the others is unchanged).
    if (entries_.size() <= 2 * (held_ + decided_) + 64) {
        return;
    }
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [](const Entry& e) { return e.state == State::sent; }),
                   entries_.end());
}

} // namespace nfcap::detail
