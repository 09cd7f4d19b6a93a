#pragma once
// Internal to nfcap_core. The one bounds-checked reader for wire data. Every read that would run
// past the end throws DecodeError; nothing casts structs over untrusted bytes. The reads are
// inline: decoding a record makes a few dozen of them, and an out-of-line call each cost a third of
// replay's time.

#include <nfcap/packet.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

namespace nfcap {

class ByteReader {
  public:
    explicit ByteReader(std::span<const std::byte> data) : data_(data) {}

    std::size_t remaining() const { return data_.size() - pos_; }
    std::size_t position() const { return pos_; }
    bool empty() const { return remaining() == 0; }

    std::uint8_t u8() {
        need(1, "u8");
        return std::to_integer<std::uint8_t>(data_[pos_++]);
    }
    std::uint16_t be16() { return big_endian(take<std::uint16_t>("be16")); }
    std::uint32_t be32() { return big_endian(take<std::uint32_t>("be32")); }
    std::uint64_t be64() { return big_endian(take<std::uint64_t>("be64")); }
    // Netlink and LINKTYPE_NFLOG TLV headers are in host order.
    std::uint16_t host16() { return take<std::uint16_t>("u16"); }
    std::uint32_t host32() { return take<std::uint32_t>("u32"); }
    // Capture files are in their writer's byte order, which the file's magic number tells.
    std::uint16_t u16(std::endian order) { return in_order(take<std::uint16_t>("u16"), order); }
    std::uint32_t u32(std::endian order) { return in_order(take<std::uint32_t>("u32"), order); }
    std::uint64_t u64(std::endian order) { return in_order(take<std::uint64_t>("u64"), order); }
    std::span<const std::byte> bytes(std::size_t n) {
        need(n, "field");
        const auto s = data_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    void skip(std::size_t n) {
        need(n, "field");
        pos_ += n;
    }

  private:
    void need(std::size_t n, const char* what) const {
        if (n > remaining()) {
            truncated(n, what);
        }
    }
    [[noreturn]] void truncated(std::size_t n, const char* what) const;

    template <typename T> T take(const char* what) {
        need(sizeof(T), what);
        T v{};
        std::memcpy(&v, data_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    template <typename T> static T in_order(T v, std::endian order) {
        return order == std::endian::native ? v : swapped(v);
    }
    template <typename T> static T big_endian(T v) {
        if constexpr (std::endian::native == std::endian::big) {
            return v;
        } else {
            return swapped(v);
        }
    }
    template <typename T> static T swapped(T v) {
        if constexpr (sizeof(T) == 2) {
            return __builtin_bswap16(v);
        } else if constexpr (sizeof(T) == 4) {
            return __builtin_bswap32(v);
        } else {
            return __builtin_bswap64(v);
        }
    }

    std::span<const std::byte> data_;
    std::size_t pos_ = 0;
};

} // namespace nfcap
