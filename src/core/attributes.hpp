#pragma once
// Walking netlink attributes (struct nlattr: u16 length, u16 type, value, padding to 4 bytes)
// over a bounds-checked reader. Internal to nfcap_core; shared by the NFLOG and NFQUEUE decoders.

#include "byte_reader.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
// The errors for_each_attribute reports, out of line: the walk itself stays small.
[[noreturn]] void stray_bytes(std::size_t remaining, std::size_t offset);
[[noreturn]] void short_attribute(std::uint16_t type, std::size_t offset, std::size_t length);
[[noreturn]] void attribute_past_end(std::uint16_t type, std::size_t offset, std::size_t length,
                                     std::size_t left);

// Calls visit(type, value) for every attribute in `data`. `value` is the attribute's wire
// length minus its header; the padding that follows (the aligned stride) is skipped but never
// handed on. A final attribute whose padding is missing is accepted (some writers drop it).
// Every record written goes through here once per attribute: plain pointer arithmetic, one
// load per header and one branch for a bad length (the error is worked out again out of line).
template <typename Visit> void for_each_attribute(std::span<const std::byte> data, Visit&& visit) {
    const std::byte* const begin = data.data();
    const std::byte* at = begin;
    const std::byte* const end = begin + data.size();
    while (static_cast<std::size_t>(end - at) >= attribute_header_size) {
        const auto left = static_cast<std::size_t>(end - at);
        std::uint16_t wire_length = 0;
        std::uint16_t type = 0;
        std::memcpy(&wire_length, at, sizeof wire_length); // host order (netlink)
        std::memcpy(&type, at + 2, sizeof type);
        type &= attribute_type_mask;
        if (wire_length < attribute_header_size || wire_length > left) [[unlikely]] {
            const auto offset = static_cast<std::size_t>(at - begin);
            if (wire_length < attribute_header_size) {
                short_attribute(type, offset, wire_length);
            }
            attribute_past_end(type, offset, wire_length, left);
        }
        visit(type, std::span<const std::byte>(at + attribute_header_size,
                                               wire_length - attribute_header_size));
        const std::size_t stride = (std::size_t{wire_length} + 3U) & ~std::size_t{3};
        at += stride < left ? stride : left;
    }
    if (at != end) [[unlikely]] {
        stray_bytes(static_cast<std::size_t>(end - at), static_cast<std::size_t>(at - begin));
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

[[noreturn]] void wrong_size(const char* name, std::size_t size, std::size_t expected);

// Reads a fixed-size attribute value, refusing one of the wrong size.
inline ByteReader fixed(std::span<const std::byte> value, std::size_t size, const char* name) {
    if (value.size() < size) {
        wrong_size(name, value.size(), size);
    }
    return ByteReader(value);
}

// A big-endian value of 2, 4 or 8 bytes at `at`, which the caller has bounds-checked.
template <typename T> T load_big_endian(const std::byte* at) {
    T v = 0;
    std::memcpy(&v, at, sizeof v);
    if constexpr (std::endian::native == std::endian::little) {
        if constexpr (sizeof(T) == 8) {
            v = __builtin_bswap64(v);
        } else if constexpr (sizeof(T) == 4) {
            v = __builtin_bswap32(v);
        } else {
            v = __builtin_bswap16(v);
        }
    }
    return v;
}

// The two most common attribute values (indices, marks, sequence numbers, types): one size
// check and one load each, the error out of line.
template <typename T> T big_endian_attr(std::span<const std::byte> value, const char* name) {
    if (value.size() < sizeof(T)) {
        wrong_size(name, value.size(), sizeof(T));
    }
    return load_big_endian<T>(value.data());
}

inline std::uint32_t be32_attr(std::span<const std::byte> value, const char* name) {
    return big_endian_attr<std::uint32_t>(value, name);
}

inline std::uint16_t be16_attr(std::span<const std::byte> value, const char* name) {
    return big_endian_attr<std::uint16_t>(value, name);
}

} // namespace nfcap::detail
