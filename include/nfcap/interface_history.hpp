#pragma once
// The names network interfaces had over time, so that a record is labelled with the name its
// interface had when the packet passed rather than the name it has when the record is written
// (records wait in kernel and socket buffers while links are renamed and deleted).
//
// Pure bookkeeping: no I/O, no clock, not thread-safe. InterfaceCache feeds it the link events
// it reads from rtnetlink, each with the time it read it, and asks it once per interface key of
// every record; see interface_cache.hpp for what the times mean and what is exact.

#include <nfcap/packet.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace nfcap {

class InterfaceHistory {
  public:
    // Names kept per index (memory bound). A record older than the oldest name kept gets that
    // oldest name: it would take this many renames while the record waits to lose one.
    static constexpr std::size_t names_per_index = 8;
    // Deleted interfaces remembered, for records still in flight when they went; beyond this
    // the one deleted longest ago is forgotten (its records then show the bare index).
    static constexpr std::size_t deleted_kept = 1024;
    // Longest name kept: IFNAMSIZ - 1, the kernel's limit. Longer input is cut.
    static constexpr std::size_t max_name = 15;

    // `ifindex` is called `name` from `since` on. Nothing changes when that is already its
    // latest name. An index deleted earlier is alive again (the kernel reused it). Events come
    // in time order; one older than the latest name of its index counts from that name's time.
    // Allocates only for an index seen for the first time.
    void named(std::uint32_t ifindex, std::string_view name, Timestamp since);

    // `ifindex` was deleted at `when`. It keeps its last name: packets that passed before the
    // deletion are named, and so are records resolved by a later time (those without the
    // kernel's timestamp, which carry the time nfcap received them). Unknown indices: no-op.
    void deleted(std::uint32_t ifindex, Timestamp when);

    // Forgets everything.
    void clear();

    // The name `ifindex` had at `when` (the latest name that became valid at or before it),
    // or an empty view when the index is unknown. Allocates nothing; the view stays valid until
    // the next named(), deleted() or clear().
    std::string_view name(std::uint32_t ifindex, Timestamp when) const;
    // name(), and the times [from, until) for which the same index has that same answer until
    // the next change (version()). An unknown index: an empty view and an empty span.
    std::string_view name(std::uint32_t ifindex, Timestamp when, Timestamp& from,
                          Timestamp& until) const;
    // Moves on with every named(), deleted() or clear() that changes anything; never 0, and
    // never a value another history of this process had, so answers kept from one history are
    // never taken for another's.
    std::uint64_t version() const { return version_; }

    bool contains(std::uint32_t ifindex) const { return indices_.contains(ifindex); }
    // Indices held, deleted ones included.
    std::size_t size() const { return indices_.size(); }
    std::size_t deleted_count() const { return deleted_; }
    // Names held for `ifindex` (0 when unknown).
    std::size_t names(std::uint32_t ifindex) const;

  private:
    struct Name {
        Timestamp since;
        std::uint8_t length = 0;
        std::array<char, max_name> bytes{};
        std::string_view view() const { return {bytes.data(), length}; }
    };
    struct Index {
        std::array<Name, names_per_index> names{}; // oldest first
        std::size_t count = 0;
        std::optional<Timestamp> deleted;
    };
    void forget_longest_deleted();
    static std::uint64_t fresh_version(); // unique in the process

    std::unordered_map<std::uint32_t, Index> indices_;
    std::size_t deleted_ = 0;
    std::uint64_t version_ = fresh_version();
};

} // namespace nfcap
