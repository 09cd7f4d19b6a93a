#include <nfcap/byte_reader.hpp>

#include <cstring>

namespace nfcap {

void ByteReader::need(std::size_t n, const char* what) const {
    if (n > remaining()) {
        throw DecodeError(std::string("truncated ") + what + ": need " + std::to_string(n) +
                          " bytes at offset " + std::to_string(pos_) + ", have " +
                          std::to_string(remaining()));
    }
}

std::uint8_t ByteReader::u8() {
    need(1, "u8");
    return std::to_integer<std::uint8_t>(data_[pos_++]);
}

std::uint16_t ByteReader::be16() {
    need(2, "be16");
    auto v = static_cast<std::uint16_t>((std::to_integer<unsigned>(data_[pos_]) << 8U) |
                                        std::to_integer<unsigned>(data_[pos_ + 1]));
    pos_ += 2;
    return v;
}

std::uint32_t ByteReader::be32() {
    need(4, "be32");
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        v = (v << 8U) | std::to_integer<std::uint32_t>(data_[pos_ + i]);
    }
    pos_ += 4;
    return v;
}

std::uint64_t ByteReader::be64() {
    need(8, "be64");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        v = (v << 8U) | std::to_integer<std::uint64_t>(data_[pos_ + i]);
    }
    pos_ += 8;
    return v;
}

std::uint16_t ByteReader::host16() {
    need(2, "u16");
    std::uint16_t v = 0;
    std::memcpy(&v, data_.data() + pos_, sizeof v);
    pos_ += 2;
    return v;
}

std::uint32_t ByteReader::host32() {
    need(4, "u32");
    std::uint32_t v = 0;
    std::memcpy(&v, data_.data() + pos_, sizeof v);
    pos_ += 4;
    return v;
}

std::span<const std::byte> ByteReader::bytes(std::size_t n) {
    need(n, "field");
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
}

} // namespace nfcap
