#pragma once
// Attribute values that NFLOG and NFQUEUE lay out the same way (timestamp, hardware address,
// conntrack, VLAN, strings). Internal to nfcap_core.

#include <nfcap/packet.hpp>

#include <cstdint>
#include <span>
#include <string_view>

namespace nfcap::detail {

// { __be64 sec; __be64 usec; } (nfulnl_msg_packet_timestamp, nfqnl_msg_packet_timestamp).
Timestamp decode_timestamp(std::span<const std::byte> value, const char* name);
// { __be16 hw_addrlen; __u16 pad; __u8 hw_addr[8]; } (nfulnl/nfqnl_msg_packet_hw).
HardwareAddress decode_hwaddr(std::span<const std::byte> value, const char* name);
// The nested CTA_* attributes nfcap keeps (status, mark, id, zone), merged into `ct`.
void decode_conntrack(std::span<const std::byte> value, Conntrack& ct);
// The nested VLAN attributes: protocol (type 1) and TCI (type 2) in both families.
Vlan decode_vlan(std::span<const std::byte> value);
// A string attribute up to its terminating NUL (or whole, when it has none).
std::string_view nul_terminated(std::span<const std::byte> value);

} // namespace nfcap::detail
