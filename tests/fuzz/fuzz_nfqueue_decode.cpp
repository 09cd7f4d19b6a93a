// libFuzzer target: decode_nfqueue and nfqueue_packet_id on one NFQUEUE packet message
// (nfgenmsg + NFQA_* attributes). Malformed input must end in DecodeError; when decode_nfqueue
// accepts a record, nfqueue_packet_id must accept it too and give the same id, and the packet
// must encode in every link type and read back (output_checks). The recorder's decoder, which
// reuses the decode of a record that repeats the last one, must give the record decoded a second
// time the same block as decode_nfqueue's Packet.
#include "output_checks.hpp"

#include <nfcap/nfqueue_decode.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace {

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nfcap::fuzz::require;
    const std::span<const std::byte> record(reinterpret_cast<const std::byte*>(data), size);
    std::optional<std::uint32_t> id;
    try {
        id = nfcap::nfqueue_packet_id(record);
    } catch (const nfcap::DecodeError&) {
    }
    nfcap::Packet packet;
    try {
        packet = nfcap::decode_nfqueue(record);
    } catch (const nfcap::DecodeError&) {
        return 0;
    }
    require(id.has_value(), "decode_nfqueue accepted a record nfqueue_packet_id refuses");
    require(packet.packet_id == id, "nfqueue_packet_id and decode_nfqueue disagree on the id");
    require(packet.has_packet_header, "NFQUEUE packet decoded without its packet header");
    const std::span<const std::byte> secctx(
        reinterpret_cast<const std::byte*>(packet.secctx.data()), packet.secctx.size());
    require(inside(packet.payload, record) && inside(packet.hwheader, record) &&
                inside(secctx, record),
            "decoded NFQUEUE spans point outside the record");
    require(packet.original_length >= packet.payload.size(), "original length below the payload");
    require(!packet.hwaddr || packet.hwaddr->length <= 8, "hardware address longer than 8");
    require(!packet.has_prefix && !packet.seq, "NFLOG fields set by the NFQUEUE decoder");
    nfcap::fuzz::check_encodings(packet, record, "nfqueue:" + std::to_string(packet.resource_id),
                                 "verdict=accept");
    nfcap::fuzz::check_repeated(nfcap::RecordKind::nfqueue, record,
                                static_cast<std::uint32_t>(record.size()), packet);
    return 0;
}
