#pragma once
// The one bounds-checked reader for wire data. Every read that would run past the end throws
// DecodeError; nothing casts structs over untrusted bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace nfcap {

// A record (netlink message, TLV, file record) that does not follow its format.
class DecodeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class ByteReader {
  public:
    explicit ByteReader(std::span<const std::byte> data) : data_(data) {}

    std::size_t remaining() const { return data_.size() - pos_; }
    std::size_t position() const { return pos_; }
    bool empty() const { return remaining() == 0; }

    std::uint8_t u8();
    std::uint16_t be16();
    std::uint32_t be32();
    std::uint64_t be64();
    std::uint16_t host16(); // netlink and LINKTYPE_NFLOG TLV headers are in host order
    std::uint32_t host32();
    std::span<const std::byte> bytes(std::size_t n);
    void skip(std::size_t n) { (void)bytes(n); }

  private:
    void need(std::size_t n, const char* what) const;
    std::span<const std::byte> data_;
    std::size_t pos_ = 0;
};

} // namespace nfcap
