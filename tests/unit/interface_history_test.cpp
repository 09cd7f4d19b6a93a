#include <nfcap/interface_cache.hpp>
#include <nfcap/interface_history.hpp>

#include <gtest/gtest.h>

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

// Needs no privileges: every namespace has its loopback device at index 1.
TEST(InterfaceCache, ResolvesLoopbackAtAnyTimeAndStops) {
    nfcap::InterfaceCache cache;
    EXPECT_EQ(cache.name(1, at(0)), "lo");
    cache.update();
    EXPECT_EQ(cache.name(1, at(4'000'000'000)), "lo");
    EXPECT_EQ(cache.name(0x7ffffff0U, at(1)), "");
}
