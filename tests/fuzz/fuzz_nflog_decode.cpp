// libFuzzer target: decode_nflog on one NFLOG record (nfgenmsg + NFULA_* attributes, the packet
// data of a LINKTYPE_NFLOG file). Malformed input must end in DecodeError; a record that decodes
// must point only into its own bytes, encode in every link type and read back (output_checks).
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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nfcap::fuzz::require;
    const std::span<const std::byte> record(reinterpret_cast<const std::byte*>(data), size);
    nfcap::Packet packet;
    try {
        packet = nfcap::decode_nflog(record);
    } catch (const nfcap::DecodeError&) {
        return 0;
    }
    const std::span<const std::byte> prefix(
        reinterpret_cast<const std::byte*>(packet.prefix.data()), packet.prefix.size());
    require(inside(packet.payload, record) && inside(packet.hwheader, record) &&
                inside(prefix, record),
            "decoded NFLOG spans point outside the record");
    require(packet.original_length >= packet.payload.size(), "original length below the payload");
    require(!packet.hwaddr || packet.hwaddr->length <= 8, "hardware address longer than 8");
    require(packet.secctx.empty() && !packet.packet_id, "NFQUEUE fields set by the NFLOG decoder");
    nfcap::fuzz::check_encodings(packet, record, "nflog:" + std::to_string(packet.resource_id), {});
    return 0;
}
