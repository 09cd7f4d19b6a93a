#include <nfcap/interface_cache.hpp>
#include <nfcap/interface_history.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>

using nfcap::InterfaceHistory;
using nfcap::Timestamp;

namespace {

Timestamp at(std::int64_t sec, std::uint32_t nsec = 0) {
    return Timestamp{sec, nsec};
}

// "n12": built without operator+ on a literal, which GCC 12 at -O3 misreads (-Wrestrict,
// GCC bug 105329) in Release builds.
std::string numbered(char prefix, std::size_t n) {
    std::string s(1, prefix);
    s += std::to_string(n);
    return s;
}

} // namespace

TEST(InterfaceHistory, UnknownIndexHasNoName) {
    InterfaceHistory h;
    EXPECT_EQ(h.name(3, at(1)), "");
    h.deleted(3, at(2)); // nothing to remember
    EXPECT_EQ(h.size(), 0U);
    EXPECT_EQ(h.deleted_count(), 0U);
}

TEST(InterfaceHistory, RenameSplitsRecordsByTheirTime) {
    InterfaceHistory h;
    h.named(2, "veth0", at(0)); // from the listing at start: valid for everything before
    h.named(2, "uplink", at(100, 500));
    EXPECT_EQ(h.name(2, at(0)), "veth0");
    EXPECT_EQ(h.name(2, at(100, 499)), "veth0");
    EXPECT_EQ(h.name(2, at(100, 500)), "uplink") << "valid from the event's time on";
    EXPECT_EQ(h.name(2, at(5000)), "uplink");
}

TEST(InterfaceHistory, EventsThatRepeatTheNameChangeNothing) {
    InterfaceHistory h;
    h.named(2, "eth0", at(1));
    h.named(2, "eth0", at(5)); // carrier, flags, counters: same name
    h.named(2, "eth0", at(9));
    EXPECT_EQ(h.names(2), 1U);
    EXPECT_EQ(h.name(2, at(0)), "eth0") << "the first name known also covers earlier records";
}

// The capture's timeline: packets stamped by the kernel, link events stamped when read, records
// resolved long after everything happened (they waited in kernel and socket buffers).
TEST(InterfaceHistory, RecordsWrittenLateKeepTheNameOfTheirTime) {
    InterfaceHistory h;
    h.named(7, "churn1", at(10)); // created
    const Timestamp first[] = {at(11), at(11, 900'000'000)};
    h.named(7, "churn1", at(12));    // down: no new name
    h.named(7, "moved1", at(12, 1)); // renamed while down
    h.named(7, "moved1", at(12, 2)); // up again
    const Timestamp second[] = {at(12, 3), at(13)};
    h.deleted(7, at(14));
    const Timestamp late = at(20); // a record without kernel time, received after the deletion
    for (const Timestamp t : first) {
        EXPECT_EQ(h.name(7, t), "churn1");
    }
    for (const Timestamp t : second) {
        EXPECT_EQ(h.name(7, t), "moved1");
    }
    EXPECT_EQ(h.name(7, late), "moved1") << "a deleted interface keeps its last name";
    EXPECT_EQ(h.deleted_count(), 1U);
}

TEST(InterfaceHistory, ReusedIndexStartsANewName) {
    InterfaceHistory h;
    h.named(4, "old", at(1));
    h.deleted(4, at(5));
    h.named(4, "new", at(8));
    EXPECT_EQ(h.deleted_count(), 0U);
    EXPECT_EQ(h.name(4, at(4)), "old");
    EXPECT_EQ(h.name(4, at(6)), "old") << "between deletion and reuse: the last name";
    EXPECT_EQ(h.name(4, at(8)), "new");
}

TEST(InterfaceHistory, ReusedIndexWithTheSameNameIsAliveAgain) {
    InterfaceHistory h;
    h.named(4, "same", at(1));
    h.deleted(4, at(5));
    h.named(4, "same", at(8));
    EXPECT_EQ(h.deleted_count(), 0U);
    EXPECT_EQ(h.names(4), 1U);
}

