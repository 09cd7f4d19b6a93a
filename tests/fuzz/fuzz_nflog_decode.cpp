// libFuzzer target: decode_nflog on one NFLOG record (nfgenmsg + NFULA_* attributes, the packet
// data of a LINKTYPE_NFLOG file). Malformed input must end in DecodeError; a record that decodes
// must point only into its own bytes, encode in every link type and read back (output_checks).
// Each input is also decoded as a recording that cut it to two thirds (decode_nflog with the
// whole length as the original): truncated, the same checks, or DecodeError. The recorder's
// decoder, which reuses the decode of a record that repeats the last one, must give the record
// decoded a second time the same block as decode_nflog's Packet.
#include "output_checks.hpp"

#include <nfcap/nflog_decode.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace {

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

// Decodes `record` (as a recording that cut it from `original` bytes when `original` is larger)
// and checks what decodes.
void check(std::span<const std::byte> record, std::uint32_t original) {
    using nfcap::fuzz::require;
    nfcap::Packet packet;
    try {
        packet = nfcap::decode_nflog(record, original);
    } catch (const nfcap::DecodeError&) {
        return;
    }
    const std::span<const std::byte> prefix(
        reinterpret_cast<const std::byte*>(packet.prefix.data()), packet.prefix.size());
    require(inside(packet.payload, record) && inside(packet.hwheader, record) &&
                inside(prefix, record),
            "decoded NFLOG spans point outside the record");
    require(packet.original_length >= packet.payload.size(), "original length below the payload");
    require(!packet.hwaddr || packet.hwaddr->length <= 8, "hardware address longer than 8");
    require(packet.secctx.empty() && !packet.packet_id, "NFQUEUE fields set by the NFLOG decoder");
    require(packet.cut.has_value() == (original > record.size()) &&
                (!packet.cut ||
                 (packet.cut->captured == record.size() && packet.cut->original == original)),
            "the record's cut is not reported as given");
    nfcap::fuzz::check_encodings(packet, record, "nflog:" + std::to_string(packet.resource_id), {});
    nfcap::fuzz::check_repeated(nfcap::RecordKind::nflog, record, original, packet);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> record(reinterpret_cast<const std::byte*>(data), size);
    const auto original = static_cast<std::uint32_t>(size);
    check(record, original);
    // The same record as a recording that kept two thirds of it: truncated, or malformed.
    check(record.first(size - size / 3), original);
    return 0;
}
