#pragma once
// Interface index -> name, resolved at capture time and kept current: an rtnetlink socket
// subscribed to link events reports interfaces added, renamed and removed. A removed
// interface keeps its last name, so records still queued when it vanished carry that name.

#include <nfcap/comment.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nfcap {

class InterfaceCache final : public InterfaceNames {
  public:
    // Loads the current interfaces of the calling thread's network namespace and subscribes to
    // link events. Without an rtnetlink socket it still works, resolving names on each miss.
    InterfaceCache();
    ~InterfaceCache() override;
    InterfaceCache(const InterfaceCache&) = delete;
    InterfaceCache& operator=(const InterfaceCache&) = delete;

    // The event socket to poll for readability, or -1.
    int fd() const { return fd_; }
    // Applies every pending link event; never blocks.
    void update();

    std::string_view name(std::uint32_t ifindex) override;

  private:
    void apply(std::span<const std::byte> datagram);
    int fd_ = -1;
    std::unordered_map<std::uint32_t, std::string> names_;
};

} // namespace nfcap