TEST(InterfaceHistory, AnEventOlderThanTheLatestNameCountsFromThatName) {
    InterfaceHistory h;
    h.named(2, "a", at(10));
    h.named(2, "b", at(20));
    h.named(2, "c", at(15)); // out of order (a relisting): never moves history backwards
    EXPECT_EQ(h.name(2, at(19)), "a");
    EXPECT_EQ(h.name(2, at(20)), "c") << "the later event wins at the same time";
}

TEST(InterfaceHistory, NamesPerIndexAreCapped) {
    InterfaceHistory h;
    const std::size_t renames = InterfaceHistory::names_per_index + 12;
    for (std::size_t i = 0; i < renames; ++i) {
        h.named(2, numbered('n', i), at(static_cast<std::int64_t>(i) * 10));
    }
    EXPECT_EQ(h.names(2), InterfaceHistory::names_per_index);
    const std::size_t oldest = renames - InterfaceHistory::names_per_index;
    EXPECT_EQ(h.name(2, at(0)), numbered('n', oldest)) << "older records: oldest kept";
    EXPECT_EQ(h.name(2, at(static_cast<std::int64_t>(oldest + 1) * 10 + 5)),
              numbered('n', oldest + 1));
    EXPECT_EQ(h.name(2, at(100000)), numbered('n', renames - 1));
}

TEST(InterfaceHistory, DeletedInterfacesAreCapped) {
    InterfaceHistory h;
    const std::uint32_t extra = 5;
    const std::uint32_t total = static_cast<std::uint32_t>(InterfaceHistory::deleted_kept) + extra;
    h.named(1, "lo", at(0)); // alive: never forgotten
    for (std::uint32_t i = 0; i < total; ++i) {
        h.named(100 + i, numbered('v', i), at(1));
        h.deleted(100 + i, at(2 + static_cast<std::int64_t>(i)));
    }
    EXPECT_EQ(h.deleted_count(), InterfaceHistory::deleted_kept);
    EXPECT_EQ(h.size(), InterfaceHistory::deleted_kept + 1);
    for (std::uint32_t i = 0; i < extra; ++i) {
        EXPECT_FALSE(h.contains(100 + i)) << "deleted longest ago: forgotten";
    }
    EXPECT_EQ(h.name(100 + extra, at(1)), numbered('v', extra));
    EXPECT_EQ(h.name(1, at(9)), "lo");
}

TEST(InterfaceHistory, NamesLongerThanTheKernelAllowsAreCut) {
    InterfaceHistory h;
    h.named(2, "0123456789abcdefXYZ", at(1));
    EXPECT_EQ(h.name(2, at(1)), "0123456789abcde");
}

TEST(InterfaceHistory, LookupsAreStableBetweenChanges) {
    InterfaceHistory h;
    h.named(2, "eth0", at(1));
    const std::string_view first = h.name(2, at(2));
    const std::string_view again = h.name(2, at(3));
    EXPECT_EQ(first.data(), again.data()) << "a view into the history, no copy";
}

TEST(InterfaceHistory, ASpanHoldsItsAnswerAtEveryTimeInItAndNoLonger) {
    InterfaceHistory h;
    h.named(2, "a", at(10));
    h.named(2, "b", at(20));
    h.named(2, "c", at(20)); // the same time: "b" is never the answer
    h.named(2, "a", at(30, 5));
    const auto step_back = [](Timestamp t) {
        return t.nsec == 0 ? Timestamp{t.sec - 1, 999'999'999} : Timestamp{t.sec, t.nsec - 1};
    };
    for (const Timestamp when :
         {at(-5), at(10), at(15), at(20), at(25), at(30, 4), at(30, 5), at(1'000'000)}) {
        Timestamp from;
        Timestamp until;
        const std::string_view answer = h.name(2, when, from, until);
        EXPECT_EQ(answer, h.name(2, when));
        ASSERT_LE(from, when);
        ASSERT_LT(when, until);
        if (from.sec != std::numeric_limits<std::int64_t>::min()) {
            EXPECT_EQ(h.name(2, from), answer);
            EXPECT_NE(h.name(2, step_back(from)), answer) << "the span starts where it changes";
        }
        if (until.sec != std::numeric_limits<std::int64_t>::max()) {
            EXPECT_EQ(h.name(2, step_back(until)), answer);
            EXPECT_NE(h.name(2, until), answer) << "the span ends where it changes";
        }
    }
    Timestamp from;
    Timestamp until;
    EXPECT_EQ(h.name(9, at(1), from, until), "");
    EXPECT_FALSE(from < until) << "an unknown index holds for no time";
}

