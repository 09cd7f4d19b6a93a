#include <nfcap/interface_history.hpp>

#include <algorithm>
#include <atomic>
#include <limits>

namespace nfcap {

std::uint64_t InterfaceHistory::fresh_version() {
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void InterfaceHistory::named(std::uint32_t ifindex, std::string_view name, Timestamp since) {
    name = name.substr(0, max_name);
    Index& index = indices_[ifindex];
    if (index.deleted) {
        index.deleted.reset();
        --deleted_;
        version_ = fresh_version();
    }
    if (index.count != 0) {
        const Name& latest = index.names[index.count - 1];
        if (latest.view() == name) {
            return;
        }
        since = std::max(since, latest.since);
    }
    version_ = fresh_version();
    if (index.count == names_per_index) {
        // The oldest name goes: only a record that waited through all the later renames needed it.
        std::move(index.names.begin() + 1, index.names.end(), index.names.begin());
        --index.count;
    }
    Name& added = index.names[index.count++];
    added.since = since;
    added.length = static_cast<std::uint8_t>(name.size());
    std::copy(name.begin(), name.end(), added.bytes.begin());
}

void InterfaceHistory::deleted(std::uint32_t ifindex, Timestamp when) {
    const auto found = indices_.find(ifindex);
    if (found == indices_.end() || found->second.deleted) {
        return;
    }
    found->second.deleted = when;
    version_ = fresh_version();
    if (++deleted_ > deleted_kept) {
        forget_longest_deleted();
    }
}

void InterfaceHistory::forget_longest_deleted() {
    // Linear, but only on a deletion beyond the cap: link events are rare next to records.
    auto oldest = indices_.end();
    for (auto i = indices_.begin(); i != indices_.end(); ++i) {
        if (i->second.deleted &&
            (oldest == indices_.end() || *i->second.deleted < *oldest->second.deleted)) {
            oldest = i;
        }
    }
    if (oldest != indices_.end()) {
        indices_.erase(oldest);
        --deleted_;
    }
}

void InterfaceHistory::clear() {
    indices_.clear();
    deleted_ = 0;
    version_ = fresh_version();
}

std::string_view InterfaceHistory::name(std::uint32_t ifindex, Timestamp when) const {
    Timestamp from;
    Timestamp until;
    return name(ifindex, when, from, until);
}

std::string_view InterfaceHistory::name(std::uint32_t ifindex, Timestamp when, Timestamp& from,
                                        Timestamp& until) const {
    const auto found = indices_.find(ifindex);
    if (found == indices_.end() || found->second.count == 0) {
        from = until = Timestamp{};
        return {};
    }
    const Index& index = found->second;
    // The latest name valid at `when`, else the first known (or the oldest kept).
    std::size_t i = index.count - 1;
    while (i > 0 && when < index.names[i].since) {
        --i;
    }
    from = i == 0 ? Timestamp{std::numeric_limits<std::int64_t>::min(), 0} : index.names[i].since;
    until = i + 1 == index.count ? Timestamp{std::numeric_limits<std::int64_t>::max(), 999'999'999}
                                 : index.names[i + 1].since;
    return index.names[i].view();
}

std::size_t InterfaceHistory::names(std::uint32_t ifindex) const {
    const auto found = indices_.find(ifindex);
    return found == indices_.end() ? 0 : found->second.count;
}

} // namespace nfcap
