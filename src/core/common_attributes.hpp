#pragma once
// Attribute values that NFLOG and NFQUEUE lay out the same way (timestamp, hardware address,
// conntrack, VLAN, strings). Internal to nfcap_core.

#include "attributes.hpp"

#include <nfcap/packet.hpp>

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace nfcap::detail {

// Why a value cannot be decoded, out of line: the decoders below are inline, once per record.
[[noreturn, gnu::cold]] void bad_timestamp(std::span<const std::byte> value, const char* name);
[[noreturn, gnu::cold]] void bad_hwaddr(std::span<const std::byte> value, const char* name);

// { __be64 sec; __be64 usec; } (nfulnl_msg_packet_timestamp, nfqnl_msg_packet_timestamp).
inline Timestamp decode_timestamp(std::span<const std::byte> value, const char* name) {
    std::uint64_t sec = 0;
    std::uint64_t usec = 0;
    if (value.size() >= 16) {
        sec = load_big_endian<std::uint64_t>(value.data());
        usec = load_big_endian<std::uint64_t>(value.data() + 8);
    }
    if (value.size() < 16 || usec >= 1'000'000 || sec > static_cast<std::uint64_t>(INT64_MAX)) {
        bad_timestamp(value, name);
    }
    return Timestamp{static_cast<std::int64_t>(sec), static_cast<std::uint32_t>(usec * 1000)};
}

// { __be16 hw_addrlen; __u16 pad; __u8 hw_addr[8]; } (nfulnl/nfqnl_msg_packet_hw).
inline HardwareAddress decode_hwaddr(std::span<const std::byte> value, const char* name) {
    std::uint16_t length = 0;
    if (value.size() >= 12) {
        length = load_big_endian<std::uint16_t>(value.data());
    }
    if (value.size() < 12 || length > 8) {
        bad_hwaddr(value, name);
    }
    HardwareAddress address;
    address.length = static_cast<std::uint8_t>(length);
    std::memcpy(address.bytes.data(), value.data() + 4, address.bytes.size());
    return address;
}
// The nested CTA_* attributes nfcap keeps (status, mark, id, zone), merged into `ct`.
void decode_conntrack(std::span<const std::byte> value, Conntrack& ct);
// The nested VLAN attributes: protocol (type 1) and TCI (type 2) in both families.
Vlan decode_vlan(std::span<const std::byte> value);
// A string attribute up to its terminating NUL (or whole, when it has none).
std::string_view nul_terminated(std::span<const std::byte> value);

} // namespace nfcap::detail