TEST(InterfaceHistory, VersionMovesOnEveryChangeAndOnlyThen) {
    InterfaceHistory h;
    std::uint64_t seen = h.version();
    EXPECT_NE(seen, 0U);
    const auto moved = [&] {
        const bool m = h.version() != seen;
        seen = h.version();
        return m;
    };
    h.named(2, "eth0", at(1));
    EXPECT_TRUE(moved());
    h.named(2, "eth0", at(2)); // the same name again
    EXPECT_FALSE(moved());
    h.named(2, "wan", at(3));
    EXPECT_TRUE(moved());
    h.deleted(2, at(4));
    EXPECT_TRUE(moved());
    h.deleted(2, at(5)); // already deleted
    EXPECT_FALSE(moved());
    h.deleted(7, at(5)); // unknown
    EXPECT_FALSE(moved());
    h.named(2, "wan", at(6)); // alive again under its name
    EXPECT_TRUE(moved());
    h.clear();
    EXPECT_TRUE(moved());
    const InterfaceHistory other;
    EXPECT_NE(other.version(), h.version()) << "no two histories share a version";
}

namespace {

// InterfaceNames over a history, as InterfaceCache answers, counting its lookups.
class HistoryNames final : public nfcap::InterfaceNames {
  public:
    std::string_view name(std::uint32_t ifindex, Timestamp when) override {
        ++lookups;
        return history.name(ifindex, when);
    }
    std::string_view name_with_span(std::uint32_t ifindex, Timestamp when,
                                    nfcap::NameSpan& span) override {
        ++lookups;
        span.version = history.version();
        return history.name(ifindex, when, span.from, span.until);
    }
    std::uint64_t version() override { return history.version(); }
    InterfaceHistory history;
    std::size_t lookups = 0;
};

// Answers like HistoryNames but cannot say how long an answer holds (the interface's defaults).
class UnversionedNames final : public nfcap::InterfaceNames {
  public:
    std::string_view name(std::uint32_t ifindex, Timestamp when) override {
        ++lookups;
        return history.name(ifindex, when);
    }
    InterfaceHistory history;
    std::size_t lookups = 0;
};

} // namespace

