#include "held_packets.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

using nfcap::Decision;
using nfcap::Verdict;
using nfcap::VerdictKind;
using nfcap::detail::HeldPackets;
using nfcap::detail::VerdictMessage;
using Refusal = HeldPackets::Refusal;
using namespace std::chrono_literals;

namespace {

Verdict kind(VerdictKind k) {
    Verdict v;
    v.kind = k;
    return v;
}

// "accept 7", "batch drop 12", "accept 3 mark=0x5", "accept 4 payload=3"
std::vector<std::string> flush(HeldPackets& held) {
    std::vector<std::string> out;
    held.flush([&](const VerdictMessage& m) {
        std::ostringstream line; // not string concatenation: g++ 12 -O3 warns falsely there
        line << (m.batch ? "batch " : "")
             << (m.verdict.kind == VerdictKind::accept ? "accept"
                 : m.verdict.kind == VerdictKind::drop ? "drop"
                                                       : "other")
             << ' ' << m.id;
        if (m.mark) {
            line << " mark=" << *m.mark;
        }
        if (m.payload != nullptr) {
            line << " payload=" << m.payload->size();
        }
        out.push_back(line.str());
    });
    return out;
}

void hold(HeldPackets& held, std::uint32_t first, std::uint32_t last) {
    for (std::uint32_t id = first; id != last + 1; ++id) {
        ASSERT_TRUE(held.hold(id, std::nullopt, HeldPackets::no_deadline));
    }
}

using Lines = std::vector<std::string>;

} // namespace

TEST(HeldPackets, DecisionsAtTheFrontGoOutAsOneBatchPerRun) {
    HeldPackets held;
    hold(held, 1, 6);
    for (std::uint32_t id : {1U, 2U, 3U}) {
        ASSERT_EQ(held.decide(id, kind(VerdictKind::accept)), Refusal::none);
    }
    ASSERT_EQ(held.decide(4, kind(VerdictKind::drop)), Refusal::none);
    ASSERT_EQ(held.decide(5, kind(VerdictKind::drop)), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"batch accept 3", "batch drop 5"}));
    EXPECT_EQ(held.held(), 1U);
    EXPECT_EQ(held.remembered(), 1U);
}

TEST(HeldPackets, ADecisionBehindAHeldPacketGoesOutAloneAtOnce) {
    HeldPackets held;
    hold(held, 10, 13);
    ASSERT_EQ(held.decide(12, kind(VerdictKind::accept)), Refusal::none);
    ASSERT_EQ(held.decide(13, kind(VerdictKind::accept)), Refusal::none);
    // A batch for 13 would also decide 10 and 11: each gets its own message.
    EXPECT_EQ(flush(held), (Lines{"accept 12", "accept 13"}));
    EXPECT_TRUE(flush(held).empty());
    // Once the front is decided, the answered ones behind are skipped, never sent twice.
    ASSERT_EQ(held.decide(11, kind(VerdictKind::drop)), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"drop 11"}));
    ASSERT_EQ(held.decide(10, kind(VerdictKind::drop)), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"drop 10"}));
    EXPECT_EQ(held.remembered(), 0U);
}

TEST(HeldPackets, ReverseOrderDecidesEveryPacketExactlyOnce) {
    HeldPackets held;
    hold(held, 1, 200);
    std::vector<int> sent(201, 0);
    for (std::uint32_t id = 200; id >= 1; --id) {
        ASSERT_EQ(held.decide(id, kind(VerdictKind::accept)), Refusal::none);
        held.flush([&](const VerdictMessage& m) {
            ASSERT_FALSE(m.batch && m.id != 200) << m.id;
            ++sent[m.id];
        });
    }
    for (std::uint32_t id = 1; id <= 200; ++id) {
        EXPECT_EQ(sent[id], 1) << id;
    }
    EXPECT_EQ(held.held(), 0U);
    EXPECT_EQ(held.remembered(), 0U);
}

