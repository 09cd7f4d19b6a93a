#pragma once
// Walking netlink attributes (struct nlattr: u16 length, u16 type, value, padding to 4 bytes)
// over a bounds-checked reader. Internal to nfcap_core; shared by the NFLOG and NFQUEUE decoders.

#include <nfcap/byte_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace nfcap::detail {

// Netlink attribute headers carry two flag bits above the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
inline constexpr std::uint16_t attribute_type_mask = 0x3fff;
inline constexpr std::size_t attribute_header_size = 4;

// Calls visit(type, value) for every attribute in `data`. `value` is the attribute's wire
// length minus its header; the padding that follows (the aligned stride) is skipped but never
// handed on. A final attribute whose padding is missing is accepted (some writers drop it).
template <typename Visit> void for_each_attribute(std::span<const std::byte> data, Visit&& visit) {
    ByteReader reader(data);
    while (!reader.empty()) {
        const std::size_t offset = reader.position();
        if (reader.remaining() < attribute_header_size) {
            throw DecodeError(std::to_string(reader.remaining()) +
                              " stray bytes after the last attribute at offset " +
                              std::to_string(offset));
        }
        const std::uint16_t wire_length = reader.host16();
        const auto type = static_cast<std::uint16_t>(reader.host16() & attribute_type_mask);
        if (wire_length < attribute_header_size) {
            throw DecodeError("attribute type " + std::to_string(type) + " at offset " +
                              std::to_string(offset) + " has length " +
                              std::to_string(wire_length) + ", less than its own header");
        }
        const std::size_t value_length = wire_length - attribute_header_size;
        if (value_length > reader.remaining()) {
            throw DecodeError("attribute type " + std::to_string(type) + " at offset " +
                              std::to_string(offset) + " has length " +
                              std::to_string(wire_length) + " but only " +
                              std::to_string(reader.remaining() + attribute_header_size) +
                              " bytes are left in the record");
        }
        visit(type, reader.bytes(value_length));
        const std::size_t stride = (wire_length + 3U) & ~std::size_t{3};
        const std::size_t padding = stride - wire_length;
        reader.skip(padding < reader.remaining() ? padding : reader.remaining());
    }
}

// Where a cut falls in the attributes of a record that a recording cut short: `whole` bytes of
// whole attributes at the front, then (when its header is whole) the attribute the cut falls in
// with the part of its value that is there. An attribute whose own header is impossible ends
// the search too, so that the strict walk over the whole part reports it as malformed.
struct CutAttribute {
    std::size_t whole = 0;
    std::optional<std::uint16_t> type;
    std::span<const std::byte> partial;
};

inline CutAttribute find_cut(std::span<const std::byte> data) {
    CutAttribute cut;
    ByteReader reader(data);
    while (reader.remaining() >= attribute_header_size) {
        const std::size_t offset = reader.position();
        const std::uint16_t wire_length = reader.host16();
        const auto type = static_cast<std::uint16_t>(reader.host16() & attribute_type_mask);
        if (wire_length < attribute_header_size) {
            cut.whole = data.size();
            return cut;
        }
        const std::size_t value_length = wire_length - attribute_header_size;
        if (value_length > reader.remaining()) {
            cut.whole = offset;
            cut.type = type;
            cut.partial = reader.bytes(reader.remaining());
            return cut;
        }
        reader.skip(value_length);
        const std::size_t padding = ((wire_length + 3U) & ~std::size_t{3}) - wire_length;
        reader.skip(padding < reader.remaining() ? padding : reader.remaining());
    }
    cut.whole = reader.position(); // the cut falls inside an attribute header
    return cut;
}

// Reads a fixed-size attribute value, refusing one of the wrong size.
inline ByteReader fixed(std::span<const std::byte> value, std::size_t size, const char* name) {
    if (value.size() < size) {
        throw DecodeError(std::string(name) + " is " + std::to_string(value.size()) +
                          " bytes, expected " + std::to_string(size));
    }
    return ByteReader(value);
}

inline std::uint32_t be32_attr(std::span<const std::byte> value, const char* name) {
    return fixed(value, 4, name).be32();
}

inline std::uint16_t be16_attr(std::span<const std::byte> value, const char* name) {
    return fixed(value, 2, name).be16();
}

} // namespace nfcap::detail
