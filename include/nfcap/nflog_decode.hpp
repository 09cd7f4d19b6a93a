#pragma once
// NFLOG record decoder: pure, no I/O.

#include <nfcap/packet.hpp>

#include <cstddef>
#include <span>

namespace nfcap {

// Decodes one NFLOG record: the 4-byte nfgenmsg header followed by NFULA_* attributes. That is
// the payload of an NFULNL_MSG_PACKET netlink message, and also exactly one LINKTYPE_NFLOG
// record in a pcap file (attribute headers in host order, values in network order).
// Unknown attributes are skipped; known ones are size-checked. Throws DecodeError naming the
// attribute when the record is malformed. The returned Packet points into `record`.
//
// `original_length` is the record's length before a recording cut it (replay); when it exceeds
// record.size(), the record is truncated, not malformed: the attributes that are whole are
// decoded, a cut NFULA_PAYLOAD is kept as far as it goes, and Packet::cut says so. A record
// cut inside its 4-byte header, or with an impossible attribute before the cut, still throws.
Packet decode_nflog(std::span<const std::byte> record, std::uint32_t original_length = 0);

// The length the network-layer packet had before a copy range cut it, read from the IPv4 or
// IPv6 header when the payload is IP; otherwise the payload's own size. NFLOG carries no
// original-length attribute, so this is the only way to show truncation.
std::uint32_t network_length(std::uint16_t hw_protocol, Family family,
                             std::span<const std::byte> payload);

} // namespace nfcap
