#pragma once
// NFQUEUE packet decoder: pure, no I/O.

#include <nfcap/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nfcap {

// Decodes one NFQUEUE packet message: the 4-byte nfgenmsg header followed by NFQA_*
// attributes (the payload of an NFQNL_MSG_PACKET netlink message). The family comes from the
// nfgenmsg (the hook's protocol family), never assumed: IPv6 stays IPv6. The original length is
// NFQA_CAP_LEN when the kernel cut the payload, else the payload's size. Unknown attributes are
// skipped; known ones are size-checked. Throws DecodeError. The Packet points into `record`.
// `original_length`: the record's length before a recording cut it, as for decode_nflog.
Packet decode_nfqueue(std::span<const std::byte> record, std::uint32_t original_length = 0);

// The packet id of an NFQUEUE packet message, reading nothing else: what the verdict path needs
// before the record is handed on. Throws DecodeError when there is no valid packet header.
std::uint32_t nfqueue_packet_id(std::span<const std::byte> record);

// The packet id and mark of an NFQUEUE packet message, reading nothing else: what a verdict
// that sets a mark from the packet's own needs. Throws DecodeError as nfqueue_packet_id does.
struct PacketIdAndMark {
    std::uint32_t id = 0;
    std::optional<std::uint32_t> mark;
};
PacketIdAndMark nfqueue_packet_id_and_mark(std::span<const std::byte> record);

} // namespace nfcap