// The kept answers against a lookup of every name of every record, over renames, deletions,
// reused indices and records that come late, early and out of order.
TEST(NameResolution, GivesEveryRecordWhatResolveNamesGivesIt) {
    HistoryNames names;
    nfcap::NameResolution resolution;
    std::mt19937 random(20261207);
    const auto chance = [&](unsigned percent) { return random() % 100 < percent; };
    const char* const pool[] = {"eth0", "eth1", "wan", "lan", "veth-a", "veth-b"};
    std::int64_t now = 1000;
    std::size_t records = 0;
    std::size_t every_time = 0; // lookups of resolve_names
    std::size_t kept = 0;       // lookups of the resolution
    for (int step = 0; step < 20'000; ++step) {
        now += static_cast<std::int64_t>(random() % 3);
        if (chance(2)) { // a link event: indices 1 to 5; 6 is never known
            const auto index = static_cast<std::uint32_t>(1 + random() % 5);
            if (chance(20)) {
                names.history.deleted(index, at(now));
            } else {
                names.history.named(index, pool[random() % 6],
                                    at(now, static_cast<std::uint32_t>(random() % 1000)));
            }
            continue;
        }
        nfcap::Packet packet;
        const auto some_index = [&]() -> std::optional<std::uint32_t> {
            if (chance(30)) {
                return std::nullopt;
            }
            return static_cast<std::uint32_t>(1 + random() % (chance(90) ? 2 : 6));
        };
        packet.indev = some_index();
        packet.outdev = some_index();
        packet.physindev = some_index();
        packet.physoutdev = some_index();
        const Timestamp when = at(now - static_cast<std::int64_t>(random() % 40),
                                  static_cast<std::uint32_t>(random() % 1000));
        nfcap::InterfaceNamesOf expected;
        std::size_t before = names.lookups;
        nfcap::resolve_names(expected, packet, names, when);
        every_time += names.lookups - before;
        before = names.lookups;
        const nfcap::InterfaceNamesOf& got = resolution.resolve(packet, names, when);
        kept += names.lookups - before;
        ASSERT_EQ(got.indev, expected.indev) << "step " << step;
        ASSERT_EQ(got.outdev, expected.outdev) << "step " << step;
        ASSERT_EQ(got.physindev, expected.physindev) << "step " << step;
        ASSERT_EQ(got.physoutdev, expected.physoutdev) << "step " << step;
        ++records;
    }
    // resolve_names looked every present index up; the resolution fewer of them, even with
    // the index of every slot changing at every other record.
    EXPECT_GT(records, 15'000U);
    EXPECT_LT(kept * 10, every_time * 8) << kept << " lookups against " << every_time;
}

TEST(NameResolution, LooksANameUpOnlyWhenItMayHaveChanged) {
    HistoryNames names;
    names.history.named(2, "eth0", at(10));
    names.history.named(2, "wan", at(20));
    nfcap::NameResolution resolution;
    nfcap::Packet packet;
    packet.indev = 2;
    EXPECT_EQ(resolution.resolve(packet, names, at(12)).indev, "eth0");
    EXPECT_EQ(resolution.resolve(packet, names, at(19, 999'999'999)).indev, "eth0");
    EXPECT_EQ(names.lookups, 1U) << "the same span";
    EXPECT_EQ(resolution.resolve(packet, names, at(20)).indev, "wan");
    EXPECT_EQ(resolution.resolve(packet, names, at(5)).indev, "eth0");
    EXPECT_EQ(names.lookups, 3U) << "outside the span: asked again";
    names.history.named(2, "lan", at(15));
    EXPECT_EQ(resolution.resolve(packet, names, at(5)).indev, "eth0")
        << "an event older than the latest name counts from that name";
    EXPECT_EQ(names.lookups, 4U) << "a change: asked again";
    packet.indev = 3;
    EXPECT_EQ(resolution.resolve(packet, names, at(5)).indev, "");
    packet.indev.reset();
    packet.outdev = 2;
    const nfcap::InterfaceNamesOf& last = resolution.resolve(packet, names, at(25));
    EXPECT_EQ(last.indev, "");
    EXPECT_EQ(last.outdev, "lan");
}

TEST(NameResolution, AnotherSourceOfNamesIsAskedAfresh) {
    nfcap::NameResolution resolution;
    nfcap::Packet packet;
    packet.indev = 2;
    HistoryNames first;
    first.history.named(2, "eth0", at(10));
    EXPECT_EQ(resolution.resolve(packet, first, at(12)).indev, "eth0");
    HistoryNames second;
    second.history.named(2, "wan", at(10));
    EXPECT_EQ(resolution.resolve(packet, second, at(12)).indev, "wan");
    EXPECT_EQ(second.lookups, 1U);
}

TEST(NameResolution, AsksEveryTimeWhenTheNamesCannotSayHowLongTheyHold) {
    UnversionedNames names;
    names.history.named(2, "eth0", at(10));
    nfcap::NameResolution resolution;
    nfcap::Packet packet;
    packet.indev = 2;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(resolution.resolve(packet, names, at(12)).indev, "eth0");
    }
    EXPECT_EQ(names.lookups, 3U);
}

// Needs no privileges: every namespace has its loopback device at index 1.
TEST(InterfaceCache, ResolvesLoopbackAtAnyTimeAndStops) {
    nfcap::InterfaceCache cache;
    EXPECT_EQ(cache.name(1, at(0)), "lo");
    cache.update();
    EXPECT_EQ(cache.name(1, at(4'000'000'000)), "lo");
    EXPECT_EQ(cache.name(0x7ffffff0U, at(1)), "");
}
