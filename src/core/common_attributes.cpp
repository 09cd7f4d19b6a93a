// The conntrack adapter: the only file of nfcap_core that knows CTA_* numbers.

#include "common_attributes.hpp"
#include "byte_reader.hpp"

#include "attributes.hpp"

#include <linux/netfilter/nfnetlink_conntrack.h>

#include <algorithm>
#include <cstring>

namespace nfcap::detail {

void wrong_size(const char* name, std::size_t size, std::size_t expected) {
    throw DecodeError(std::string(name) + " is " + std::to_string(size) + " bytes, expected " +
                      std::to_string(expected));
}

void stray_bytes(std::size_t remaining, std::size_t offset) {
    throw DecodeError(std::to_string(remaining) +
                      " stray bytes after the last attribute at offset " + std::to_string(offset));
}

void short_attribute(std::uint16_t type, std::size_t offset, std::size_t length) {
    throw DecodeError("attribute type " + std::to_string(type) + " at offset " +
                      std::to_string(offset) + " has length " + std::to_string(length) +
                      ", less than its own header");
}

void attribute_past_end(std::uint16_t type, std::size_t offset, std::size_t length,
                        std::size_t left) {
    throw DecodeError("attribute type " + std::to_string(type) + " at offset " +
                      std::to_string(offset) + " has length " + std::to_string(length) +
                      " but only " + std::to_string(left) + " bytes are left in the record");
}

void bad_timestamp(std::span<const std::byte> value, const char* name) {
    ByteReader r = fixed(value, 16, name);
    r.skip(8);
    const std::uint64_t usec = r.be64();
    throw DecodeError(std::string(name) + " out of range (usec " + std::to_string(usec) + ")");
}

void bad_hwaddr(std::span<const std::byte> value, const char* name) {
    ByteReader r = fixed(value, 12, name);
    const std::uint16_t length = r.be16();
    throw DecodeError(std::string(name) + " length " + std::to_string(length) + " exceeds 8");
}

void decode_conntrack(std::span<const std::byte> value, Conntrack& ct) {
    for_each_attribute(value, [&ct](std::uint16_t type, std::span<const std::byte> v) {
        switch (type) {
        case CTA_STATUS:
            ct.status = be32_attr(v, "CTA_STATUS");
            break;
        case CTA_MARK:
            ct.mark = be32_attr(v, "CTA_MARK");
            break;
        case CTA_ID:
            ct.id = be32_attr(v, "CTA_ID");
            break;
        case CTA_ZONE:
            ct.zone = be16_attr(v, "CTA_ZONE");
            break;
        default:
            break; // tuples, timeouts, counters: not part of the record's metadata
        }
    });
}

Vlan decode_vlan(std::span<const std::byte> value) {
    constexpr std::uint16_t vlan_proto = 1; // NFULA_VLAN_PROTO, NFQA_VLAN_PROTO
    constexpr std::uint16_t vlan_tci = 2;   // NFULA_VLAN_TCI, NFQA_VLAN_TCI
    Vlan vlan;
    for_each_attribute(value, [&vlan](std::uint16_t type, std::span<const std::byte> v) {
        if (type == vlan_proto) {
            vlan.proto = be16_attr(v, "VLAN protocol");
        } else if (type == vlan_tci) {
            vlan.tci = be16_attr(v, "VLAN TCI");
        }
    });
    return vlan;
}

std::string_view nul_terminated(std::span<const std::byte> value) {
    const auto* chars = reinterpret_cast<const char*>(value.data()); // byte-to-char view
    return {chars, strnlen(chars, value.size())};
}

} // namespace nfcap::detail