TEST(HeldPackets, RefusesUnknownAndAlreadyDecidedIds) {
    HeldPackets held;
    EXPECT_EQ(held.decide(1, Verdict{}), Refusal::not_held);
    hold(held, 5, 7);
    EXPECT_EQ(held.decide(4, Verdict{}), Refusal::not_held);
    EXPECT_EQ(held.decide(8, Verdict{}), Refusal::not_held);
    ASSERT_EQ(held.decide(6, Verdict{}), Refusal::none);
    EXPECT_EQ(held.decide(6, kind(VerdictKind::drop)), Refusal::already_decided);
    EXPECT_TRUE(held.is_decided(6));
    EXPECT_FALSE(held.is_held(6));
    EXPECT_TRUE(held.is_held(5));
    EXPECT_EQ(flush(held), (Lines{"accept 6"})); // the first decision stands
    EXPECT_EQ(held.decide(6, Verdict{}), Refusal::already_decided);
    ASSERT_EQ(held.decide(5, Verdict{}), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"accept 5"}));
    EXPECT_TRUE(held.is_decided(5)); // gone from the table, still known as decided
    EXPECT_FALSE(held.is_decided(4));
    EXPECT_FALSE(held.is_decided(8));
    EXPECT_EQ(held.decide(5, Verdict{}), Refusal::not_held);
    ASSERT_TRUE(held.hold(9, std::nullopt, HeldPackets::no_deadline));
    EXPECT_TRUE(held.is_decided(8)); // behind the last held: the kernel decided it
    ASSERT_TRUE(held.hold(10, std::nullopt, HeldPackets::no_deadline));
    ASSERT_TRUE(held.hold(11, std::nullopt, HeldPackets::no_deadline));
    std::vector<std::byte> huge(nfcap::max_rewrite_length + 1);
    EXPECT_EQ(held.decide(10, Decision(Verdict{}, huge)), Refusal::payload_too_long);
    EXPECT_TRUE(held.is_held(10));
}

TEST(HeldPackets, IdsWrapAroundLikeTheKernels) {
    HeldPackets held;
    hold(held, 0xfffffffeU, 1U); // fffffffe ffffffff 0 1
    EXPECT_FALSE(held.hold(0xffffffffU, std::nullopt, HeldPackets::no_deadline)); // not after 1
    ASSERT_EQ(held.decide(0, Verdict{}), Refusal::none);
    ASSERT_EQ(held.decide(0xffffffffU, Verdict{}), Refusal::none);
    ASSERT_EQ(held.decide(0xfffffffeU, Verdict{}), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"batch accept 0"}));
    EXPECT_TRUE(held.is_held(1));
}

TEST(HeldPackets, MarksAreResolvedPerPacketAndSplitRuns) {
    HeldPackets held;
    ASSERT_TRUE(held.hold(1, 0x100, HeldPackets::no_deadline));
    ASSERT_TRUE(held.hold(2, 0x100, HeldPackets::no_deadline));
    ASSERT_TRUE(held.hold(3, 0x200, HeldPackets::no_deadline));
    Verdict v;
    v.mark = 0x5;
    v.mark_mask = 0xff; // keeps the packet's other bits
    for (std::uint32_t id : {1U, 2U, 3U}) {
        ASSERT_EQ(held.decide(id, v), Refusal::none);
    }
    EXPECT_EQ(flush(held), (Lines{"batch accept 2 mark=261", "accept 3 mark=517"}));
}

TEST(HeldPackets, ARewriteIsNeverPartOfABatch) {
    HeldPackets held;
    hold(held, 1, 3);
    ASSERT_EQ(held.decide(1, Verdict{}), Refusal::none);
    ASSERT_EQ(held.decide(2, Decision(Verdict{}, std::vector<std::byte>(30))), Refusal::none);
    ASSERT_EQ(held.decide(3, Verdict{}), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"accept 1", "accept 2 payload=30", "accept 3"}));
}

TEST(HeldPackets, DeadlinesGiveTheFallbackInOrder) {
    HeldPackets held;
    const auto t0 = HeldPackets::Clock::time_point{} + 1h;
    ASSERT_TRUE(held.hold(1, std::nullopt, t0));
    ASSERT_TRUE(held.hold(2, std::nullopt, t0 + 10ms));
    ASSERT_TRUE(held.hold(3, std::nullopt, t0 + 20ms));
    ASSERT_EQ(held.decide(2, Verdict{}), Refusal::none);
    EXPECT_EQ(held.next_deadline(), t0);
    EXPECT_EQ(held.expire(t0 - 1ms, kind(VerdictKind::drop)), 0U);
    EXPECT_EQ(held.expire(t0 + 15ms, kind(VerdictKind::drop)), 1U);
    EXPECT_EQ(held.next_deadline(), t0 + 20ms);
    EXPECT_EQ(flush(held), (Lines{"drop 1", "accept 2"}));
    EXPECT_EQ(held.decide_all(kind(VerdictKind::drop)), 1U);
    EXPECT_EQ(flush(held), (Lines{"drop 3"}));
    EXPECT_FALSE(held.next_deadline());
}

TEST(HeldPackets, AnsweredPacketsBehindALongHeldOneDoNotPileUp) {
    HeldPackets held;
    hold(held, 1, 100000);
    for (std::uint32_t id = 2; id <= 100000; ++id) {
        ASSERT_EQ(held.decide(id, Verdict{}), Refusal::none);
        held.flush([](const VerdictMessage&) {});
    }
    EXPECT_LE(held.remembered(), 200U);
    EXPECT_TRUE(held.is_held(1));
    EXPECT_EQ(held.decide(1, Verdict{}), Refusal::none);
    EXPECT_EQ(flush(held), (Lines{"accept 1"}));
}
