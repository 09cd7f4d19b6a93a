#pragma once
// A packet that outlives the receive call: it owns a copy of every byte a Packet only points
// at (payload, hardware header, prefix, security context) and the interface names as they were
// when the packet passed. Inside a callback a Packet is a view and costs nothing; retain only
// what must be kept (a decision made later, on another thread, after a look-up).

#include <nfcap/comment.hpp>
#include <nfcap/packet.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace nfcap {

class RetainedPacket {
  public:
    RetainedPacket() = default;
    // Copies `packet`. With `names`, resolves its interfaces as of `when` (the packet's
    // timestamp, else the time it was received; see interface_cache.hpp).
    explicit RetainedPacket(const Packet& packet, InterfaceNames* names = nullptr,
                            Timestamp when = {});
    RetainedPacket(const RetainedPacket& other);
    RetainedPacket& operator=(const RetainedPacket& other);
    RetainedPacket(RetainedPacket&& other) noexcept;
    RetainedPacket& operator=(RetainedPacket&& other) noexcept;
    ~RetainedPacket() = default;

    // The packet; its views point into this object and live as long as it does (moving it
    // keeps them valid).
    const Packet& packet() const { return packet_; }
    const Packet* operator->() const { return &packet_; }
    const InterfaceNamesOf& names() const { return names_; }

  private:
    void rebase(const Packet& from, const std::byte* old_base);

    void copy_bytes(const std::byte* from, std::size_t size);

    Packet packet_;
    // payload, hwheader, prefix, secctx, one after the other; allocated without being zeroed
    // (every byte is copied in at once)
    std::unique_ptr<std::byte[]> bytes_;
    std::size_t size_ = 0;
    InterfaceNamesOf names_;
};

} // namespace nfcap
