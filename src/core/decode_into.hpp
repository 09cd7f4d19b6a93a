#pragma once
// The NFLOG and NFQUEUE decoders writing into a Packet the caller holds, for the Recorder's
// replay path: decode_nflog() returns its Packet by value, and a caller that keeps the Packet
// across a try block would copy it once more (about 250 bytes per record). Internal.
#include <nfcap/packet.hpp>

#include <cstdint>
#include <span>

namespace nfcap::detail {

// As decode_nflog and decode_nfqueue; `p` must be default-constructed. On DecodeError `p` holds
// part of the record and must not be used.
void decode_nflog_into(Packet& p, std::span<const std::byte> record, std::uint32_t original_length);
void decode_nfqueue_into(Packet& p, std::span<const std::byte> record,
                         std::uint32_t original_length);

} // namespace nfcap::detail
