#include <nfcap/retained_packet.hpp>

#include <array>
#include <cstring>

namespace nfcap {
namespace {

std::span<const std::byte> as_bytes(std::string_view text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()}; // same object bytes
}

} // namespace

RetainedPacket::RetainedPacket(const Packet& packet, InterfaceNames* names, Timestamp when)
    : packet_(packet) {
    const std::array<std::span<const std::byte>, 4> parts{
        packet.payload, packet.hwheader, as_bytes(packet.prefix), as_bytes(packet.secctx)};
    std::size_t total = 0;
    for (const auto part : parts) {
        total += part.size();
    }
    if (total != 0) {
        bytes_ = std::make_unique_for_overwrite<std::byte[]>(total);
        size_ = total;
    }
    std::size_t at = 0;
    std::array<std::span<const std::byte>, 4> copies{};
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!parts[i].empty()) {
            std::memcpy(bytes_.get() + at, parts[i].data(), parts[i].size());
        }
        copies[i] = {bytes_.get() + at, parts[i].size()};
        at += parts[i].size();
    }
    packet_.payload = copies[0];
    packet_.hwheader = copies[1];
    packet_.prefix = {reinterpret_cast<const char*>(copies[2].data()), copies[2].size()};
    packet_.secctx = {reinterpret_cast<const char*>(copies[3].data()), copies[3].size()};
    if (names != nullptr) {
        resolve_names(names_, packet, *names, when);
    }
}

void RetainedPacket::copy_bytes(const std::byte* from, std::size_t size) {
    bytes_.reset();
    size_ = size;
    if (size != 0) {
        bytes_ = std::make_unique_for_overwrite<std::byte[]>(size);
        std::memcpy(bytes_.get(), from, size);
    }
}

void RetainedPacket::rebase(const Packet& from, const std::byte* old_base) {
    // Every view of `from` points into the bytes starting at `old_base`, at the same offsets
    // as into bytes_.
    const auto move_view = [&](std::span<const std::byte> view) {
        return std::span<const std::byte>(bytes_.get() + (view.data() - old_base), view.size());
    };
    const auto move_text = [&](std::string_view text) {
        const auto moved = move_view(as_bytes(text));
        return std::string_view(reinterpret_cast<const char*>(moved.data()), moved.size());
    };
    packet_ = from;
    if (size_ == 0) {
        packet_.payload = {};
        packet_.hwheader = {};
        packet_.prefix = {};
        packet_.secctx = {};
        return;
    }
    packet_.payload = move_view(from.payload);
    packet_.hwheader = move_view(from.hwheader);
    packet_.prefix = move_text(from.prefix);
    packet_.secctx = move_text(from.secctx);
}

RetainedPacket::RetainedPacket(const RetainedPacket& other) : names_(other.names_) {
    copy_bytes(other.bytes_.get(), other.size_);
    rebase(other.packet_, other.bytes_.get());
}

RetainedPacket& RetainedPacket::operator=(const RetainedPacket& other) {
    if (this != &other) {
        copy_bytes(other.bytes_.get(), other.size_);
        names_ = other.names_;
        rebase(other.packet_, other.bytes_.get());
    }
    return *this;
}

// A moved buffer stays where it is, so the views stay valid; the source is left empty.
RetainedPacket::RetainedPacket(RetainedPacket&& other) noexcept
    : packet_(other.packet_), bytes_(std::move(other.bytes_)), size_(other.size_),
      names_(std::move(other.names_)) {
    other.packet_ = Packet{};
    other.size_ = 0;
}

RetainedPacket& RetainedPacket::operator=(RetainedPacket&& other) noexcept {
    if (this != &other) {
        packet_ = other.packet_;
        bytes_ = std::move(other.bytes_);
        size_ = other.size_;
        names_ = std::move(other.names_);
        other.packet_ = Packet{};
        other.size_ = 0;
    }
    return *this;
}

} // namespace nfcap
